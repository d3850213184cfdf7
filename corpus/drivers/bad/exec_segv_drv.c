/* exec_segv_drv: an echo driver with a crash hidden behind one payload.
 *
 * Defect: output writes a "last command" note into a scratch buffer that is
 * only allocated by control 2 -- but the note is written only for commands
 * starting with "boom", so a plain smoke run never notices. With such a
 * command, output writes through a NULL pointer (SIGSEGV): drvcheck must
 * report cb.crash in output with a location inside this driver and carry
 * on with its next sequences. */
#include <erl_driver.h>
#include <string.h>

typedef struct {
  ErlDrvPort port;
  char *scratch; /* allocated by control 2, NULL until then */
} segv_state;

static ErlDrvData segv_start(ErlDrvPort port, char *command) {
  (void)command;
  segv_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->scratch = NULL;
  return (ErlDrvData)st;
}

static void segv_stop(ErlDrvData d) {
  segv_state *st = (segv_state *)d;
  if (st->scratch)
    driver_free(st->scratch);
  driver_free(st);
}

static void segv_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  segv_state *st = (segv_state *)d;
  if (len >= 4 && memcmp(buf, "boom", 4) == 0)
    memcpy(st->scratch, buf, 4); /* BUG: scratch may still be NULL */
  driver_output(st->port, buf, len);
}

static ErlDrvSSizeT segv_control(ErlDrvData d, unsigned int cmd, char *buf,
                                 ErlDrvSizeT len, char **rbuf,
                                 ErlDrvSizeT rlen) {
  segv_state *st = (segv_state *)d;
  (void)buf;
  (void)len;
  (void)rbuf;
  (void)rlen;
  if (cmd == 2 && !st->scratch)
    st->scratch = driver_alloc(64);
  return 0;
}

static ErlDrvEntry segv_entry = {
    .start = segv_start,
    .stop = segv_stop,
    .output = segv_output,
    .driver_name = "exec_segv_drv",
    .control = segv_control,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(exec_segv_drv) { return &segv_entry; }
