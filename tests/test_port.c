/* Port lifecycle: open_port/start, port_command (output/outputv), control,
 * call, close/flush/stop, driver_failure*, driver_exit, init_ack, busy and
 * flags, driver_create_port. ERTS facts: docs/protocol.md §3.2-3.8, §3.12
 * (io.c erts_open_driver, driver_failure_term, erl_drv_init_ack;
 * erl_port_task.c erl_drv_busy_msgq_limits, erl_drv_consume_timeslice). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "support.h"

/* What the test wants the driver to do; each test runs in its own process. */
static struct {
  ErlDrvData start_ret; /* returned by start when use_ret */
  int use_ret, start_errno, start_timer, ack_in_start;
  int flush_timer; /* flush arms a timer; timeout drains the queue */
  int timeout_ack; /* timeout calls erl_drv_init_ack(port, ack) */
  ErlDrvData ack;
  int outputv_keep; /* outputv keeps binv[1] with inc_refc */
} cfg;

/* What the driver saw. */
static struct {
  ErlDrvPort port;
  char cmd[128];
  int start_flags, starts, stops, flushes, timeouts, outputs;
  ErlDrvTermData start_caller, out_caller, stop_caller, timeout_caller;
  int stop_depth;
  ErlDrvData stop_data, timeout_data;
  /* outputv */
  int vsize;
  ErlDrvSizeT size;
  char *iov0_base;
  size_t iov0_len, iov1_len;
  int binv0_null, binv1_set;
  char data[64];
  size_t len;
  ErlDrvBinary *kept;
  char *out_buf;
  ErlDrvSizeT rlen;
  int in_control;
} rec;

static char static_reply[8] = "static";

static dc__port *P(void) { return dc__port_lookup(rec.port); }

static ErlDrvData drv_start(ErlDrvPort port, char *cmd) {
  rec.port = port;
  rec.starts++;
  snprintf(rec.cmd, sizeof rec.cmd, "%s", cmd);
  rec.start_flags = get_port_flags(port);
  rec.start_caller = P()->caller;
  if (cfg.start_timer)
    driver_set_timer(port, 10);
  if (cfg.ack_in_start)
    erl_drv_init_ack(port, (ErlDrvData)port);
  if (cfg.use_ret) {
    errno = cfg.start_errno;
    return cfg.start_ret;
  }
  return (ErlDrvData)port;
}

static void drv_stop(ErlDrvData d) {
  rec.stops++;
  rec.stop_data = d;
  rec.stop_caller = P()->caller;
  rec.stop_depth = dc__tls.depth;
}

static void drv_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  (void)d;
  rec.outputs++;
  rec.out_caller = P()->caller;
  rec.out_buf = buf;
  rec.len = len < sizeof rec.data ? len : sizeof rec.data;
  memcpy(rec.data, buf, rec.len);
  buf[0] = 'X'; /* the driver's private copy: the sender's data is safe */
}

static void drv_outputv(ErlDrvData d, ErlIOVec *ev) {
  (void)d;
  rec.outputs++;
  rec.out_caller = P()->caller;
  rec.vsize = ev->vsize;
  rec.size = ev->size;
  rec.iov0_base = ev->iov[0].iov_base;
  rec.iov0_len = ev->iov[0].iov_len;
  rec.iov1_len = ev->iov[1].iov_len;
  rec.binv0_null = ev->binv[0] == NULL;
  rec.binv1_set = ev->binv[1] != NULL;
  rec.len = driver_vec_to_buf(ev, rec.data, sizeof rec.data);
  if (cfg.outputv_keep && ev->binv[1]) {
    rec.kept = ev->binv[1];
    driver_binary_inc_refc(rec.kept);
  }
}

static ErlDrvSSizeT drv_control(ErlDrvData d, unsigned cmd, char *buf,
                                ErlDrvSizeT len, char **rbuf,
                                ErlDrvSizeT rlen) {
  (void)d;
  ErlDrvPort port = rec.port;
  rec.rlen = rlen;
  switch (cmd) {
  case 1: /* echo into the default buffer */
    memcpy(*rbuf, buf, len);
    return (ErlDrvSSizeT)len;
  case 2:
    *rbuf = NULL;
    return 5;
  case 3: { /* list mode replacement */
    char *r = driver_alloc(5);
    memcpy(r, "hello", 5);
    *rbuf = r;
    return 5;
  }
  case 4: { /* binary mode replacement: the whole binary, return ignored */
    ErlDrvBinary *b = driver_alloc_binary(10);
    memcpy(b->orig_bytes, "0123456789", 10);
    *rbuf = (char *)b;
    return 3;
  }
  case 5:
    return -1;
  case 6:
    memset(*rbuf, 'a', 100);
    return 100;
  case 7:
    rec.in_control = 1;
    driver_failure_atom(port, "boom");
    rec.in_control = 0;
    memcpy(*rbuf, "ok", 2);
    return 2;
  case 8:
    *rbuf = static_reply;
    return 6;
  case 9:
    set_busy_port(port, 1);
    return 0;
  case 11:
    driver_enq(port, buf, len);
    return 0;
  case 12:
    driver_exit(port, 0);
    return 0;
  case 13:
    driver_failure_eof(port);
    return 0;
  case 14:
    set_port_control_flags(port, PORT_CONTROL_FLAG_BINARY);
    return 0;
  case 15:
    driver_failure(port, 0);
    return 0;
  case 16:
    driver_failure(port, 42);
    return 0;
  }
  return 0;
}

