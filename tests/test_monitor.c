/* Driver monitors and process exit. ERTS facts: shared/spec/protocol.md rows
 * 24-27 and §3.14 (io.c driver_monitor_process, erts_fire_port_monitor: the
 * monitor is removed after process_exit returns; driver_SUITE
 * driver_monitor). */
#include <stdio.h>

#include "support.h"

static struct {
  int fail_in_exit;    /* process_exit calls driver_failure_atom */
  int monitor_in_exit; /* process_exit monitors the dying pid again */
} cfg;

static struct {
  ErlDrvPort port;
  int exits, stops;
  ErlDrvData exit_data;
  ErlDrvMonitor seen[4];
  ErlDrvTermData pid_inside, caller_inside;
  int remonitor_rc;
} rec;

static ErlDrvData drv_start(ErlDrvPort port, char *cmd) {
  (void)cmd;
  rec.port = port;
  return (ErlDrvData)port;
}

static void drv_stop(ErlDrvData d) {
  (void)d;
  rec.stops++;
}

static void drv_process_exit(ErlDrvData d, ErlDrvMonitor *m) {
  ErlDrvPort port = (ErlDrvPort)d;
  if (rec.exits < 4)
    rec.seen[rec.exits] = *m;
  rec.exits++;
  rec.exit_data = d;
  rec.pid_inside = driver_get_monitored_process(port, m);
  rec.caller_inside = dc__port_lookup(port)->caller;
  if (cfg.monitor_in_exit) {
    ErlDrvMonitor again;
    rec.remonitor_rc = driver_monitor_process(port, rec.pid_inside, &again);
  }
  if (cfg.fail_in_exit)
    driver_failure_atom(port, "gone");
}

static ErlDrvEntry entry = {
    .start = drv_start,
    .stop = drv_stop,
    .driver_name = "tmon",
    .process_exit = drv_process_exit,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};
static ErlDrvEntry *tmon_init(void) { return &entry; }

static ErlDrvTermData owner, target;

static ErlDrvPort setup(void) {
  dc_test_load_static(tmon_init);
  owner = dc__proc_spawn("owner");
  target = dc__proc_spawn("target");
  return dc__port_handle(dc_test_open_port("tmon", 0, owner));
}

DC_TEST(process_exit_fires_with_pid_visible_inside) {
  ErlDrvPort h = setup();
  ErlDrvMonitor m;
  DC_ASSERT_EQ(driver_monitor_process(h, target, &m), 0);
  DC_ASSERT_EQ(driver_get_monitored_process(h, &m), target);
  dc__proc_exit(target, "normal");
  DC_ASSERT_EQ(rec.exits, 1);
  DC_ASSERT(rec.exit_data == (ErlDrvData)h);
  DC_ASSERT_EQ(driver_compare_monitors(&rec.seen[0], &m), 0);
  DC_ASSERT_EQ(rec.pid_inside, target); /* OTP 25 run */
  DC_ASSERT_EQ(rec.caller_inside, DC__NIL);
  /* gone afterwards */
  DC_ASSERT_EQ(driver_get_monitored_process(h, &m), DC__NIL);
  DC_ASSERT_EQ(driver_demonitor_process(h, &m), 1);
  DC_ASSERT(!dc__proc_alive(target));
}

DC_TEST(monitor_dead_process_returns_one) {
  ErlDrvPort h = setup();
  ErlDrvMonitor m;
  dc__proc_mark_dead(target);
  DC_ASSERT_EQ(driver_monitor_process(h, target, &m), 1);
  DC_ASSERT_EQ(driver_monitor_process(h, DC__NIL, &m), 1);
}

DC_TEST(no_process_exit_callback_returns_minus_one) {
  entry.process_exit = NULL;
  ErlDrvPort h = setup();
  ErlDrvMonitor m;
  DC_ASSERT_EQ(driver_monitor_process(h, target, &m), -1);
}

