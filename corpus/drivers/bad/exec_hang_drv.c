/* exec_hang_drv: a driver whose control 7 ("wait until ready") spins on a
 * flag nobody will ever set -- the emulator thread never comes back.
 * drvcheck must report cb.hang in control and carry on. */
#include <erl_driver.h>

typedef struct {
  ErlDrvPort port;
  volatile int ready; /* BUG: nothing ever sets it */
} hang_state;

static ErlDrvData hang_start(ErlDrvPort port, char *command) {
  (void)command;
  hang_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->ready = 0;
  return (ErlDrvData)st;
}

static void hang_stop(ErlDrvData d) { driver_free(d); }

static ErlDrvSSizeT hang_control(ErlDrvData d, unsigned int cmd, char *buf,
                                 ErlDrvSizeT len, char **rbuf,
                                 ErlDrvSizeT rlen) {
  hang_state *st = (hang_state *)d;
  (void)buf;
  (void)len;
  if (cmd == 7)
    while (!st->ready)
      ; /* busy wait on the scheduler thread */
  if (rlen < 2)
    return 0;
  (*rbuf)[0] = 'o';
  (*rbuf)[1] = 'k';
  return 2;
}

static ErlDrvEntry hang_entry = {
    .start = hang_start,
    .stop = hang_stop,
    .driver_name = "exec_hang_drv",
    .control = hang_control,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(exec_hang_drv) { return &hang_entry; }
