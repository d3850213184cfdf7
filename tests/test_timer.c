/* Driver timers on the virtual clock. ERTS facts: shared/spec/protocol.md rows
 * 8-10 and §3.11 (io.c driver_set_timer/driver_read_timer, erl_port_task.c
 * timeout task; driver_SUITE timer_* and ioq_exit_timeout). */
#include <stdio.h>

#include "support.h"

static struct {
  int rearm_zero;     /* timeout re-arms with 0 */
  int rearm_ms;       /* timeout re-arms with this (>0) once */
  int set_in_control; /* control arms a 0 timer */
  int flush_timer;    /* flush arms a timer, timeout drains */
} cfg;

static struct {
  int timeouts, stops, flushes;
  uint64_t now_in_timeout[8];
  unsigned order[8]; /* port index per timeout */
  unsigned long left_in_stop;
  int during_control;
} rec;

static ErlDrvData drv_start(ErlDrvPort port, char *cmd) {
  (void)cmd;
  return (ErlDrvData)port;
}

static void drv_stop(ErlDrvData d) {
  rec.stops++;
  driver_read_timer((ErlDrvPort)d, &rec.left_in_stop);
}

static void drv_timeout(ErlDrvData d) {
  int i = rec.timeouts++;
  if (i < 8) {
    rec.now_in_timeout[i] = dc__g.now_ms;
    rec.order[i] = dc__port_lookup((ErlDrvPort)d)->idx;
  }
  if (cfg.rearm_zero)
    driver_set_timer((ErlDrvPort)d, 0);
  if (cfg.rearm_ms) {
    driver_set_timer((ErlDrvPort)d, (unsigned long)cfg.rearm_ms);
    cfg.rearm_ms = 0;
  }
  if (cfg.flush_timer)
    driver_deq((ErlDrvPort)d, driver_sizeq((ErlDrvPort)d));
}

static ErlDrvSSizeT drv_control(ErlDrvData d, unsigned cmd, char *buf,
                                ErlDrvSizeT len, char **rbuf,
                                ErlDrvSizeT rlen) {
  (void)rbuf, (void)rlen;
  if (cmd == 1) {
    int before = rec.timeouts;
    driver_set_timer((ErlDrvPort)d, 0);
    rec.during_control = rec.timeouts - before;
  } else if (cmd == 2) {
    driver_enq((ErlDrvPort)d, buf, len);
  }
  return 0;
}

static void drv_flush(ErlDrvData d) {
  rec.flushes++;
  if (cfg.flush_timer)
    driver_set_timer((ErlDrvPort)d, 20);
}

static ErlDrvEntry entry = {
    .start = drv_start,
    .stop = drv_stop,
    .driver_name = "ttimer",
    .control = drv_control,
    .timeout = drv_timeout,
    .flush = drv_flush,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};
static ErlDrvEntry *ttimer_init(void) { return &entry; }

static ErlDrvTermData owner;

static ErlDrvPort open_one(void) {
  return dc__port_handle(dc_test_open_port("ttimer", 0, owner));
}

static ErlDrvPort setup(void) {
  dc_test_load_static(ttimer_init);
  owner = dc__proc_spawn("owner");
  return open_one();
}

DC_TEST(fires_when_the_clock_reaches_the_deadline) {
  ErlDrvPort h = setup();
  DC_ASSERT_EQ(driver_set_timer(h, 100), 0);
  DC_ASSERT_EQ(dc__timer_next(), 100);
  DC_ASSERT_EQ(dc__timer_advance(99), 0); /* never early (timer_measure) */
  DC_ASSERT_EQ(rec.timeouts, 0);
  DC_ASSERT_EQ(dc__timer_advance(1), 1);
  DC_ASSERT_EQ(rec.timeouts, 1);
  DC_ASSERT_EQ(rec.now_in_timeout[0], 100);
  DC_ASSERT_EQ(dc__timer_next(), UINT64_MAX);
}

DC_TEST(zero_timer_never_fires_synchronously) {
  ErlDrvPort h = setup();
  dc__port_control(dc__port_lookup(h), owner, 1, "", 0);
  DC_ASSERT_EQ(rec.during_control, 0);
  DC_ASSERT_EQ(rec.timeouts, 0);
  DC_ASSERT_EQ(dc__timer_advance(0), 1);
  DC_ASSERT_EQ(rec.timeouts, 1);
}

DC_TEST(zero_rearmed_in_timeout_waits_for_next_advance) {
  ErlDrvPort h = setup();
  cfg.rearm_zero = 1;
  driver_set_timer(h, 0);
  DC_ASSERT_EQ(dc__timer_advance(50), 1);
  DC_ASSERT_EQ(dc__timer_advance(0), 1);
  DC_ASSERT_EQ(rec.timeouts, 2);
}

