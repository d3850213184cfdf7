/* san_undefined_drv: a string hash service.
 *
 * Each command is hashed with the classic "h = h * 31 + c" string hash
 * and the owner receives the hash as 4 big-endian bytes; control 1 replies
 * with the hash of all bytes seen so far on the port.
 *
 * DEFECT (san.undefined): the hash is a signed int, and h * 31 + c
 * overflows it after a handful of bytes. Signed overflow is undefined
 * behaviour in C (the compiler may assume it never happens); the hash must
 * use an unsigned type. UndefinedBehaviorSanitizer reports it.
 */
#include <erl_driver.h>

typedef struct {
  ErlDrvPort port;
  int total;
} hs_state;

static int hash(int h, const char *p, ErlDrvSizeT n) {
  for (ErlDrvSizeT i = 0; i < n; i++)
    h = h * 31 + (unsigned char)p[i]; /* the defect: signed overflow */
  return h;
}

static void put_u32(char *out, int h) {
  unsigned u = (unsigned)h;
  for (int i = 0; i < 4; i++)
    out[i] = (char)(u >> (24 - 8 * i));
}

static ErlDrvData hs_start(ErlDrvPort port, char *command) {
  (void)command;
  hs_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->total = 0;
  return (ErlDrvData)st;
}

static void hs_stop(ErlDrvData d) { driver_free(d); }

static void hs_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  hs_state *st = (hs_state *)d;
  char out[4];
  st->total = hash(st->total, buf, len);
  put_u32(out, hash(0, buf, len));
  driver_output(st->port, out, sizeof out);
}

static ErlDrvSSizeT hs_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  hs_state *st = (hs_state *)d;
  (void)buf;
  (void)len;
  if (cmd != 1 || rlen < 4)
    return -1;
  put_u32(*rbuf, st->total);
  return 4;
}

static ErlDrvEntry hs_entry = {
    .start = hs_start,
    .stop = hs_stop,
    .output = hs_output,
    .control = hs_control,
    .driver_name = "san_undefined_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(san_undefined_drv) { return &hs_entry; }
