/* exec_order_drv: a codec driver with a legal-but-unusual command order.
 * control 1 ("reset") releases the codec table; control 2 ("init")
 * allocates it; control 3 ("encode") uses it. start allocates it, so the
 * usual orders work -- only reset followed by encode (without init in
 * between) dereferences the released table. drvcheck must find that order
 * and shrink a long scenario down to open, control 1, control 3. */
#include <erl_driver.h>
#include <string.h>

typedef struct {
  ErlDrvPort port;
  unsigned char *table; /* 256-byte codec table, NULL after reset */
} codec_state;

static ErlDrvData codec_start(ErlDrvPort port, char *command) {
  (void)command;
  codec_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->table = driver_alloc(256);
  for (int i = 0; st->table && i < 256; i++)
    st->table[i] = (unsigned char)(255 - i);
  return (ErlDrvData)st;
}

static void codec_stop(ErlDrvData d) {
  codec_state *st = (codec_state *)d;
  if (st->table)
    driver_free(st->table);
  driver_free(st);
}

static ErlDrvSSizeT codec_control(ErlDrvData d, unsigned int cmd, char *buf,
                                  ErlDrvSizeT len, char **rbuf,
                                  ErlDrvSizeT rlen) {
  codec_state *st = (codec_state *)d;
  switch (cmd) {
  case 1: /* reset */
    if (st->table)
      driver_free(st->table);
    st->table = NULL;
    return 0;
  case 2: /* init */
    if (!st->table)
      st->table = driver_alloc(256);
    if (st->table)
      memset(st->table, 0x5a, 256);
    return 0;
  case 3: { /* encode the first byte (or 0) -- BUG: table may be NULL */
    unsigned char in = len ? (unsigned char)buf[0] : 0;
    if (rlen < 1)
      return 0;
    (*rbuf)[0] = (char)st->table[in];
    return 1;
  }
  default:
    return 0;
  }
}

static ErlDrvEntry codec_entry = {
    .start = codec_start,
    .stop = codec_stop,
    .driver_name = "exec_order_drv",
    .control = codec_control,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(exec_order_drv) { return &codec_entry; }