DC_TEST(demonitor_then_no_callback) {
  ErlDrvPort h = setup();
  ErlDrvMonitor m;
  driver_monitor_process(h, target, &m);
  DC_ASSERT_EQ(driver_demonitor_process(h, &m), 0);
  DC_ASSERT_EQ(driver_demonitor_process(h, &m), 1);
  dc__proc_exit(target, "normal");
  DC_ASSERT_EQ(rec.exits, 0);
}

DC_TEST(two_monitors_on_one_process_are_distinct) {
  ErlDrvPort h = setup();
  ErlDrvMonitor a, b, a2;
  driver_monitor_process(h, target, &a);
  driver_monitor_process(h, target, &b);
  a2 = a; /* monitors are copyable */
  DC_ASSERT(driver_compare_monitors(&a, &b) != 0);
  DC_ASSERT_EQ(driver_compare_monitors(&a, &a2), 0);
  dc__proc_exit(target, "normal");
  DC_ASSERT_EQ(rec.exits, 2);
}

DC_TEST(monitor_of_other_port_is_not_found) {
  ErlDrvPort h = setup();
  dc__open_result r = dc__port_open("tmon", 0, owner);
  ErlDrvPort h2 = dc__port_handle(r.port);
  ErlDrvMonitor m;
  driver_monitor_process(h, target, &m);
  DC_ASSERT_EQ(driver_demonitor_process(h2, &m), 1);
  DC_ASSERT_EQ(driver_get_monitored_process(h2, &m), DC__NIL);
  DC_ASSERT_EQ(driver_demonitor_process(h, &m), 0);
}

DC_TEST(port_exit_removes_monitors_silently) {
  ErlDrvPort h = setup();
  ErlDrvMonitor m;
  driver_monitor_process(h, target, &m);
  dc__port_exit(dc__port_lookup(h), "normal", 0);
  dc__proc_exit(target, "normal");
  DC_ASSERT_EQ(rec.exits, 0); /* §3.6: no process_exit at port exit */
}

DC_TEST(owner_exit_closes_its_ports) {
  ErlDrvPort h = setup();
  dc__port *p = dc__port_lookup(h);
  dc__proc_exit(owner, "crash");
  DC_ASSERT_EQ(rec.stops, 1);
  DC_ASSERT_EQ(p->state, DC__PORT_DEAD);
  char buf[128];
  DC_ASSERT_STREQ(dc_test_last_term(buf, sizeof buf), "crash");
  /* the dead owner receives no {'EXIT',...} message */
  DC_ASSERT_EQ(dc__trace_count(), 2); /* open + exit */
}

DC_TEST(monitoring_the_exiting_process_inside_callback_is_noproc) {
  ErlDrvPort h = setup();
  cfg.monitor_in_exit = 1;
  ErlDrvMonitor m;
  driver_monitor_process(h, target, &m);
  dc__proc_exit(target, "normal");
  DC_ASSERT_EQ(rec.remonitor_rc, 1);
}

DC_TEST(failure_inside_process_exit) {
  ErlDrvPort h = setup();
  cfg.fail_in_exit = 1;
  ErlDrvMonitor a, b;
  driver_monitor_process(h, target, &a);
  driver_monitor_process(h, target, &b);
  dc__proc_exit(target, "normal");
  DC_ASSERT_EQ(rec.exits, 1); /* the port died in the first callback */
  DC_ASSERT_EQ(rec.stops, 1);
}

DC_TEST(invalid_port_values) {
  ErlDrvPort h = setup();
  ErlDrvMonitor m;
  driver_monitor_process(h, target, &m);
  dc__port_exit(dc__port_lookup(h), "normal", 0);
  DC_ASSERT_EQ(driver_monitor_process(h, target, &m), -1);
  DC_ASSERT_EQ(driver_demonitor_process(h, &m), -1);
  DC_ASSERT_EQ(driver_get_monitored_process(h, &m), DC__NIL);
  DC_ASSERT(dc__findings_count(DC_RULE_CTX_DEAD_PORT) >= 1);
}
