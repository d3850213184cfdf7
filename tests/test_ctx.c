/* Calling-context rules at the erl_driver entry points: ctx.thread_unsafe_api,
 * ctx.api_in_stop_select, ctx.dead_port, ctx.foreign_port and cb.lengthy.
 * Each misuse must give exactly one finding of its rule and the matching
 * legal use none. The thread-safety classes are those of protocol.md §1
 * (OTP's erl_driver docs: "functions not explicitly documented as
 * thread-safe are not thread safe"); stop_select's "no driver API function
 * may be called" is driver_entry's stop_select clause; port-level locking
 * and driver_create_port are protocol.md §3.15. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report/internal.h"
#include "sequencer/internal.h"
#include "support.h"

#define EV(fd) ((ErlDrvEvent)(intptr_t)(fd))

/* Control commands of the test driver. */
enum {
  C_ASYNC_OUTPUT = 1, /* async_invoke calls driver_output */
  C_ASYNC_SEND_TERM,  /* async_invoke uses erl_drv_send_term + alloc/free */
  C_THREAD_PDL_ENQ,   /* driver thread: driver_pdl_lock + driver_enq */
  C_THREAD_OUTPUT,    /* driver thread: driver_output */
  C_SELECT_PIPE,      /* select a pipe's read end with ERL_DRV_USE */
  C_DESELECT_PIPE,    /* deselect it with ERL_DRV_USE (-> stop_select) */
  C_OUTPUT_STALE,     /* driver_output on the remembered stale handle */
  C_OUTPUT_OTHER,     /* driver_output on the other open port */
  C_CREATE_AND_USE,   /* driver_create_port, then use the new port */
  C_USE_CREATED,      /* use the port created by an earlier callback */
  C_FAIL_SELF,        /* driver_failure_atom on its own port */
  C_SPIN,             /* burn 20 ms of CPU */
  C_SPIN_REPORTED     /* the same, reporting 100% every 0.5 ms */
};

static struct {
  ErlDrvPort ports[4]; /* by open order */
  int nports;
  ErlDrvPort stale;   /* handle of a port that has stopped */
  ErlDrvPort created; /* made by driver_create_port */
  int pipe[2];
  int ss_call;      /* stop_select: 1 driver_free, 2 driver_select */
  void *ss_block;   /* freed (wrongly) in stop_select */
  int stop_outputs; /* stop sends a goodbye with driver_output */
  ErlDrvPDL pdl;
} st = {.pipe = {-1, -1}};

static ErlDrvTermData owner;

static ErlDrvData t_start(ErlDrvPort port, char *cmd) {
  (void)cmd;
  if (st.nports < 4)
    st.ports[st.nports++] = port;
  return (ErlDrvData)port;
}

static void t_stop(ErlDrvData d) {
  if (st.stop_outputs)
    driver_output((ErlDrvPort)d, "bye", 3);
}

static void t_stop_select(ErlDrvEvent ev, void *reserved) {
  (void)reserved;
  if (st.ss_call == 1)
    driver_free(st.ss_block);
  else if (st.ss_call == 2)
    driver_select(st.ports[0], ev, ERL_DRV_READ, 0);
  close((int)(intptr_t)ev);
}

/* ---- async and driver-thread work ---- */

typedef struct job {
  ErlDrvPort port;
  ErlDrvTermData port_term, to, atom;
  int kind;
} job;

static void job_invoke(void *arg) {
  job *j = arg;
  if (j->kind == C_ASYNC_OUTPUT) {
    driver_output(j->port, "done", 4);
    return;
  }
  /* The thread-safe way to talk to Erlang from an async job. */
  char *scratch = driver_alloc(32);
  ErlDrvBinary *b = driver_alloc_binary(8);
  ErlDrvTermData spec[] = {ERL_DRV_PORT, j->port_term,  ERL_DRV_ATOM,
                           j->atom,      ERL_DRV_TUPLE, 2};
  erl_drv_send_term(j->port_term, j->to, spec, 6);
  driver_free_binary(b);
  driver_free(scratch);
}

