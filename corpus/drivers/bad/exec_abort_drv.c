/* exec_abort_drv: a periodic-tick driver. control 1 arms a 100 ms timer;
 * timeout checks an invariant with abort() when it does not hold -- and it
 * never holds, since the tick counter is compared with the wrong limit.
 * drvcheck must report cb.crash in timeout (SIGABRT, located at the
 * abort() call site in this driver). */
#include <erl_driver.h>
#include <stdlib.h>

typedef struct {
  ErlDrvPort port;
  int ticks;
} tick_state;

static ErlDrvData tick_start(ErlDrvPort port, char *command) {
  (void)command;
  tick_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->ticks = 0;
  return (ErlDrvData)st;
}

static void tick_stop(ErlDrvData d) { driver_free(d); }

static ErlDrvSSizeT tick_control(ErlDrvData d, unsigned int cmd, char *buf,
                                 ErlDrvSizeT len, char **rbuf,
                                 ErlDrvSizeT rlen) {
  tick_state *st = (tick_state *)d;
  (void)buf;
  (void)len;
  (void)rbuf;
  (void)rlen;
  if (cmd == 1)
    driver_set_timer(st->port, 100);
  return 0;
}

static void tick_timeout(ErlDrvData d) {
  tick_state *st = (tick_state *)d;
  if (++st->ticks > 0) /* BUG: meant ticks > 1000 */
    abort();
  driver_set_timer(st->port, 100);
}

static ErlDrvEntry tick_entry = {
    .start = tick_start,
    .stop = tick_stop,
    .driver_name = "exec_abort_drv",
    .control = tick_control,
    .timeout = tick_timeout,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(exec_abort_drv) { return &tick_entry; }
