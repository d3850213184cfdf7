/* term_malformed_drv: a tagged echo.
 *
 * Each command comes back to the owner as {Port, data, Seq, Bytes}: the
 * port, the atom data, a per-port sequence number and the command as a
 * binary, built with erl_drv_output_term.
 *
 * DEFECT (term.malformed): the spec pushes four elements but closes the
 * tuple with ERL_DRV_TUPLE, 3 (the count was not updated when the sequence
 * number was added), so two terms are left on the stack instead of one and
 * the emulator rejects the whole message.
 */
#include <erl_driver.h>

typedef struct {
  ErlDrvPort port;
  ErlDrvTermData data_atom;
  ErlDrvSInt seq;
} tag_state;

static ErlDrvData tag_start(ErlDrvPort port, char *command) {
  (void)command;
  tag_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->data_atom = driver_mk_atom("data");
  st->seq = 0;
  return (ErlDrvData)st;
}

static void tag_stop(ErlDrvData d) { driver_free(d); }

static void tag_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  tag_state *st = (tag_state *)d;
  ErlDrvTermData spec[] = {
      ERL_DRV_PORT,
      driver_mk_port(st->port),
      ERL_DRV_ATOM,
      st->data_atom,
      ERL_DRV_INT,
      (ErlDrvTermData)++st->seq,
      ERL_DRV_BUF2BINARY,
      (ErlDrvTermData)buf,
      (ErlDrvTermData)len,
      ERL_DRV_TUPLE,
      3, /* the defect: four elements were pushed */
  };
  erl_drv_output_term(driver_mk_port(st->port), spec,
                      (int)(sizeof spec / sizeof spec[0]));
}

static ErlDrvEntry tag_entry = {
    .start = tag_start,
    .stop = tag_stop,
    .output = tag_output,
    .driver_name = "term_malformed_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(term_malformed_drv) { return &tag_entry; }