static void job_free(void *arg) { driver_free(arg); }

static void start_job(ErlDrvPort port, int kind) {
  job *j = driver_alloc(sizeof *j);
  j->port = port;
  j->kind = kind;
  j->port_term = driver_mk_port(port);
  j->to = driver_connected(port);
  j->atom = driver_mk_atom("done");
  driver_async(port, NULL, job_invoke, j, job_free);
}

static void *thread_main(void *arg) {
  job *j = arg;
  if (j->kind == C_THREAD_OUTPUT) {
    driver_output(j->port, "t", 1);
    return NULL;
  }
  char *tmp = driver_alloc(4);
  memcpy(tmp, "abcd", 4);
  driver_pdl_lock(st.pdl);
  driver_enq(j->port, tmp, 4);
  driver_pdl_unlock(st.pdl);
  driver_free(tmp);
  return NULL;
}

static void run_thread(ErlDrvPort port, int kind) {
  job j = {port, 0, 0, 0, kind};
  ErlDrvTid tid;
  if (kind == C_THREAD_PDL_ENQ)
    st.pdl = driver_pdl_create(port);
  if (erl_drv_thread_create("ctx_worker", &tid, thread_main, &j, NULL) == 0)
    erl_drv_thread_join(tid, NULL);
  if (kind == C_THREAD_PDL_ENQ) { /* drain under the lock: no queue left */
    driver_pdl_lock(st.pdl);
    driver_deq(port, driver_sizeq(port));
    driver_pdl_unlock(st.pdl);
  }
}

/* ---- CPU burning ---- */

static long cpu_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (long)ts.tv_sec * 1000000L + ts.tv_nsec / 1000L;
}

/* Under TSan the harness divides a callback's CPU time by TSan's typical
 * slowdown (10, harness/src/core/ctx.c), since instrumented work runs that
 * much slower. This spin is timed, not counted, so it burns 10x the CPU
 * there: the same 20 ms of plain-build work. */
#if defined(__SANITIZE_THREAD__)
#define SPIN_SCALE 10
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SPIN_SCALE 10
#endif
#endif
#ifndef SPIN_SCALE
#define SPIN_SCALE 1
#endif

static void spin(ErlDrvPort port, int report) {
  long t0 = cpu_us(), last = t0, now;
  while ((now = cpu_us()) - t0 < 20000L * SPIN_SCALE)
    if (report && now - last >= 500) {
      erl_drv_consume_timeslice(port, 100);
      last = now;
    }
}

static ErlDrvSSizeT t_control(ErlDrvData d, unsigned int cmd, char *buf,
                              ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  ErlDrvPort port = (ErlDrvPort)d;
  ErlDrvPort other = st.ports[0] == port ? st.ports[1] : st.ports[0];
  (void)buf, (void)len, (void)rbuf, (void)rlen;
  switch (cmd) {
  case C_ASYNC_OUTPUT:
  case C_ASYNC_SEND_TERM:
    start_job(port, (int)cmd);
    break;
  case C_THREAD_PDL_ENQ:
  case C_THREAD_OUTPUT:
    run_thread(port, (int)cmd);
    break;
  case C_SELECT_PIPE:
    driver_select(port, EV(st.pipe[0]), ERL_DRV_READ | ERL_DRV_USE, 1);
    break;
  case C_DESELECT_PIPE:
    driver_select(port, EV(st.pipe[0]), ERL_DRV_READ | ERL_DRV_USE, 0);
    break;
  case C_OUTPUT_STALE:
    return driver_output(st.stale, "x", 1) == -1 ? 0 : 1;
  case C_OUTPUT_OTHER:
    driver_output(other, "hi", 2);
    break;
  case C_CREATE_AND_USE:
    st.created = driver_create_port(port, driver_connected(port), "child",
                                    (ErlDrvData)0);
    driver_output(st.created, "new", 3);
    set_busy_port(st.created, 0);
    break;
  case C_USE_CREATED:
    driver_output(st.created, "late", 4);
    break;
  case C_FAIL_SELF:
    st.stop_outputs = 1; /* stop runs inside driver_failure_atom */
    driver_failure_atom(port, "boom");
    break;
  case C_SPIN:
  case C_SPIN_REPORTED:
    spin(port, cmd == C_SPIN_REPORTED);
    break;
  }
  return 0;
}

