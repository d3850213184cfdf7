/* rbuf_overflow_drv: a counters service over port_control.
 *
 * Commands are counted per byte value. control 1 replies with the 256
 * counters (one byte each, saturating), control 2 with the number of
 * commands (4 bytes, big-endian), control 3 resets.
 *
 * DEFECT (rbuf.overflow): the 256-byte histogram reply is copied only up to
 * rlen bytes (the default reply buffer has 64) yet the full 256 is
 * returned, so the emulator reads past the end of its buffer. A reply
 * larger than rlen needs a driver_alloc'ed *rbuf.
 */
#include <erl_driver.h>

#include <string.h>

typedef struct {
  unsigned char hist[256];
  unsigned long commands;
} ctr_state;

static ErlDrvData ctr_start(ErlDrvPort port, char *command) {
  (void)port;
  (void)command;
  ctr_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  memset(st, 0, sizeof *st);
  return (ErlDrvData)st;
}

static void ctr_stop(ErlDrvData d) { driver_free(d); }

static void ctr_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  ctr_state *st = (ctr_state *)d;
  st->commands++;
  for (ErlDrvSizeT i = 0; i < len; i++)
    if (st->hist[(unsigned char)buf[i]] < 255)
      st->hist[(unsigned char)buf[i]]++;
}

static ErlDrvSSizeT ctr_control(ErlDrvData d, unsigned int cmd, char *buf,
                                ErlDrvSizeT len, char **rbuf,
                                ErlDrvSizeT rlen) {
  ctr_state *st = (ctr_state *)d;
  (void)buf;
  (void)len;
  switch (cmd) {
  case 1: {
    ErlDrvSizeT n = sizeof st->hist;
    memcpy(*rbuf, st->hist, n < rlen ? n : rlen);
    return (ErlDrvSSizeT)n; /* the defect: more than fits in *rbuf */
  }
  case 2:
    if (rlen < 4)
      return -1;
    (*rbuf)[0] = (char)(st->commands >> 24);
    (*rbuf)[1] = (char)(st->commands >> 16);
    (*rbuf)[2] = (char)(st->commands >> 8);
    (*rbuf)[3] = (char)st->commands;
    return 4;
  case 3:
    memset(st, 0, sizeof *st);
    return 0;
  default:
    return -1;
  }
}

static ErlDrvEntry ctr_entry = {
    .start = ctr_start,
    .stop = ctr_stop,
    .output = ctr_output,
    .control = ctr_control,
    .driver_name = "rbuf_overflow_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(rbuf_overflow_drv) { return &ctr_entry; }