static ErlDrvSSizeT drv_call(ErlDrvData d, unsigned cmd, char *buf,
                             ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen,
                             unsigned *flags) {
  (void)d;
  rec.rlen = rlen;
  int i = 0;
  switch (cmd) {
  case 1: /* {ok,42} in the default buffer */
    ei_encode_version(*rbuf, &i);
    ei_encode_tuple_header(*rbuf, &i, 2);
    ei_encode_atom(*rbuf, &i, "ok");
    ei_encode_long(*rbuf, &i, 42);
    return i;
  case 2: /* bad magic */
    memcpy(*rbuf, "xyz", 3);
    return 3;
  case 3: { /* echo in a driver_alloc buffer, freed by the emulator */
    char *r = driver_alloc(len);
    memcpy(r, buf, len);
    *rbuf = r;
    return (ErlDrvSSizeT)len;
  }
  case 4: { /* a static buffer the emulator must leave alone */
    static char term[8];
    ei_encode_version(term, &i);
    ei_encode_atom(term, &i, "kept");
    *rbuf = term;
    *flags |= DRIVER_CALL_KEEP_BUFFER;
    return i;
  }
  case 5:
    return -1;
  }
  return 0;
}

static void drv_flush(ErlDrvData d) {
  (void)d;
  rec.flushes++;
  if (cfg.flush_timer)
    driver_set_timer(rec.port, 5);
}

static void drv_timeout(ErlDrvData d) {
  rec.timeouts++;
  rec.timeout_data = d;
  rec.timeout_caller = P()->caller;
  if (cfg.flush_timer)
    driver_deq(rec.port, driver_sizeq(rec.port));
  if (cfg.timeout_ack)
    erl_drv_init_ack(rec.port, cfg.ack);
}

static ErlDrvEntry entry = {
    .start = drv_start,
    .stop = drv_stop,
    .output = drv_output,
    .driver_name = "tport",
    .control = drv_control,
    .timeout = drv_timeout,
    .outputv = drv_outputv,
    .flush = drv_flush,
    .call = drv_call,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};
static ErlDrvEntry *tport_init(void) { return &entry; }

static ErlDrvTermData owner;

/* Loads the driver with extra flags and the given callbacks removed. */
static void load(int flags) {
  entry.driver_flags = flags;
  dc_test_load_static(tport_init);
  owner = dc__proc_spawn("owner");
}

static dc__port *open_port(int opts) {
  dc__open_result r = dc__port_open("tport a b", opts, owner);
  if (!r.port)
    DC_FAIL("open_port failed: %s", r.error ? r.error : "?");
  return r.port;
}

/* 1 if some trace event prints exactly as `want`. */
static int has_event(const char *want) {
  char buf[256];
  for (size_t i = 0; dc_test_event(i, buf, sizeof buf); i++)
    if (strcmp(buf, want) == 0)
      return 1;
  return 0;
}

#define ASSERT_EVENT(...)                                                      \
  do {                                                                         \
    char want_[256];                                                           \
    snprintf(want_, sizeof want_, __VA_ARGS__);                                \
    if (!has_event(want_))                                                     \
      DC_FAIL("no trace event \"%s\"", want_);                                 \
  } while (0)
#define ASSERT_NO_EVENT(...)                                                   \
  do {                                                                         \
    char want_[256];                                                           \
    snprintf(want_, sizeof want_, __VA_ARGS__);                                \
    if (has_event(want_))                                                      \
      DC_FAIL("unexpected trace event \"%s\"", want_);                         \
  } while (0)

static unsigned long PID(ErlDrvTermData t) { return (unsigned long)DC__IDX(t); }

static int control(dc__port *p, unsigned cmd, const char *data) {
  return dc__port_control(p, owner, cmd, data, strlen(data));
}

/* ------------------------------------------------------------------------ */
/* open_port / start                                                         */

DC_TEST(open_passes_whole_command_and_caller) {
  load(0);
  dc__port *p = open_port(0);
  DC_ASSERT_STREQ(rec.cmd, "tport a b"); /* the whole command (§3.2) */
  DC_ASSERT_STREQ(p->name, "tport a b");
  DC_ASSERT_EQ(rec.start_caller, owner);
  DC_ASSERT_EQ(p->state, DC__PORT_OPEN);
  DC_ASSERT(p->drv_data == (ErlDrvData)rec.port);
  ASSERT_EVENT("open #Port<0.%u>", p->idx);
}