static void t_ready_input(ErlDrvData d, ErlDrvEvent ev) { (void)d, (void)ev; }

static void t_ready_async(ErlDrvData d, ErlDrvThreadData data) {
  (void)d;
  driver_free(data);
}

static ErlDrvEntry entry;
static ErlDrvEntry *get_entry(void) { return &entry; }

static void setup(int flags) {
  memset(&entry, 0, sizeof entry);
  entry.start = t_start;
  entry.stop = t_stop;
  entry.control = t_control;
  entry.ready_input = t_ready_input;
  entry.ready_async = t_ready_async;
  entry.stop_select = t_stop_select;
  entry.driver_name = "ctxtest";
  entry.extended_marker = ERL_DRV_EXTENDED_MARKER;
  entry.major_version = ERL_DRV_EXTENDED_MAJOR_VERSION;
  entry.minor_version = ERL_DRV_EXTENDED_MINOR_VERSION;
  entry.driver_flags = flags;
  dc_test_load_static(get_entry);
  owner = dc__proc_spawn("owner");
}

static dc__port *open_port(void) {
  return dc_test_open_port("ctxtest", 0, owner);
}

static void control(dc__port *p, unsigned cmd) {
  DC_ASSERT_EQ(dc__port_control(p, owner, cmd, "", 0), 0);
}

static void dump_findings(void) {
  size_t n;
  const dc__finding *f = dc__findings(&n);
  for (size_t i = 0; i < n; i++)
    fprintf(stderr, "  finding %s x%u in %s api=%s: %s\n",
            dc__rule_id(f[i].rule), f[i].count, f[i].callback, f[i].api,
            f[i].message);
}

static const dc__finding *first(void) {
  size_t n;
  const dc__finding *f = dc__findings(&n);
  DC_ASSERT(n > 0);
  return f;
}

/* Exactly one finding, of rule, seen once. */
static void expect_only(dc_rule rule) {
  size_t n;
  const dc__finding *f = dc__findings(&n);
  if (n != 1 || f[0].rule != rule || f[0].count != 1) {
    dump_findings();
    DC_FAIL("expected exactly one %s finding", dc__rule_id(rule));
  }
}

static void expect_none(void) {
  size_t n;
  dc__findings(&n);
  if (n != 0) {
    dump_findings();
    DC_FAIL("expected no finding, got %zu", n);
  }
}

/* ---- ctx.thread_unsafe_api ---- */

DC_TEST(driver_output_from_async_invoke_is_thread_unsafe) {
  setup(0);
  dc__port *p = open_port();
  control(p, C_ASYNC_OUTPUT);
  dc__async_wait_idle();
  dc__async_deliver(-1);
  expect_only(DC_RULE_CTX_THREAD_UNSAFE_API);
  const dc__finding *f = first();
  DC_ASSERT_STREQ(f->api, "driver_output");
  DC_ASSERT_STREQ(f->callback, "async_invoke");
}

DC_TEST(driver_output_from_driver_thread_is_thread_unsafe) {
  setup(0);
  control(open_port(), C_THREAD_OUTPUT);
  expect_only(DC_RULE_CTX_THREAD_UNSAFE_API);
}

DC_TEST(send_term_and_memory_from_async_invoke_are_fine) {
  setup(0);
  dc__port *p = open_port();
  control(p, C_ASYNC_SEND_TERM);
  dc__async_wait_idle();
  DC_ASSERT_EQ(dc__async_deliver(-1), 1);
  expect_none();
}

