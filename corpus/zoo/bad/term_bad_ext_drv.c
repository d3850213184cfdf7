/* term_bad_ext_drv: a statistics reporter.
 *
 * Each command updates per-port totals; the driver answers with
 * {Port, {stats, Commands, Bytes}} where the inner tuple is encoded once
 * with ei and embedded into the term with ERL_DRV_EXT2TERM (so the same
 * encoder serves the driver's other outputs).
 *
 * DEFECT (term.bad_ext): the ei buffer is created with ei_x_new instead of
 * ei_x_new_with_version, so the bytes handed to ERL_DRV_EXT2TERM lack the
 * version byte and are not external term format.
 */
#include <ei.h>
#include <erl_driver.h>

typedef struct {
  ErlDrvPort port;
  long commands, bytes;
} st_state;

static ErlDrvData st_start(ErlDrvPort port, char *command) {
  (void)command;
  st_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->commands = st->bytes = 0;
  return (ErlDrvData)st;
}

static void st_stop(ErlDrvData d) { driver_free(d); }

static void st_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  st_state *st = (st_state *)d;
  ei_x_buff x;
  (void)buf;
  st->commands++;
  st->bytes += (long)len;
  if (ei_x_new(&x) != 0) /* the defect: no version byte */
    return;
  ei_x_encode_tuple_header(&x, 3);
  ei_x_encode_atom(&x, "stats");
  ei_x_encode_long(&x, st->commands);
  ei_x_encode_long(&x, st->bytes);
  ErlDrvTermData spec[] = {
      ERL_DRV_PORT,
      driver_mk_port(st->port),
      ERL_DRV_EXT2TERM,
      (ErlDrvTermData)x.buff,
      (ErlDrvTermData)x.index,
      ERL_DRV_TUPLE,
      2,
  };
  erl_drv_output_term(driver_mk_port(st->port), spec,
                      (int)(sizeof spec / sizeof spec[0]));
  ei_x_free(&x);
}

static ErlDrvEntry st_entry = {
    .start = st_start,
    .stop = st_stop,
    .output = st_output,
    .driver_name = "term_bad_ext_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(term_bad_ext_drv) { return &st_entry; }