static void open_fails(ErlDrvData ret, int err, const char *reason) {
  load(0);
  cfg.use_ret = 1;
  cfg.start_ret = ret;
  cfg.start_errno = err;
  cfg.start_timer = 1;
  dc__open_result r = dc__port_open("tport", 0, owner);
  DC_ASSERT(r.port == NULL);
  DC_ASSERT_STREQ(r.error, reason);
  DC_ASSERT_EQ(rec.stops, 0); /* stop is not called after a failed start */
  dc__port *p = dc__port_lookup(rec.port);
  DC_ASSERT_EQ(p->state, DC__PORT_DEAD);
  DC_ASSERT_EQ(p->timer_armed, 0); /* the timer set in start is cancelled */
  ASSERT_EVENT("open {error,%s}", reason);
}

DC_TEST(open_error_general_is_einval) {
  open_fails(ERL_DRV_ERROR_GENERAL, 0, "einval");
}
DC_TEST(open_error_errno_is_errno_atom) {
  open_fails(ERL_DRV_ERROR_ERRNO, EACCES, "eacces");
}
DC_TEST(open_error_badarg) { open_fails(ERL_DRV_ERROR_BADARG, 0, "badarg"); }

DC_TEST(open_other_values_accepted_as_drv_data) {
  /* -4 and NULL are plain drv_data values (OTP 25 run, §3.2). */
  load(0);
  cfg.use_ret = 1;
  cfg.start_ret = (ErlDrvData)-4;
  dc__port *p = open_port(0);
  DC_ASSERT(p->drv_data == (ErlDrvData)-4);
}

DC_TEST(port_flags_zero_in_start_binary_after) {
  load(0);
  dc__port *p = open_port(DC__OPT_BINARY);
  DC_ASSERT_EQ(rec.start_flags, 0);
  DC_ASSERT_EQ(get_port_flags(dc__port_handle(p)), PORT_FLAG_BINARY);
}

DC_TEST(null_start_gives_zero_drv_data) {
  entry.start = NULL;
  load(0);
  dc__port *p = open_port(0);
  DC_ASSERT(p->drv_data == NULL);
  DC_ASSERT_EQ(p->state, DC__PORT_OPEN);
}

DC_TEST(slots_are_never_reused) {
  load(0);
  dc__port *a = open_port(0);
  dc__port_exit(a, "normal", 0);
  dc__port *b = open_port(0);
  DC_ASSERT(a != b);
  DC_ASSERT(dc__port_live(dc__port_handle(a)) == NULL);
  DC_ASSERT(dc__port_live(dc__port_handle(b)) == b);
  DC_ASSERT(dc__port_by_term(b->id) == b);
  DC_ASSERT(dc__port_by_term(a->id) == NULL);
}

/* ------------------------------------------------------------------------ */
/* port_command                                                              */

DC_TEST(outputv_gets_placeholder_and_segments) {
  load(0);
  dc__port *p = open_port(0);
  ErlDrvTermData sender = dc__proc_spawn("sender");
  SysIOVec segs[2] = {{"ab", 2}, {"cde", 3}};
  DC_ASSERT_EQ(dc__port_command(p, sender, segs, 2, 0), 0);
  DC_ASSERT_EQ(rec.outputs, 1);
  DC_ASSERT_EQ(rec.vsize, 3); /* placeholder + 2 segments */
  DC_ASSERT_EQ(rec.size, 5);
  DC_ASSERT(rec.iov0_base == NULL);
  DC_ASSERT_EQ(rec.iov0_len, 0);
  DC_ASSERT(rec.binv0_null);
  DC_ASSERT(rec.binv1_set);
  DC_ASSERT_EQ(rec.len, 5);
  DC_ASSERT(memcmp(rec.data, "abcde", 5) == 0);
  DC_ASSERT_EQ(rec.out_caller, sender); /* the sender, not the owner */
}

DC_TEST(outputv_empty_command_has_vsize_2) {
  load(0);
  dc__port *p = open_port(0);
  DC_ASSERT_EQ(dc__port_command(p, owner, NULL, 0, 0), 0);
  DC_ASSERT_EQ(rec.vsize, 2); /* OTP 25 run, §3.3 */
  DC_ASSERT_EQ(rec.size, 0);
  DC_ASSERT_EQ(rec.iov1_len, 0);
}

DC_TEST(outputv_binaries_released_unless_kept) {
  load(0);
  dc__port *p = open_port(0);
  size_t before = dc__bin_live_count();
  SysIOVec seg = {"xyz", 3};
  dc__port_command(p, owner, &seg, 1, 0);
  DC_ASSERT_EQ(dc__bin_live_count(), before);
  cfg.outputv_keep = 1;
  dc__port_command(p, owner, &seg, 1, 0);
  DC_ASSERT_EQ(dc__bin_live_count(), before + 1);
  DC_ASSERT_EQ(driver_binary_get_refc(rec.kept), 1);
  driver_free_binary(rec.kept);
}