DC_TEST(pdl_enq_from_driver_thread_is_fine) {
  setup(0);
  control(open_port(), C_THREAD_PDL_ENQ);
  expect_none();
}

/* ERTS defines the result off a scheduler (ERL_DRV_TIME_ERROR), so the
 * harness does not call it a misuse (protocol.md row 101). */
static void *mono_thread(void *arg) {
  *(ErlDrvTime *)arg = erl_drv_monotonic_time(ERL_DRV_MSEC);
  return NULL;
}

DC_TEST(monotonic_time_off_scheduler_is_no_finding) {
  setup(0);
  ErlDrvTime t = 0;
  ErlDrvTid tid;
  DC_ASSERT_EQ(erl_drv_thread_create("mono", &tid, mono_thread, &t, NULL), 0);
  DC_ASSERT_EQ(erl_drv_thread_join(tid, NULL), 0);
  DC_ASSERT_EQ(t, ERL_DRV_TIME_ERROR);
  expect_none();
}

/* ---- ctx.api_in_stop_select ---- */

static dc__port *select_pipe(int ss_call) {
  if (pipe2(st.pipe, O_NONBLOCK) != 0)
    DC_FAIL("pipe2 failed");
  dc__port *p = open_port();
  st.ss_call = ss_call;
  st.ss_block = driver_alloc(16);
  control(p, C_SELECT_PIPE);
  return p;
}

DC_TEST(driver_free_in_sync_stop_select) {
  setup(0);
  dc__port *p = select_pipe(1);
  control(p, C_DESELECT_PIPE); /* stop_select runs inside driver_select */
  expect_only(DC_RULE_CTX_API_IN_STOP_SELECT);
  DC_ASSERT_STREQ(first()->api, "driver_free");
  DC_ASSERT_STREQ(first()->callback, "stop_select");
}

DC_TEST(driver_select_in_sync_stop_select) {
  setup(0);
  dc__port *p = select_pipe(2);
  control(p, C_DESELECT_PIPE);
  expect_only(DC_RULE_CTX_API_IN_STOP_SELECT);
  DC_ASSERT_STREQ(first()->api, "driver_select");
}

DC_TEST(driver_free_in_deferred_stop_select) {
  setup(0);
  dc__port *p = select_pipe(1);
  dc__select_set_mode(DC__SS_DEFERRED);
  control(p, C_DESELECT_PIPE);
  expect_none(); /* nothing ran yet */
  DC_ASSERT_EQ(dc__select_run_deferred(), 1);
  expect_only(DC_RULE_CTX_API_IN_STOP_SELECT);
}

DC_TEST(driver_select_in_deferred_stop_select_after_stop) {
  setup(0);
  dc__port *p = select_pipe(2);
  dc__select_set_mode(DC__SS_DEFERRED);
  control(p, C_DESELECT_PIPE);
  dc__port_exit(p, "normal", 0); /* the port is gone when it runs */
  DC_ASSERT_EQ(dc__select_run_deferred(), 1);
  expect_only(DC_RULE_CTX_API_IN_STOP_SELECT);
}

DC_TEST(stop_select_without_api_calls_is_fine) {
  setup(0);
  dc__port *p = select_pipe(0);
  driver_free(st.ss_block);
  control(p, C_DESELECT_PIPE);
  expect_none();
}

/* ---- ctx.dead_port ---- */

DC_TEST(api_on_stopped_port_from_later_callback) {
  setup(0);
  dc__port *a = open_port();
  st.stale = dc__port_handle(a);
  dc__port_exit(a, "normal", 0);
  dc__port *b = open_port();
  expect_none();
  /* driver_output returned -1 (the ERTS invalid-port value): reply [] */
  control(b, C_OUTPUT_STALE);
  expect_only(DC_RULE_CTX_DEAD_PORT);
  DC_ASSERT_STREQ(first()->api, "driver_output");
}

