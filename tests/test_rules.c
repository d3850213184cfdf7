/* Lifecycle rules (select.leak_at_stop, init_ack.missing, cb.flush_stuck,
 * cb.busy_stuck, mem.leak suspects, thread.leak_at_finish) and the
 * suppression file. Each rule runs on a small static driver with the defect
 * (g_bad = 1) and on its fixed twin (g_bad = 0). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

/* Misuse on purpose (mem.bad_free); gcc sees it through the attributes. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#endif

static int g_bad;
static ErlDrvPort g_port;
static int g_fds[2] = {-1, -1};
static void *g_block;
static ErlDrvMutex *g_mu;

enum { USE_SELECT = 1, USE_BLOCK = 2, USE_MUTEX = 4 };
static int g_uses;

static ErlDrvData lstart(ErlDrvPort port, char *cmd) {
  (void)cmd;
  g_port = port;
  if (g_uses & USE_SELECT) {
    if (pipe(g_fds) != 0)
      return ERL_DRV_ERROR_GENERAL;
    fcntl(g_fds[0], F_SETFL, O_NONBLOCK);
    driver_select(port, (ErlDrvEvent)(intptr_t)g_fds[0],
                  ERL_DRV_READ | ERL_DRV_USE, 1);
  }
  if (g_uses & USE_BLOCK)
    g_block = driver_alloc(24);
  if (g_uses & USE_MUTEX)
    g_mu = erl_drv_mutex_create("rul_state");
  return (ErlDrvData)port;
}

static void lstop(ErlDrvData d) {
  (void)d;
  if ((g_uses & USE_SELECT) && !g_bad)
    driver_select(g_port, (ErlDrvEvent)(intptr_t)g_fds[0],
                  ERL_DRV_READ | ERL_DRV_USE, 0);
  if ((g_uses & USE_MUTEX) && !g_bad)
    erl_drv_mutex_destroy(g_mu);
}

static void lstop_select(ErlDrvEvent ev, void *reserved) {
  (void)reserved;
  close((int)(intptr_t)ev);
  close(g_fds[1]);
}

static void lfinish(void) {
  /* Freed in finish: not a leak (only a suspect at stop). */
  if ((g_uses & USE_BLOCK) && !g_bad)
    driver_free(g_block);
}

static void ltimeout(ErlDrvData d) {
  (void)d;
  set_busy_port(g_port, 0);
}

static void loutput(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  (void)d;
  if (len == 0)
    return;
  switch (buf[0]) {
  case 'q':
    driver_enq(g_port, "0123456789", 10);
    break;
  case 'b':
    set_busy_port(g_port, 1);
    if (!g_bad) /* the fixed twin clears it later */
      driver_set_timer(g_port, 10);
    break;
  case 'a':
    erl_drv_init_ack(g_port, (ErlDrvData)g_port);
    break;
  }
}

static void lflush(ErlDrvData d) {
  (void)d;
  if (!g_bad) /* the fixed twin drains (e.g. writes it out) */
    driver_deq(g_port, driver_sizeq(g_port));
}

static ErlDrvEntry lentry;

static ErlDrvEntry *linit(void) { return &lentry; }

static dc__port *start(int uses, int bad, int flags) {
  g_uses = uses;
  g_bad = bad;
  lentry = (ErlDrvEntry){
      .driver_name = "rul_life",
      .start = lstart,
      .stop = lstop,
      .output = loutput,
      .finish = lfinish,
      .timeout = ltimeout,
      .flush = lflush,
      .stop_select = lstop_select,
      .extended_marker = ERL_DRV_EXTENDED_MARKER,
      .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
      .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
      .driver_flags = flags,
  };
  dc_test_load_static(linit);
  return dc_test_open_port("rul_life", 0, dc__proc_spawn("owner"));
}

static void send_cmd(dc__port *p, const char *s) {
  SysIOVec v = {(char *)s, strlen(s)};
  dc__port_command(p, p->owner, &v, 1, 0);
}

static size_t nfindings(void) {
  size_t n = 0;
  dc__findings(&n);
  return n;
}

static const dc__finding *find(dc_rule r) {
  size_t n = 0;
  const dc__finding *f = dc__findings(&n);
  for (size_t i = 0; i < n; i++)
    if (f[i].rule == r)
      return &f[i];
  return NULL;
}

