/* good_binctl_drv: port_control with binary replies.
 *
 * start sets PORT_CONTROL_FLAG_BINARY, so port_control/3 returns binaries.
 * control 1 replies with the payload reversed, control 2 with the payload
 * repeated 16 times. A reply that fits in rlen bytes is written into the
 * buffer the emulator offers; a larger one is built in a binary from
 * driver_alloc_binary and returned through *rbuf (in binary mode a
 * replaced *rbuf must be an ErlDrvBinary; the emulator takes it over).
 */
#include <erl_driver.h>

#include <string.h>

#define REPEAT 16

static ErlDrvData gb_start(ErlDrvPort port, char *command) {
  (void)command;
  set_port_control_flags(port, PORT_CONTROL_FLAG_BINARY);
  return (ErlDrvData)port;
}

/* The reply area for n bytes: *rbuf when it fits, else a new binary. */
static char *reply_area(ErlDrvSizeT n, char **rbuf, ErlDrvSizeT rlen) {
  if (n <= rlen)
    return *rbuf;
  ErlDrvBinary *b = driver_alloc_binary(n);
  if (!b)
    return NULL;
  *rbuf = (char *)b;
  return b->orig_bytes;
}

static ErlDrvSSizeT gb_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  (void)d;
  if (cmd == 1) {
    char *out = reply_area(len, rbuf, rlen);
    if (!out)
      return -1;
    for (ErlDrvSizeT i = 0; i < len; i++)
      out[i] = buf[len - 1 - i];
    return (ErlDrvSSizeT)len;
  }
  if (cmd == 2) {
    ErlDrvSizeT n = len * REPEAT;
    char *out = reply_area(n, rbuf, rlen);
    if (!out)
      return -1;
    for (int i = 0; i < REPEAT; i++)
      memcpy(out + (ErlDrvSizeT)i * len, buf, len);
    return (ErlDrvSSizeT)n;
  }
  return -1;
}

static ErlDrvEntry gb_entry = {
    .start = gb_start,
    .control = gb_control,
    .driver_name = "good_binctl_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(good_binctl_drv) { return &gb_entry; }
