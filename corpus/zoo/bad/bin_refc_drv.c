/* bin_refc_drv: a register with snapshots.
 *
 * Each command replaces the port's current value, kept as a driver binary
 * (values are capped at VALUE_MAX bytes; longer commands are truncated).
 * control 1 (snapshot) remembers the current value; control 2 (get) replies
 * with the current value. Values are freed when replaced and in stop. The
 * snapshot shares the binary with the current value (no copy): the code
 * tracks the sharing by comparing the two pointers instead of counting
 * references with driver_binary_inc_refc.
 *
 * DEFECT (bin.refc): stop releases the current value and the snapshot
 * without the "shared?" comparison the other paths make; when the snapshot
 * is the current value, the same binary (reference count 1) is released
 * twice. Counting the second owner with driver_binary_inc_refc makes every
 * release safe.
 */
#include <erl_driver.h>

#include <string.h>

#define VALUE_MAX 1024
#define REG_SNAPSHOT 1
#define REG_GET 2

typedef struct {
  ErlDrvPort port;
  ErlDrvBinary *cur, *snap;
} reg_state;

static ErlDrvData reg_start(ErlDrvPort port, char *command) {
  (void)command;
  reg_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->cur = st->snap = NULL;
  return (ErlDrvData)st;
}

static void reg_stop(ErlDrvData d) {
  reg_state *st = (reg_state *)d;
  if (st->cur)
    driver_free_binary(st->cur);
  if (st->snap) /* the defect: st->snap may be st->cur */
    driver_free_binary(st->snap);
  driver_free(st);
}

static void reg_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  reg_state *st = (reg_state *)d;
  if (len > VALUE_MAX)
    len = VALUE_MAX;
  ErlDrvBinary *b = driver_alloc_binary(len);
  if (!b) {
    driver_failure_atom(st->port, "enomem");
    return;
  }
  memcpy(b->orig_bytes, buf, len);
  if (st->cur && st->cur != st->snap) /* a shared one stays the snapshot */
    driver_free_binary(st->cur);
  st->cur = b;
}

static ErlDrvSSizeT reg_control(ErlDrvData d, unsigned int cmd, char *buf,
                                ErlDrvSizeT len, char **rbuf,
                                ErlDrvSizeT rlen) {
  reg_state *st = (reg_state *)d;
  (void)buf;
  (void)len;
  switch (cmd) {
  case REG_SNAPSHOT:
    if (st->snap && st->snap != st->cur)
      driver_free_binary(st->snap);
    st->snap = st->cur; /* shared, no driver_binary_inc_refc */
    return 0;
  case REG_GET: {
    ErlDrvSizeT n = st->cur ? (ErlDrvSizeT)st->cur->orig_size : 0;
    if (n > rlen) {
      char *big = driver_alloc(n);
      if (!big)
        return -1;
      *rbuf = big;
    }
    if (n)
      memcpy(*rbuf, st->cur->orig_bytes, n);
    return (ErlDrvSSizeT)n;
  }
  default:
    return -1;
  }
}

static ErlDrvEntry reg_entry = {
    .start = reg_start,
    .stop = reg_stop,
    .output = reg_output,
    .control = reg_control,
    .driver_name = "bin_refc_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(bin_refc_drv) { return &reg_entry; }
