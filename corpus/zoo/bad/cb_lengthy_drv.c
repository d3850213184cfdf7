/* cb_lengthy_drv: a password hashing service.
 *
 * Each command is a password; the driver stretches it with many rounds of
 * a 64-bit mixing function (key stretching makes guessing expensive) and
 * answers with the 8-byte digest. control 1 sets the salt.
 *
 * DEFECT (cb.lengthy): the stretching runs inside output, on the scheduler
 * thread, for milliseconds per command, without erl_drv_consume_timeslice
 * and without handing the work to an async thread (driver_async), so the
 * scheduler stalls every other process meanwhile.
 */
#include <erl_driver.h>

#include <stdint.h>
#include <string.h>

/* ~20 ms: well past the budget plus noise allowance. */
#define ROUNDS 3000000u

typedef struct {
  ErlDrvPort port;
  uint64_t salt;
} pw_state;

static uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static ErlDrvData pw_start(ErlDrvPort port, char *command) {
  (void)command;
  pw_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->salt = 0x5A17;
  return (ErlDrvData)st;
}

static void pw_stop(ErlDrvData d) { driver_free(d); }

static void pw_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  pw_state *st = (pw_state *)d;
  uint64_t h = st->salt;
  for (ErlDrvSizeT i = 0; i < len; i++)
    h = mix(h ^ (unsigned char)buf[i]);
  for (unsigned r = 0; r < ROUNDS; r++) /* the defect: milliseconds here */
    h = mix(h + r);
  char out[8];
  for (int i = 0; i < 8; i++)
    out[i] = (char)(h >> (56 - 8 * i));
  driver_output(st->port, out, sizeof out);
}

static ErlDrvSSizeT pw_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  pw_state *st = (pw_state *)d;
  (void)rbuf;
  (void)rlen;
  if (cmd != 1 || len < 8)
    return -1;
  uint64_t s = 0;
  for (int i = 0; i < 8; i++)
    s = (s << 8) | (unsigned char)buf[i];
  st->salt = s;
  return 0;
}

static ErlDrvEntry pw_entry = {
    .start = pw_start,
    .stop = pw_stop,
    .output = pw_output,
    .control = pw_control,
    .driver_name = "cb_lengthy_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(cb_lengthy_drv) { return &pw_entry; }
