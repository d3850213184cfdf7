/* gen_busy_drv: a port that goes busy, for the sequencer's busy model.
 *
 * Every third command sets the port busy (set_busy_port) and arms a 5 ms
 * timer whose timeout clears it again; control op 1 does the same. Without
 * ERL_DRV_FLAG_SOFT_BUSY the emulator never calls output while the port is
 * busy (the sender is suspended, protocol.md §3.8), so this driver aborts if
 * that ever happens. Built with GEN_SOFT_BUSY (gen_softbusy_drv.c) it
 * declares soft-busy, where a [force] command does reach output while busy:
 * it then tells its owner "forced_while_busy" so a test can count them. */
#include <erl_driver.h>

#include <stdlib.h>

#ifndef GEN_SOFT_BUSY
#define GEN_SOFT_BUSY 0
#define GEN_NAME "gen_busy_drv"
#endif

#define FORCED_MSG "forced_while_busy"

typedef struct {
  ErlDrvPort port;
  unsigned ncmd;
  int busy; /* what this driver last told set_busy_port */
} busy_state;

static ErlDrvData busy_start(ErlDrvPort port, char *command) {
  (void)command;
  busy_state *st = driver_alloc(sizeof *st);
  if (st == NULL)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->ncmd = 0;
  st->busy = 0;
  return (ErlDrvData)st;
}

static void busy_stop(ErlDrvData drv_data) { driver_free(drv_data); }

static void go_busy(busy_state *st) {
  st->busy = 1;
  set_busy_port(st->port, 1);
  driver_set_timer(st->port, 5);
}

static void busy_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  busy_state *st = (busy_state *)drv_data;
  (void)buf;
  (void)len;
  if (st->busy) {
    if (!GEN_SOFT_BUSY)
      abort(); /* the emulator must have suspended the sender */
    driver_output(st->port, FORCED_MSG, sizeof FORCED_MSG - 1);
  }
  if (++st->ncmd % 3 == 0)
    go_busy(st);
}

static void busy_timeout(ErlDrvData drv_data) {
  busy_state *st = (busy_state *)drv_data;
  st->busy = 0;
  set_busy_port(st->port, 0);
}

static ErlDrvSSizeT busy_control(ErlDrvData drv_data, unsigned int command,
                                 char *buf, ErlDrvSizeT len, char **rbuf,
                                 ErlDrvSizeT rlen) {
  (void)buf;
  (void)len;
  (void)rbuf;
  (void)rlen;
  if (command != 1)
    return -1;
  go_busy((busy_state *)drv_data);
  return 0;
}

static ErlDrvEntry busy_entry = {
    .start = busy_start,
    .stop = busy_stop,
    .output = busy_output,
    .timeout = busy_timeout,
    .control = busy_control,
    .driver_name = GEN_NAME,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = GEN_SOFT_BUSY ? ERL_DRV_FLAG_SOFT_BUSY : 0,
};

DRIVER_INIT(gen_busy_drv) { return &busy_entry; }