DC_TEST(output_gets_flat_private_copy) {
  entry.outputv = NULL;
  load(0);
  dc__port *p = open_port(0);
  char a[] = "ab", b[] = "cde";
  SysIOVec segs[2] = {{a, 2}, {b, 3}};
  DC_ASSERT_EQ(dc__port_command(p, owner, segs, 2, 0), 0);
  DC_ASSERT_EQ(rec.len, 5);
  DC_ASSERT(memcmp(rec.data, "abcde", 5) == 0);
  DC_ASSERT(a[0] == 'a'); /* the driver wrote into its copy only */
}

DC_TEST(null_output_callbacks_accept_commands) {
  entry.outputv = NULL;
  entry.output = NULL;
  load(0);
  dc__port *p = open_port(0);
  SysIOVec seg = {"x", 1};
  DC_ASSERT_EQ(dc__port_command(p, owner, &seg, 1, 0), 0);
  DC_ASSERT_EQ(p->state, DC__PORT_OPEN);
}

DC_TEST(busy_port_without_force_not_delivered) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 9, ""); /* set_busy_port(port, 1) */
  SysIOVec seg = {"x", 1};
  DC_ASSERT_EQ(dc__port_command(p, owner, &seg, 1, 0), DC_ESTATE);
  DC_ASSERT_EQ(rec.outputs, 0);
  set_busy_port(dc__port_handle(p), 0);
  DC_ASSERT_EQ(dc__port_command(p, owner, &seg, 1, 0), 0);
  DC_ASSERT_EQ(rec.outputs, 1);
}

DC_TEST(force_without_soft_busy_is_notsup) {
  load(0);
  dc__port *p = open_port(0);
  SysIOVec seg = {"x", 1};
  /* notsup even when not busy (OTP 25 run, §3.8) */
  DC_ASSERT_EQ(dc__port_command(p, owner, &seg, 1, 1), DC_EINVAL);
  DC_ASSERT_EQ(rec.outputs, 0);
  ASSERT_EVENT("command #Port<0.%u> -> notsup", p->idx);
}

DC_TEST(force_with_soft_busy_delivers_while_busy) {
  load(ERL_DRV_FLAG_SOFT_BUSY);
  dc__port *p = open_port(0);
  control(p, 9, "");
  SysIOVec seg = {"x", 1};
  DC_ASSERT_EQ(dc__port_command(p, owner, &seg, 1, 1), 0);
  DC_ASSERT_EQ(rec.outputs, 1);
}

DC_TEST(command_to_closed_port_is_badarg) {
  load(0);
  dc__port *p = open_port(0);
  dc__port_exit(p, "normal", 0);
  SysIOVec seg = {"x", 1};
  DC_ASSERT_EQ(dc__port_command(p, owner, &seg, 1, 0), DC_EINVAL);
  DC_ASSERT_EQ(rec.outputs, 0);
  ASSERT_EVENT("command #Port<0.%u> -> badarg", p->idx);
}

/* ------------------------------------------------------------------------ */
/* port_control                                                              */

DC_TEST(control_list_mode_default_buffer) {
  load(0);
  dc__port *p = open_port(0);
  DC_ASSERT_EQ(control(p, 1, "hi"), 0);
  DC_ASSERT_EQ(rec.rlen, 64); /* OTP 25 run: rlen 64 */
  ASSERT_EVENT("control #Port<0.%u> -> [104,105]", p->idx);
}

DC_TEST(control_binary_mode_default_buffer) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 14, ""); /* set_port_control_flags(binary) */
  control(p, 1, "hi");
  ASSERT_EVENT("control #Port<0.%u> -> <<104,105>>", p->idx);
}

DC_TEST(control_null_rbuf_is_nil_in_both_modes) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 2, "");
  ASSERT_EVENT("control #Port<0.%u> -> []", p->idx);
  dc__trace_reset();
  control(p, 14, "");
  control(p, 2, "");
  ASSERT_EVENT("control #Port<0.%u> -> []", p->idx);
}

DC_TEST(control_replaced_list_buffer_is_freed) {
  load(0);
  dc__port *p = open_port(0);
  size_t before = dc__mem_live_count(NULL);
  control(p, 3, "");
  ASSERT_EVENT("control #Port<0.%u> -> [104,101,108,108,111]", p->idx);
  DC_ASSERT_EQ(dc__mem_live_count(NULL), before);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_RBUF_FOREIGN), 0);
}

DC_TEST(control_replaced_binary_whole_and_released) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 14, "");
  size_t before = dc__bin_live_count();
  control(p, 4, ""); /* returns 3, binary holds 10 bytes */
  ASSERT_EVENT("control #Port<0.%u> -> <<48,49,50,51,52,53,54,55,56,57>>",
               p->idx);
  DC_ASSERT_EQ(dc__bin_live_count(), before);
}

