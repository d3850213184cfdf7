/* ctx_lengthy_drv: password hashing inside control.
 *
 * port_control(Port, 0, Password) answers an 8-hex-digit digest of the
 * password, stretched over many rounds so that guessing is slow. Replies
 * honour rlen (a driver_alloc'ed buffer when the default one is too small).
 *
 * The one defect: the stretching (about 8 million rounds, tens of ms of CPU)
 * runs right inside the control callback on a scheduler thread, without
 * erl_drv_consume_timeslice and without handing the work to driver_async.
 * A callback should return within about a millisecond.
 * Expected finding: cb.lengthy.
 */
#include <erl_driver.h>
#include <stdio.h>
#include <string.h>

#define ROUNDS (1u << 23)

static ErlDrvData pw_start(ErlDrvPort port, char *command) {
  (void)command;
  return (ErlDrvData)port;
}

static unsigned stretch(const char *pw, ErlDrvSizeT len) {
  unsigned h = 2166136261u;
  for (unsigned r = 0; r < ROUNDS; r++) {
    unsigned char c = len ? (unsigned char)pw[r % len] : 0;
    h = ((h ^ c ^ r) * 16777619u);
    h = (h << 7) | (h >> 25);
  }
  return h;
}

static ErlDrvSSizeT pw_control(ErlDrvData drv_data, unsigned int command,
                               char *buf, ErlDrvSizeT len, char **rbuf,
                               ErlDrvSizeT rlen) {
  (void)drv_data, (void)command;
  char hex[9];
  snprintf(hex, sizeof hex, "%08x", stretch(buf, len)); /* BUG: lengthy */
  if (rlen < 8) {
    char *big = driver_alloc(8);
    if (!big)
      return -1;
    *rbuf = big;
  }
  memcpy(*rbuf, hex, 8);
  return 8;
}

static ErlDrvEntry pw_entry = {
    .start = pw_start,
    .control = pw_control,
    .driver_name = "ctx_lengthy_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
};

DRIVER_INIT(ctx_lengthy_drv) { return &pw_entry; }