/* ---- select.leak_at_stop ------------------------------------------- */

DC_TEST(select_leak_at_stop_fires_once) {
  dc__port *p = start(USE_SELECT, 1, 0);
  dc__port_exit(p, "normal", 0);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_SELECT_LEAK_AT_STOP), 1);
  const dc__finding *f = find(DC_RULE_SELECT_LEAK_AT_STOP);
  DC_ASSERT_EQ(f->count, 1);
  DC_ASSERT_STREQ(f->callback, "stop");
  DC_ASSERT(strstr(f->message, "read") != NULL);
}

DC_TEST(select_deselected_in_stop_is_clean) {
  dc__port *p = start(USE_SELECT, 0, 0);
  dc__port_exit(p, "normal", 0);
  dc__unload_driver();
  DC_ASSERT_EQ(nfindings(), 0);
}

/* ---- init_ack.missing ---------------------------------------------- */

DC_TEST(init_ack_missing_fires_at_unload) {
  start(0, 1, ERL_DRV_FLAG_USE_INIT_ACK);
  dc__unload_driver();
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_INIT_ACK_MISSING), 1);
  DC_ASSERT_EQ(nfindings(), 1);
}

DC_TEST(init_ack_given_is_clean) {
  dc__port *p = start(0, 0, ERL_DRV_FLAG_USE_INIT_ACK);
  send_cmd(p, "a");
  dc__unload_driver();
  DC_ASSERT_EQ(nfindings(), 0);
}

/* ---- cb.flush_stuck ------------------------------------------------ */

DC_TEST(flush_that_never_drains_fires_and_unload_proceeds) {
  dc__port *p = start(0, 1, 0);
  send_cmd(p, "q");
  dc__port_exit(p, "normal", 0);
  DC_ASSERT_EQ(p->state, DC__PORT_CLOSING);
  DC_ASSERT_EQ(dc__unload_driver(), 0);
  DC_ASSERT_EQ(p->state, DC__PORT_DEAD); /* terminated so unload proceeds */
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_CB_FLUSH_STUCK), 1);
  DC_ASSERT_EQ(nfindings(), 1);
}

DC_TEST(flush_that_drains_is_clean) {
  dc__port *p = start(0, 0, 0);
  send_cmd(p, "q");
  dc__port_exit(p, "normal", 0);
  DC_ASSERT_EQ(p->state, DC__PORT_DEAD);
  dc__unload_driver();
  DC_ASSERT_EQ(nfindings(), 0);
}

/* ---- cb.busy_stuck ------------------------------------------------- */

DC_TEST(busy_with_nothing_pending_fires) {
  dc__port *p = start(0, 1, 0);
  send_cmd(p, "b");
  dc__unload_driver();
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_CB_BUSY_STUCK), 1);
  DC_ASSERT_EQ(nfindings(), 1);
  (void)p;
}

DC_TEST(busy_with_timer_armed_is_clean) {
  dc__port *p = start(0, 0, 0);
  send_cmd(p, "b");
  dc__unload_driver();
  DC_ASSERT_EQ(nfindings(), 0);
  (void)p;
}

/* Soft-busy ports still take forced commands: Erlang could clear it. */
DC_TEST(busy_soft_busy_driver_is_not_certain) {
  start(0, 1, ERL_DRV_FLAG_SOFT_BUSY);
  send_cmd(dc__port_next_live(0), "b");
  dc__unload_driver();
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_CB_BUSY_STUCK), 0);
}

/* ---- mem.leak per port --------------------------------------------- */

DC_TEST(block_freed_in_finish_is_clean) {
  dc__port *p = start(USE_BLOCK, 0, 0);
  dc__port_exit(p, "normal", 0); /* stop does not free: only a suspect */
  dc__unload_driver();
  DC_ASSERT_EQ(nfindings(), 0);
}

DC_TEST(block_never_freed_names_the_port_suspect) {
  dc__port *p = start(USE_BLOCK, 1, 0);
  dc__port_exit(p, "normal", 0);
  DC_ASSERT_EQ(nfindings(), 0); /* nothing at stop */
  dc__unload_driver();
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_MEM_LEAK), 1);
  const dc__finding *f = find(DC_RULE_MEM_LEAK);
  DC_ASSERT(strstr(f->message, "suspects") != NULL);
  DC_ASSERT(strstr(f->message, "#Port<0.0> 24 bytes") != NULL);
}