DC_TEST(api_on_garbage_handle_is_dead_port) {
  setup(0);
  dc__port *b = open_port();
  static char not_a_port[64];
  st.stale = (ErlDrvPort)not_a_port;
  control(b, C_OUTPUT_STALE);
  expect_only(DC_RULE_CTX_DEAD_PORT);
}

/* ---- ctx.foreign_port ---- */

DC_TEST(port_locking_output_on_other_port_is_foreign) {
  setup(ERL_DRV_FLAG_USE_PORT_LOCKING);
  dc__port *a = open_port();
  open_port();
  control(a, C_OUTPUT_OTHER);
  expect_only(DC_RULE_CTX_FOREIGN_PORT);
  DC_ASSERT_STREQ(first()->api, "driver_output");
}

DC_TEST(driver_locking_output_on_other_port_is_fine) {
  setup(0); /* one driver lock covers every port */
  dc__port *a = open_port();
  open_port();
  control(a, C_OUTPUT_OTHER);
  expect_none();
}

DC_TEST(created_port_may_be_used_in_the_creating_callback) {
  setup(ERL_DRV_FLAG_USE_PORT_LOCKING);
  dc__port *a = open_port();
  control(a, C_CREATE_AND_USE);
  DC_ASSERT(dc__port_live(st.created) != NULL);
  expect_none();
}

DC_TEST(created_port_used_in_a_later_callback_is_foreign) {
  setup(ERL_DRV_FLAG_USE_PORT_LOCKING);
  dc__port *a = open_port();
  control(a, C_CREATE_AND_USE);
  control(a, C_USE_CREATED);
  expect_only(DC_RULE_CTX_FOREIGN_PORT);
}

DC_TEST(stop_inside_driver_failure_is_same_port) {
  setup(ERL_DRV_FLAG_USE_PORT_LOCKING);
  dc__port *a = open_port();
  open_port();
  control(a, C_FAIL_SELF);
  DC_ASSERT_EQ(a->state, DC__PORT_DEAD);
  expect_none();
}

/* ---- cb.lengthy ---- */

DC_TEST(callback_burning_20ms_is_lengthy) {
  setup(0);
  control(open_port(), C_SPIN);
  expect_only(DC_RULE_CB_LENGTHY);
  DC_ASSERT_EQ(dc__rule_severity(DC_RULE_CB_LENGTHY), DC_SEV_WARNING);
  DC_ASSERT_STREQ(first()->callback, "control");
}

DC_TEST(lengthy_work_reported_with_consume_timeslice_is_fine) {
  setup(0);
  control(open_port(), C_SPIN_REPORTED);
  expect_none();
}

DC_TEST(lengthy_budget_is_configurable) {
  setup(0);
  dc__set_lengthy_budget_us(200000); /* 200 ms */
  dc__port *p = open_port();
  control(p, C_SPIN);
  expect_none();
  dc__set_lengthy_budget_us(0); /* disabled */
  control(p, C_SPIN);
  expect_none();
  dc__set_lengthy_budget_us(1000);
  control(p, C_SPIN);
  expect_only(DC_RULE_CB_LENGTHY);
}

/* ---- the class table ---- */

DC_TEST(class_table_follows_the_protocol) {
  DC_ASSERT_EQ(DC__API_COUNT, 111);
  DC_ASSERT_STREQ(dc__api_name(DC__API_erl_drv_set_os_pid),
                  "erl_drv_set_os_pid");
  DC_ASSERT_EQ(dc__api_class_of[DC__API_driver_output], DC__APICLS_EMU);
  DC_ASSERT_EQ(dc__api_class_of[DC__API_erl_drv_send_term], DC__APICLS_TS);
  DC_ASSERT_EQ(dc__api_class_of[DC__API_driver_send_term], DC__APICLS_TS);
  DC_ASSERT_EQ(dc__api_class_of[DC__API_driver_enq], DC__APICLS_TS_PDL);
  DC_ASSERT_EQ(dc__api_class_of[DC__API_driver_mk_atom], DC__APICLS_EMU);
  DC_ASSERT_EQ(dc__api_class_of[DC__API_erl_drv_monotonic_time],
               DC__APICLS_SCHED);
  DC_ASSERT_EQ(dc__api_class_of[DC__API_erl_errno_id], DC__APICLS_PURE);
}

