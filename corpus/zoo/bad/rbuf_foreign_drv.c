/* rbuf_foreign_drv: a hex dump service over port_control.
 *
 * Commands are appended to a per-port log (the last 64 bytes are kept).
 * control 1 replies with the log as lower-case hex (two characters per
 * byte), control 2 clears the log. Short replies go into the reply buffer
 * the emulator offers (rlen bytes).
 *
 * DEFECT (rbuf.foreign): a reply longer than rlen is built in a static
 * buffer and *rbuf is pointed at it. The emulator takes ownership of a
 * replaced *rbuf and frees it with driver_free: it must come from
 * driver_alloc.
 */
#include <erl_driver.h>

#include <string.h>

#define LOG_MAX 64

typedef struct {
  unsigned char log[LOG_MAX];
  size_t len;
} hx_state;

static char big_reply[2 * LOG_MAX];

static ErlDrvData hx_start(ErlDrvPort port, char *command) {
  (void)port;
  (void)command;
  hx_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->len = 0;
  return (ErlDrvData)st;
}

static void hx_stop(ErlDrvData d) { driver_free(d); }

static void hx_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  hx_state *st = (hx_state *)d;
  for (ErlDrvSizeT i = 0; i < len; i++) {
    if (st->len == LOG_MAX) {
      memmove(st->log, st->log + 1, LOG_MAX - 1);
      st->len--;
    }
    st->log[st->len++] = (unsigned char)buf[i];
  }
}

static ErlDrvSSizeT hx_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  static const char digits[] = "0123456789abcdef";
  hx_state *st = (hx_state *)d;
  (void)buf;
  (void)len;
  if (cmd == 2) {
    st->len = 0;
    return 0;
  }
  if (cmd != 1)
    return -1;
  ErlDrvSizeT n = 2 * st->len;
  char *out = n <= rlen ? *rbuf : big_reply; /* the defect: static memory */
  for (size_t i = 0; i < st->len; i++) {
    out[2 * i] = digits[st->log[i] >> 4];
    out[2 * i + 1] = digits[st->log[i] & 15];
  }
  *rbuf = out;
  return (ErlDrvSSizeT)n;
}

static ErlDrvEntry hx_entry = {
    .start = hx_start,
    .stop = hx_stop,
    .output = hx_output,
    .control = hx_control,
    .driver_name = "rbuf_foreign_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(rbuf_foreign_drv) { return &hx_entry; }