DC_TEST(control_negative_is_badarg) {
  load(0);
  dc__port *p = open_port(0);
  DC_ASSERT_EQ(control(p, 5, ""), DC_EINVAL);
  ASSERT_EVENT("control #Port<0.%u> -> badarg", p->idx);
}

DC_TEST(control_overflow_flagged) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 6, "");
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_RBUF_OVERFLOW), 1);
}

DC_TEST(control_foreign_rbuf_flagged_not_freed) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 8, "");
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_RBUF_FOREIGN), 1);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_MEM_BAD_FREE), 0);
  DC_ASSERT_STREQ(static_reply, "static");
}

DC_TEST(control_without_callback_is_badarg) {
  entry.control = NULL;
  load(0);
  dc__port *p = open_port(0);
  DC_ASSERT_EQ(control(p, 1, "x"), DC_EINVAL);
  ASSERT_EVENT("control #Port<0.%u> -> badarg", p->idx);
}

DC_TEST(control_not_blocked_by_busy) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 9, "");
  DC_ASSERT_EQ(control(p, 1, "ok"), 0);
  ASSERT_EVENT("control #Port<0.%u> -> [111,107]", p->idx);
}

/* ------------------------------------------------------------------------ */
/* port_call                                                                 */

static int call(dc__port *p, unsigned cmd) {
  char etf[16];
  int i = 0;
  ei_encode_version(etf, &i);
  ei_encode_atom(etf, &i, "arg");
  return dc__port_call(p, owner, cmd, etf, (size_t)i);
}

DC_TEST(call_good_reply) {
  load(0);
  dc__port *p = open_port(0);
  DC_ASSERT_EQ(call(p, 1), 0);
  DC_ASSERT_EQ(rec.rlen, 255); /* OTP 25 run, immediate execution */
  ASSERT_EVENT("call #Port<0.%u> -> {ok,42}", p->idx);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_CALL_BAD_ETF), 0);
}

DC_TEST(call_bad_magic_is_badarg_and_flagged) {
  load(0);
  dc__port *p = open_port(0);
  call(p, 2);
  ASSERT_EVENT("call #Port<0.%u> -> badarg", p->idx);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_CALL_BAD_ETF), 1);
}

DC_TEST(call_negative_is_badarg_not_flagged) {
  load(0);
  dc__port *p = open_port(0);
  call(p, 5);
  ASSERT_EVENT("call #Port<0.%u> -> badarg", p->idx);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_CALL_BAD_ETF), 0);
}

DC_TEST(call_replaced_buffer_freed) {
  load(0);
  dc__port *p = open_port(0);
  size_t before = dc__mem_live_count(NULL);
  call(p, 3);
  ASSERT_EVENT("call #Port<0.%u> -> arg", p->idx);
  DC_ASSERT_EQ(dc__mem_live_count(NULL), before);
}

DC_TEST(call_keep_buffer_left_alone) {
  load(0);
  dc__port *p = open_port(0);
  call(p, 4);
  ASSERT_EVENT("call #Port<0.%u> -> kept", p->idx);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_RBUF_FOREIGN), 0);
}

/* ------------------------------------------------------------------------ */
/* Close, flush, stop                                                        */

DC_TEST(close_with_empty_queue_stops_without_flush) {
  load(0);
  dc__port *p = open_port(0);
  DC_ASSERT_EQ(dc__port_exit(p, "normal", 0), 0);
  DC_ASSERT_EQ(rec.flushes, 0); /* OTP 25 run: no flush when empty */
  DC_ASSERT_EQ(rec.stops, 1);
  DC_ASSERT_EQ(p->state, DC__PORT_DEAD);
  ASSERT_EVENT("<0.%lu.0> <- {'EXIT',#Port<0.%u>,normal}", PID(owner), p->idx);
  ASSERT_EVENT("exit #Port<0.%u> -> normal", p->idx);
  /* port_close/1 sends no {Port,closed} */
  ASSERT_NO_EVENT("<0.%lu.0> <- {#Port<0.%u>,closed}", PID(owner), p->idx);
}

DC_TEST(close_with_queue_flushes_then_stops_when_drained) {
  load(0);
  cfg.flush_timer = 1;
  dc__port *p = open_port(0);
  control(p, 11, "queued");
  dc__port_exit(p, "normal", 0);
  DC_ASSERT_EQ(rec.flushes, 1);
  DC_ASSERT_EQ(rec.stops, 0);
  DC_ASSERT_EQ(p->state, DC__PORT_CLOSING);
  /* links got the exit signal before flush (OTP 25 run, §3.6) */
  ASSERT_EVENT("<0.%lu.0> <- {'EXIT',#Port<0.%u>,normal}", PID(owner), p->idx);
  DC_ASSERT_EQ(control(p, 1, "x"), DC_EINVAL); /* invisible while closing */
  dc__timer_advance(5); /* timeout drains the queue; the epilogue stops */
  DC_ASSERT_EQ(rec.timeouts, 1);
  DC_ASSERT_EQ(rec.stops, 1);
  DC_ASSERT_EQ(p->state, DC__PORT_DEAD);
}