/* ---- corpus: good drivers clean, ctx_* bad drivers detected ---- */

/* Runs the smoke scenario on the loaded driver. */
static void smoke(void) {
  dc__scenario s;
  dc__runner r;
  dc__scenario_init(&s);
  DC_ASSERT_EQ(dc__smoke_build(&s, dc__g.entry, 1), 0);
  dc__runner_init(&r);
  for (size_t i = 0; i < s.n; i++)
    dc__runner_exec(&r, &s.ops[i]);
  dc__scenario_free(&s);
}

static int is_so(const char *name, char *base, size_t cap) {
  size_t l = strlen(name);
  if (l < 4 || l - 3 >= cap || strcmp(name + l - 3, ".so") != 0)
    return 0;
  memcpy(base, name, l - 3);
  base[l - 3] = '\0';
  return 1;
}

DC_TEST_T(every_example_driver_smoke_runs_clean, 120) {
  DIR *d = opendir(DC_DRIVER_DIR);
  DC_ASSERT(d != NULL);
  struct dirent *de;
  int ran = 0;
  char name[256];
  while ((de = readdir(d)) != NULL) {
    if (!is_so(de->d_name, name, sizeof name))
      continue;
    dc_test_load(name);
    smoke();
    size_t n;
    dc__findings(&n);
    if (n) {
      dump_findings();
      DC_FAIL("%s: %zu findings under the smoke scenario", name, n);
    }
    ran++;
  }
  closedir(d);
  DC_ASSERT(ran >= 8);
}

/* corpus/drivers/bad/ctx_*.c: a working driver with one context defect. */
static const struct {
  const char *name;
  dc_rule rule;
} bad[] = {
    {"ctx_async_output_drv", DC_RULE_CTX_THREAD_UNSAFE_API},
    {"ctx_stop_select_free_drv", DC_RULE_CTX_API_IN_STOP_SELECT},
    {"ctx_dead_port_drv", DC_RULE_CTX_DEAD_PORT},
    {"ctx_foreign_port_drv", DC_RULE_CTX_FOREIGN_PORT},
    {"ctx_lengthy_drv", DC_RULE_CB_LENGTHY},
};

DC_TEST_T(ctx_bad_drivers_trigger_exactly_their_rule, 120) {
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/bad/%s.so", DC_DRIVER_DIR, bad[i].name);
    dc__emu_reset(1);
    dc__findings_reset();
    if (dc__load_driver(path, err, sizeof err) != 0)
      DC_FAIL("loading %s: %s", path, err);
    smoke();
    size_t n;
    const dc__finding *f = dc__findings(&n);
    for (size_t k = 0; k < n; k++)
      if (f[k].rule != bad[i].rule) {
        dump_findings();
        DC_FAIL("%s: unexpected %s", bad[i].name, dc__rule_id(f[k].rule));
      }
    /* Under TSan the corpus drivers are built without instrumentation
     * (sanitizers/tests.cmake), so ctx_lengthy_drv's tens of ms, divided by
     * TSan's slowdown like instrumented work, stay under the budget: only
     * there its detection is not asserted (no false finding still is). */
    if (SPIN_SCALE > 1 && bad[i].rule == DC_RULE_CB_LENGTHY)
      continue;
    if (dc__findings_count(bad[i].rule) == 0)
      DC_FAIL("%s: %s not detected", bad[i].name, dc__rule_id(bad[i].rule));
  }
}