/* ---- thread.leak_at_finish ----------------------------------------- */

DC_TEST(mutex_not_destroyed_fires_at_unload) {
  dc__port *p = start(USE_MUTEX, 1, 0);
  dc__port_exit(p, "normal", 0);
  dc__unload_driver();
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_LEAK_AT_FINISH), 1);
  DC_ASSERT_EQ(nfindings(), 1);
}

DC_TEST(mutex_destroyed_in_stop_is_clean) {
  dc__port *p = start(USE_MUTEX, 0, 0);
  dc__port_exit(p, "normal", 0);
  dc__unload_driver();
  DC_ASSERT_EQ(nfindings(), 0);
}

/* ---- disabling and suppression ------------------------------------- */

static const char *write_file(const char *text) {
  static char path[64];
  snprintf(path, sizeof path, "/tmp/dc_supp_%d.txt", (int)getpid());
  FILE *f = fopen(path, "w");
  if (!f)
    DC_FAIL("cannot write %s", path);
  fputs(text, f);
  fclose(f);
  return path;
}

DC_TEST(disabled_rule_is_not_recorded) {
  dc__rule_set_enabled(DC_RULE_CB_BUSY_STUCK, 0);
  start(0, 1, 0);
  send_cmd(dc__port_next_live(0), "b");
  dc__unload_driver();
  DC_ASSERT_EQ(nfindings(), 0);
}

DC_TEST(suppressed_finding_is_counted_not_reported) {
  char err[256] = "";
  const char *path = write_file("# known issues\n\n"
                                "cb.busy_stuck unload # fixed in 2.0\n");
  DC_ASSERT_EQ(dc__suppress_load(path, err, sizeof err), 0);
  start(0, 1, 0);
  send_cmd(dc__port_next_live(0), "b");
  dc__unload_driver();
  unlink(path);
  DC_ASSERT_EQ(nfindings(), 0);
  DC_ASSERT_EQ(dc__suppressed_count(), 1);
}

DC_TEST(suppression_by_location_substring_only_matches_it) {
  char err[256] = "";
  const char *path = write_file("mem.bad_free no_such_function # other site\n");
  DC_ASSERT_EQ(dc__suppress_load(path, err, sizeof err), 0);
  unlink(path);
  dc__emu_reset(1);
  dc__findings_reset();
  int x;
  driver_free(&x);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_MEM_BAD_FREE), 1);
  DC_ASSERT_EQ(dc__suppressed_count(), 0);
}

DC_TEST(suppression_without_reason_is_an_error) {
  char err[256] = "";
  const char *path = write_file("cb.busy_stuck\nmem.leak # ok\n");
  DC_ASSERT_EQ(dc__suppress_load(path, err, sizeof err), DC_EPARSE);
  unlink(path);
  char want[128];
  snprintf(want, sizeof want, "%s:1: suppression needs a reason after '#'",
           path);
  DC_ASSERT_STREQ(err, want);
}

DC_TEST(suppression_with_empty_reason_is_an_error) {
  char err[256] = "";
  const char *path = write_file("mem.leak #   \n");
  DC_ASSERT_EQ(dc__suppress_load(path, err, sizeof err), DC_EPARSE);
  unlink(path);
  DC_ASSERT(strstr(err, ":1: suppression needs a reason") != NULL);
}

DC_TEST(suppression_of_unknown_rule_names_it) {
  char err[256] = "";
  const char *path = write_file("mem.leak # fine\nno.such_rule # why\n");
  DC_ASSERT_EQ(dc__suppress_load(path, err, sizeof err), DC_EPARSE);
  unlink(path);
  DC_ASSERT(strstr(err, ":2: unknown rule 'no.such_rule'") != NULL);
  /* A bad file adds nothing, not even its good lines. */
  dc__emu_reset(1);
  dc__findings_reset();
  dc__report_ctx c = {"unload", -1, "", NULL, NULL};
  dc__report(DC_RULE_MEM_LEAK, &c, "x");
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_MEM_LEAK), 1);
}

DC_TEST(missing_suppression_file_is_an_error) {
  char err[256] = "";
  DC_ASSERT_EQ(dc__suppress_load("/nonexistent/supp", err, sizeof err),
               DC_ENOENT);
  DC_ASSERT(strstr(err, "/nonexistent/supp") != NULL);
}