DC_TEST(rearm_with_delay_measured_from_the_deadline) {
  ErlDrvPort h = setup();
  cfg.rearm_ms = 10;
  driver_set_timer(h, 5);
  DC_ASSERT_EQ(dc__timer_advance(100), 2); /* 5, then 5+10 */
  DC_ASSERT_EQ(rec.now_in_timeout[1], 15);
  DC_ASSERT_EQ(dc__g.now_ms, 100);
}

DC_TEST(set_replaces_the_timer) {
  ErlDrvPort h = setup();
  driver_set_timer(h, 100);
  driver_set_timer(h, 10); /* timer_change: the old one is gone */
  DC_ASSERT_EQ(dc__timer_advance(200), 1);
  DC_ASSERT_EQ(rec.now_in_timeout[0], 10);
}

DC_TEST(cancel_prevents_timeout_and_is_idempotent) {
  ErlDrvPort h = setup();
  driver_set_timer(h, 10);
  DC_ASSERT_EQ(driver_cancel_timer(h), 0);
  DC_ASSERT_EQ(driver_cancel_timer(h), 0);
  DC_ASSERT_EQ(dc__timer_advance(100), 0);
  DC_ASSERT_EQ(rec.timeouts, 0);
}

DC_TEST(read_timer_gives_remaining_or_zero) {
  ErlDrvPort h = setup();
  unsigned long left = 99;
  DC_ASSERT_EQ(driver_read_timer(h, &left), 0);
  DC_ASSERT_EQ(left, 0); /* none armed */
  driver_set_timer(h, 100);
  dc__timer_advance(30);
  driver_read_timer(h, &left);
  DC_ASSERT_EQ(left, 70);
  dc__timer_advance(70);
  driver_read_timer(h, &left);
  DC_ASSERT_EQ(left, 0); /* expired */
}

DC_TEST(null_timeout_callback_still_returns_zero) {
  entry.timeout = NULL; /* ERTS substitutes a no-op (docs say -1) */
  ErlDrvPort h = setup();
  DC_ASSERT_EQ(driver_set_timer(h, 1), 0);
  dc__timer_advance(1);
  DC_ASSERT_EQ(dc__port_lookup(h)->timer_armed, 0);
}

DC_TEST(deadline_order_ties_by_port_index) {
  ErlDrvPort a = setup(), b = open_one(), c = open_one();
  driver_set_timer(c, 10);
  driver_set_timer(a, 30);
  driver_set_timer(b, 10);
  DC_ASSERT_EQ(dc__timer_advance(30), 3);
  DC_ASSERT_EQ(rec.order[0], dc__port_lookup(b)->idx);
  DC_ASSERT_EQ(rec.order[1], dc__port_lookup(c)->idx);
  DC_ASSERT_EQ(rec.order[2], dc__port_lookup(a)->idx);
}

DC_TEST(timer_cancelled_before_stop) {
  ErlDrvPort h = setup();
  driver_set_timer(h, 50);
  dc__port_exit(dc__port_lookup(h), "normal", 0);
  DC_ASSERT_EQ(rec.stops, 1);
  DC_ASSERT_EQ(rec.left_in_stop, 0); /* cancelled before stop ran */
  DC_ASSERT_EQ(dc__timer_advance(100), 0);
  DC_ASSERT_EQ(rec.timeouts, 0);
}

DC_TEST(timer_fires_while_closing) {
  /* driver_SUITE ioq_exit_timeout: flush arms a timer, timeout drains */
  ErlDrvPort h = setup();
  cfg.flush_timer = 1;
  dc__port *p = dc__port_lookup(h);
  dc__port_control(p, owner, 2, "data", 4);
  dc__port_exit(p, "normal", 0);
  DC_ASSERT_EQ(p->state, DC__PORT_CLOSING);
  DC_ASSERT_EQ(dc__timer_advance(20), 1);
  DC_ASSERT_EQ(rec.stops, 1);
  DC_ASSERT_EQ(p->state, DC__PORT_DEAD);
}

DC_TEST(invalid_port_returns_minus_one) {
  ErlDrvPort h = setup();
  unsigned long left;
  dc__port_exit(dc__port_lookup(h), "normal", 0);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_CTX_DEAD_PORT), 0);
  DC_ASSERT_EQ(driver_set_timer(h, 1), -1);
  DC_ASSERT_EQ(driver_cancel_timer(h), -1);
  DC_ASSERT_EQ(driver_read_timer(h, &left), -1);
  DC_ASSERT(dc__findings_count(DC_RULE_CTX_DEAD_PORT) >= 1);
}