DC_TEST(close_with_kill_skips_flush) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 11, "queued");
  dc__port_exit(p, "kill", 0);
  DC_ASSERT_EQ(rec.flushes, 0);
  DC_ASSERT_EQ(rec.stops, 1);
  ASSERT_EVENT("<0.%lu.0> <- {'EXIT',#Port<0.%u>,killed}", PID(owner), p->idx);
}

DC_TEST(bang_close_sends_closed_after_stop) {
  load(0);
  dc__port *p = open_port(0);
  dc__port_exit(p, "normal", 1);
  ASSERT_EVENT("<0.%lu.0> <- {#Port<0.%u>,closed}", PID(owner), p->idx);
}

DC_TEST(exit_ignored_once_closing) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 11, "queued");
  dc__port_exit(p, "normal", 0);
  /* exit(Port, kill) cannot stop a CLOSING port (OTP 25 run) */
  DC_ASSERT_EQ(dc__port_exit(p, "kill", 0), DC_ESTATE);
  DC_ASSERT_EQ(rec.stops, 0);
}

DC_TEST(caller_is_nil_in_stop_and_timeout) {
  load(0);
  dc__port *p = open_port(0);
  driver_set_timer(dc__port_handle(p), 0);
  dc__timer_advance(0);
  DC_ASSERT_EQ(rec.timeouts, 1);
  DC_ASSERT_EQ(rec.timeout_caller, DC__NIL);
  dc__port_exit(p, "normal", 0);
  DC_ASSERT_EQ(rec.stop_caller, DC__NIL);
}

/* ------------------------------------------------------------------------ */
/* driver_failure* / driver_exit                                             */

DC_TEST(failure_atom_in_control_stops_inside_and_replies) {
  load(0);
  ErlDrvTermData other = dc__proc_spawn("other");
  dc__port *p = open_port(0);
  dc__port_control(p, other, 7, "", 0);
  DC_ASSERT_EQ(rec.stops, 1);
  DC_ASSERT_EQ(rec.stop_depth, 2);      /* stop ran nested inside control */
  DC_ASSERT_EQ(rec.stop_caller, other); /* still the control caller */
  DC_ASSERT_EQ(p->state, DC__PORT_DEAD);
  ASSERT_EVENT("control #Port<0.%u> -> [111,107]", p->idx);
  ASSERT_EVENT("<0.%lu.0> <- {'EXIT',#Port<0.%u>,boom}", PID(owner), p->idx);
  ASSERT_EVENT("exit #Port<0.%u> -> boom", p->idx);
}

DC_TEST(failure_discards_queue_no_flush) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 11, "queued");
  control(p, 7, "");
  DC_ASSERT_EQ(rec.flushes, 0);
  DC_ASSERT_EQ(rec.stops, 1);
}

DC_TEST(driver_failure_integer_reason) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 16, "");
  ASSERT_EVENT("<0.%lu.0> <- {'EXIT',#Port<0.%u>,42}", PID(owner), p->idx);
}

DC_TEST(driver_exit_owner_gets_nothing) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 12, "");
  DC_ASSERT_EQ(rec.stops, 1);
  ASSERT_NO_EVENT("<0.%lu.0> <- {'EXIT',#Port<0.%u>,normal}", PID(owner),
                  p->idx);
  ASSERT_EVENT("exit #Port<0.%u> -> normal", p->idx);
}

DC_TEST(failure_eof_with_eof_option_keeps_port) {
  load(0);
  dc__port *p = open_port(DC__OPT_EOF);
  control(p, 13, "");
  ASSERT_EVENT("<0.%lu.0> <- {#Port<0.%u>,eof}", PID(owner), p->idx);
  DC_ASSERT_EQ(p->state, DC__PORT_OPEN);
  DC_ASSERT_EQ(rec.stops, 0);
}

DC_TEST(failure_eof_without_option_exits_normal) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 15, ""); /* driver_failure(port, 0) behaves as eof */
  DC_ASSERT_EQ(rec.stops, 1);
  ASSERT_EVENT("<0.%lu.0> <- {'EXIT',#Port<0.%u>,normal}", PID(owner), p->idx);
}

DC_TEST(failure_on_closing_port_terminates_now) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 11, "queued");
  dc__port_exit(p, "normal", 0);
  DC_ASSERT_EQ(p->state, DC__PORT_CLOSING);
  DC_ASSERT_EQ(driver_failure_atom(dc__port_handle(p), "late"), 0);
  DC_ASSERT_EQ(rec.stops, 1);
  DC_ASSERT_EQ(p->state, DC__PORT_DEAD);
}

/* ------------------------------------------------------------------------ */
/* init_ack                                                                  */

