/* gen_monitor_drv: monitors every process that sends it a command
 * (driver_monitor_process on driver_caller) and reports each monitored
 * exit to its owner as "down", so the sequencer's monitored-process-exit
 * stimulus has something to fire. */
#include <erl_driver.h>

typedef struct {
  ErlDrvPort port;
} mon_state;

static ErlDrvData mon_start(ErlDrvPort port, char *command) {
  (void)command;
  mon_state *st = driver_alloc(sizeof *st);
  if (st == NULL)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  return (ErlDrvData)st;
}

static void mon_stop(ErlDrvData drv_data) { driver_free(drv_data); }

static void mon_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  mon_state *st = (mon_state *)drv_data;
  ErlDrvMonitor m;
  (void)buf;
  (void)len;
  driver_monitor_process(st->port, driver_caller(st->port), &m);
}

/* The pid is still available inside the callback (protocol.md §3.14). */
static void mon_process_exit(ErlDrvData drv_data, ErlDrvMonitor *monitor) {
  mon_state *st = (mon_state *)drv_data;
  if (driver_get_monitored_process(st->port, monitor) != driver_term_nil)
    driver_output(st->port, "down", 4);
}

static ErlDrvEntry mon_entry = {
    .start = mon_start,
    .stop = mon_stop,
    .output = mon_output,
    .process_exit = mon_process_exit,
    .driver_name = "gen_monitor_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
};

DRIVER_INIT(gen_monitor_drv) { return &mon_entry; }
