/* Port termination and the rest of the port lifecycle: close/flush/stop,
 * driver_failure*, driver_exit, init_ack, busy message queue limits,
 * timeslice, driver_create_port and calls on dead ports (open, command,
 * control and call: test_port.c). ERTS facts: shared/spec/protocol.md §3.2-3.8,
 * §3.12 (io.c driver_failure_term, erl_drv_init_ack; erl_port_task.c
 * erl_drv_busy_msgq_limits, erl_drv_consume_timeslice). */
#include <string.h>

#include "support.h"

/* What the test wants the driver to do; each test runs in its own process. */
static struct {
  int start_timer, ack_in_start;
  int flush_timer; /* flush arms a timer; timeout drains the queue */
  int timeout_ack; /* timeout calls erl_drv_init_ack(port, ack) */
  ErlDrvData ack;
} cfg;

/* What the driver saw. */
static struct {
  ErlDrvPort port;
  int starts, stops, flushes, timeouts;
  ErlDrvTermData stop_caller, timeout_caller;
  int stop_depth;
  ErlDrvData stop_data, timeout_data;
} rec;

static dc__port *P(void) { return dc__port_lookup(rec.port); }

static ErlDrvData drv_start(ErlDrvPort port, char *cmd) {
  (void)cmd;
  rec.port = port;
  rec.starts++;
  if (cfg.start_timer)
    driver_set_timer(port, 10);
  if (cfg.ack_in_start)
    erl_drv_init_ack(port, (ErlDrvData)port);
  return (ErlDrvData)port;
}

static void drv_stop(ErlDrvData d) {
  rec.stops++;
  rec.stop_data = d;
  rec.stop_caller = P()->caller;
  rec.stop_depth = dc__tls.depth;
}

static ErlDrvSSizeT drv_control(ErlDrvData d, unsigned cmd, char *buf,
                                ErlDrvSizeT len, char **rbuf,
                                ErlDrvSizeT rlen) {
  (void)d;
  (void)rlen;
  ErlDrvPort port = rec.port;
  switch (cmd) {
  case 1: /* echo into the default buffer */
    memcpy(*rbuf, buf, len);
    return (ErlDrvSSizeT)len;
  case 7:
    driver_failure_atom(port, "boom");
    memcpy(*rbuf, "ok", 2);
    return 2;
  case 11:
    driver_enq(port, buf, len);
    return 0;
  case 12:
    driver_exit(port, 0);
    return 0;
  case 13:
    driver_failure_eof(port);
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
    .driver_name = "tport",
    .control = drv_control,
    .timeout = drv_timeout,
    .flush = drv_flush,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};
static ErlDrvEntry *tport_init(void) { return &entry; }

static ErlDrvTermData owner;

/* Loads the driver with extra flags. */
static void load(int flags) {
  entry.driver_flags = flags;
  dc_test_load_static(tport_init);
  owner = dc__proc_spawn("owner");
}

static dc__port *open_port(int opts) {
  return dc_test_open_port("tport a b", opts, owner);
}

static unsigned long PID(ErlDrvTermData t) { return (unsigned long)DC__IDX(t); }

static int control(dc__port *p, unsigned cmd, const char *data) {
  return dc__port_control(p, owner, cmd, data, strlen(data));
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
  DC_ASSERT_EVENT("<0.%lu.0> <- {'EXIT',#Port<0.%u>,normal}", PID(owner),
                  p->idx);
  DC_ASSERT_EVENT("exit #Port<0.%u> -> normal", p->idx);
  /* port_close/1 sends no {Port,closed} */
  DC_ASSERT_NO_EVENT("<0.%lu.0> <- {#Port<0.%u>,closed}", PID(owner), p->idx);
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
  DC_ASSERT_EVENT("<0.%lu.0> <- {'EXIT',#Port<0.%u>,normal}", PID(owner),
                  p->idx);
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
  DC_ASSERT_EVENT("<0.%lu.0> <- {'EXIT',#Port<0.%u>,killed}", PID(owner),
                  p->idx);
}

DC_TEST(bang_close_sends_closed_after_stop) {
  load(0);
  dc__port *p = open_port(0);
  dc__port_exit(p, "normal", 1);
  DC_ASSERT_EVENT("<0.%lu.0> <- {#Port<0.%u>,closed}", PID(owner), p->idx);
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
  DC_ASSERT_EVENT("control #Port<0.%u> -> [111,107]", p->idx);
  DC_ASSERT_EVENT("<0.%lu.0> <- {'EXIT',#Port<0.%u>,boom}", PID(owner), p->idx);
  DC_ASSERT_EVENT("exit #Port<0.%u> -> boom", p->idx);
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
  DC_ASSERT_EVENT("<0.%lu.0> <- {'EXIT',#Port<0.%u>,42}", PID(owner), p->idx);
}

DC_TEST(driver_exit_owner_gets_nothing) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 12, "");
  DC_ASSERT_EQ(rec.stops, 1);
  DC_ASSERT_NO_EVENT("<0.%lu.0> <- {'EXIT',#Port<0.%u>,normal}", PID(owner),
                     p->idx);
  DC_ASSERT_EVENT("exit #Port<0.%u> -> normal", p->idx);
}

DC_TEST(failure_eof_with_eof_option_keeps_port) {
  load(0);
  dc__port *p = open_port(DC__OPT_EOF);
  control(p, 13, "");
  DC_ASSERT_EVENT("<0.%lu.0> <- {#Port<0.%u>,eof}", PID(owner), p->idx);
  DC_ASSERT_EQ(p->state, DC__PORT_OPEN);
  DC_ASSERT_EQ(rec.stops, 0);
}

DC_TEST(failure_eof_without_option_exits_normal) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 15, ""); /* driver_failure(port, 0) behaves as eof */
  DC_ASSERT_EQ(rec.stops, 1);
  DC_ASSERT_EVENT("<0.%lu.0> <- {'EXIT',#Port<0.%u>,normal}", PID(owner),
                  p->idx);
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
  DC_ASSERT_NO_EVENT("open #Port<0.%u>", p->idx);
  dc__timer_advance(10);
  DC_ASSERT_EVENT("open #Port<0.%u>", p->idx);
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
  DC_ASSERT_EVENT("open {error,badarg}");
  DC_ASSERT_EQ(rec.stops, 1);
  DC_ASSERT(rec.stop_data == before); /* stop sees the old drv_data */
  DC_ASSERT_EQ(p->state, DC__PORT_DEAD);
  /* the opener was unlinked: no exit signal */
  DC_ASSERT_NO_EVENT("<0.%lu.0> <- {'EXIT',#Port<0.%u>,normal}", PID(owner),
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
  DC_ASSERT_EVENT("open #Port<0.%u>", p->idx);
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