DC_TEST(init_ack_defers_open_and_replaces_drv_data) {
  load(ERL_DRV_FLAG_USE_INIT_ACK);
  cfg.timeout_ack = 1;
  cfg.ack = (ErlDrvData)0x1234;
  cfg.start_timer = 1;
  dc__port *p = open_port(0);
  DC_ASSERT(p->init_ack_pending);
  ASSERT_NO_EVENT("open #Port<0.%u>", p->idx);
  dc__timer_advance(10);
  ASSERT_EVENT("open #Port<0.%u>", p->idx);
  DC_ASSERT(p->drv_data == (ErlDrvData)0x1234);
  cfg.timeout_ack = 0;
  driver_set_timer(dc__port_handle(p), 1);
  dc__timer_advance(1);
  DC_ASSERT(rec.timeout_data == (ErlDrvData)0x1234);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_INIT_ACK_UNEXPECTED), 0);
}

DC_TEST(init_ack_error_closes_port_synchronously) {
  load(ERL_DRV_FLAG_USE_INIT_ACK);
  cfg.timeout_ack = 1;
  cfg.ack = ERL_DRV_ERROR_BADARG;
  cfg.start_timer = 1;
  dc__port *p = open_port(0);
  ErlDrvData before = p->drv_data;
  dc__timer_advance(10);
  ASSERT_EVENT("open {error,badarg}");
  DC_ASSERT_EQ(rec.stops, 1);
  DC_ASSERT(rec.stop_data == before); /* stop sees the old drv_data */
  DC_ASSERT_EQ(p->state, DC__PORT_DEAD);
  /* the opener was unlinked: no exit signal */
  ASSERT_NO_EVENT("<0.%lu.0> <- {'EXIT',#Port<0.%u>,normal}", PID(owner),
                  p->idx);
}

DC_TEST(init_ack_in_start_flagged_and_ignored) {
  load(ERL_DRV_FLAG_USE_INIT_ACK);
  cfg.ack_in_start = 1;
  dc__port *p = open_port(0);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_INIT_ACK_IN_START), 1);
  DC_ASSERT(p->init_ack_pending); /* still pending: open_port would hang */
}

DC_TEST(init_ack_unexpected_without_flag_or_twice) {
  load(0);
  dc__port *p = open_port(0);
  erl_drv_init_ack(dc__port_handle(p), (ErlDrvData)1);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_INIT_ACK_UNEXPECTED), 1);
  DC_ASSERT(p->drv_data == (ErlDrvData)rec.port); /* ignored */

  load(ERL_DRV_FLAG_USE_INIT_ACK);
  p = open_port(0);
  erl_drv_init_ack(dc__port_handle(p), (ErlDrvData)1);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_INIT_ACK_UNEXPECTED), 0);
  erl_drv_init_ack(dc__port_handle(p), (ErlDrvData)2);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_INIT_ACK_UNEXPECTED), 1);
  DC_ASSERT(p->drv_data == (ErlDrvData)1);
}

DC_TEST(failure_with_pending_init_ack_replies_port_first) {
  load(ERL_DRV_FLAG_USE_INIT_ACK);
  dc__port *p = open_port(0);
  control(p, 7, "");
  ASSERT_EVENT("open #Port<0.%u>", p->idx);
  DC_ASSERT_EQ(p->state, DC__PORT_DEAD);
}

/* ------------------------------------------------------------------------ */
/* Busy message queue, timeslice, create_port, misc                          */

DC_TEST(busy_msgq_defaults_and_normalisation) {
  load(0);
  dc__port *p = open_port(0);
  ErlDrvPort h = dc__port_handle(p);
  ErlDrvSizeT lo = 0, hi = 0;
  erl_drv_busy_msgq_limits(h, &lo, &hi);
  DC_ASSERT_EQ(lo, 4096); /* erl_port_task.h defaults */
  DC_ASSERT_EQ(hi, 8192);
  lo = 9000, hi = 0; /* low above high raises high */
  erl_drv_busy_msgq_limits(h, &lo, &hi);
  DC_ASSERT_EQ(lo, 9000);
  DC_ASSERT_EQ(hi, 9000);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_BUSY_MSGQ_LIMITS), 0);
  lo = 500, hi = 100; /* both given, low above high: low := high */
  erl_drv_busy_msgq_limits(h, &lo, &hi);
  DC_ASSERT_EQ(lo, 100);
  DC_ASSERT_EQ(hi, 100);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_BUSY_MSGQ_LIMITS), 1);
  erl_drv_busy_msgq_limits(h, NULL, NULL); /* NULL pointers read only */
}

DC_TEST(busy_msgq_disable_writes_inputs_back) {
  load(0);
  dc__port *p = open_port(0);
  ErlDrvPort h = dc__port_handle(p);
  ErlDrvSizeT lo = ERL_DRV_BUSY_MSGQ_DISABLED, hi = 0;
  erl_drv_busy_msgq_limits(h, &lo, &hi);
  DC_ASSERT(lo == ERL_DRV_BUSY_MSGQ_DISABLED); /* OTP 25 run quirk */
  DC_ASSERT_EQ(hi, 0);
  lo = 10, hi = 20; /* permanently disabled */
  erl_drv_busy_msgq_limits(h, &lo, &hi);
  DC_ASSERT(lo == ERL_DRV_BUSY_MSGQ_DISABLED);
  DC_ASSERT(hi == ERL_DRV_BUSY_MSGQ_DISABLED);
}

