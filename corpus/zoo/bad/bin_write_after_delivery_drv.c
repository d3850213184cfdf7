/* bin_write_after_delivery_drv: a "zero-copy" echo.
 *
 * To avoid one allocation per message the driver keeps a scratch binary per
 * port, copies each command into it (growing it with driver_realloc_binary
 * when needed) and echoes it with driver_output_binary, which hands the
 * binary to Erlang without copying. The scratch binary is freed in stop.
 *
 * DEFECT (bin.write_after_delivery): the next command is copied into the
 * same binary although Erlang still references the delivered one: the
 * message the owner already received changes under its feet. A binary may
 * only be reused when driver_binary_get_refc says the driver is the sole
 * owner (1); otherwise a new one must be allocated.
 */
#include <erl_driver.h>

#include <string.h>

typedef struct {
  ErlDrvPort port;
  ErlDrvBinary *scratch;
} zc_state;

static ErlDrvData zc_start(ErlDrvPort port, char *command) {
  (void)command;
  zc_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->scratch = driver_alloc_binary(64);
  if (!st->scratch) {
    driver_free(st);
    return ERL_DRV_ERROR_GENERAL;
  }
  return (ErlDrvData)st;
}

static void zc_stop(ErlDrvData d) {
  zc_state *st = (zc_state *)d;
  driver_free_binary(st->scratch);
  driver_free(st);
}

static void zc_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  zc_state *st = (zc_state *)d;
  if ((ErlDrvSizeT)st->scratch->orig_size < len) {
    ErlDrvBinary *nb = driver_realloc_binary(st->scratch, len);
    if (!nb) {
      driver_failure_atom(st->port, "enomem");
      return;
    }
    st->scratch = nb;
  }
  /* the defect: no driver_binary_get_refc(st->scratch) == 1 check */
  memcpy(st->scratch->orig_bytes, buf, len);
  driver_output_binary(st->port, NULL, 0, st->scratch, 0, len);
}

static ErlDrvEntry zc_entry = {
    .start = zc_start,
    .stop = zc_stop,
    .output = zc_output,
    .driver_name = "bin_write_after_delivery_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(bin_write_after_delivery_drv) { return &zc_entry; }