DC_TEST(busy_msgq_disabled_by_driver_flag) {
  load(ERL_DRV_FLAG_NO_BUSY_MSGQ);
  dc__port *p = open_port(0);
  ErlDrvSizeT lo = 0, hi = 0;
  erl_drv_busy_msgq_limits(dc__port_handle(p), &lo, &hi);
  DC_ASSERT(lo == ERL_DRV_BUSY_MSGQ_DISABLED);
  DC_ASSERT(hi == ERL_DRV_BUSY_MSGQ_DISABLED);
}

DC_TEST(consume_timeslice_accumulates_and_clamps) {
  load(0);
  dc__port *p = open_port(0);
  ErlDrvPort h = dc__port_handle(p);
  DC_ASSERT_EQ(erl_drv_consume_timeslice(h, 50), 0);
  DC_ASSERT_EQ(erl_drv_consume_timeslice(h, 0), 0); /* clamped to 1 */
  DC_ASSERT_EQ(erl_drv_consume_timeslice(h, 49), 1);
  DC_ASSERT_EQ(erl_drv_consume_timeslice(h, 1), 1); /* stays exhausted */
  p->timeslice_used = 0;
  DC_ASSERT_EQ(erl_drv_consume_timeslice(h, 200), 1); /* clamped to 100 */
}

DC_TEST(create_port_same_driver_no_start) {
  load(0);
  dc__port *p = open_port(0);
  ErlDrvTermData other = dc__proc_spawn("other");
  ErlDrvPort np =
      driver_create_port(dc__port_handle(p), other, "child", (ErlDrvData)0x77);
  dc__port *c = dc__port_live(np);
  DC_ASSERT(c != NULL && c != p);
  DC_ASSERT_EQ(rec.starts, 1);
  DC_ASSERT_EQ(c->owner, other);
  DC_ASSERT_STREQ(c->name, "child");
  DC_ASSERT_EQ(c->state, DC__PORT_OPEN);
  dc__port_exit(c, "normal", 0);
  DC_ASSERT(rec.stop_data == (ErlDrvData)0x77);
  dc__proc_mark_dead(other);
  np = driver_create_port(dc__port_handle(p), other, "x", NULL);
  DC_ASSERT(np == (ErlDrvPort)-1); /* owner dead */
}

DC_TEST(lock_driver_and_os_pid) {
  load(0);
  dc__port *p = open_port(0);
  /* a statically linked driver cannot be pinned (io.c driver_lock_driver) */
  DC_ASSERT_EQ(driver_lock_driver(dc__port_handle(p)), -1);
  erl_drv_set_os_pid(dc__port_handle(p), 4711);
  DC_ASSERT_EQ(p->os_pid, 4711);
}

DC_TEST(dead_port_calls_return_invalid_and_flag) {
  load(0);
  dc__port *p = open_port(0);
  ErlDrvPort h = dc__port_handle(p);
  DC_ASSERT_EQ(get_port_flags(h), 0);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_CTX_DEAD_PORT), 0);
  dc__port_exit(p, "normal", 0);
  DC_ASSERT_EQ(driver_failure_atom(h, "x"), -1);
  DC_ASSERT_EQ(driver_exit(h, 0), -1);
  DC_ASSERT_EQ(erl_drv_consume_timeslice(h, 10), -1);
  DC_ASSERT_EQ(driver_lock_driver(h), -1);
  DC_ASSERT_EQ(get_port_flags(h), 0);
  DC_ASSERT(driver_create_port(h, owner, "x", NULL) == (ErlDrvPort)-1);
  DC_ASSERT_EQ(rec.stops, 1);
  DC_ASSERT(dc__findings_count(DC_RULE_CTX_DEAD_PORT) >= 1);
  dc__findings_reset();
  int junk;
  DC_ASSERT_EQ(driver_failure((ErlDrvPort)&junk, 1), -1);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_CTX_DEAD_PORT), 1);
}

DC_TEST(port_locking_driver_nested_stop_does_not_deadlock) {
  load(ERL_DRV_FLAG_USE_PORT_LOCKING);
  dc__port *p = open_port(0);
  control(p, 7, ""); /* stop nested in control under the same port lock */
  DC_ASSERT_EQ(rec.stops, 1);
  DC_ASSERT_EQ(pthread_mutex_trylock(&p->lock), 0); /* released */
  pthread_mutex_unlock(&p->lock);
  DC_ASSERT_EQ(pthread_mutex_trylock(&dc__g.drv_lock), 0);
  pthread_mutex_unlock(&dc__g.drv_lock);
}
