/* term_bad_ref_drv: an echo that answers {Port, {echo, Bytes}}.
 *
 * Each command is returned to the owner as {Port, {echo, Bytes}} built with
 * erl_drv_output_term; the atom is made once per port in start.
 *
 * DEFECT (term.bad_ref): the ERL_DRV_PORT value is the ErlDrvPort handle
 * cast to ErlDrvTermData instead of driver_mk_port(port). A port term must
 * be made by driver_mk_port; the handle is an emulator pointer, not a term.
 */
#include <erl_driver.h>

typedef struct {
  ErlDrvPort port;
  ErlDrvTermData echo_atom;
} te_state;

static ErlDrvData te_start(ErlDrvPort port, char *command) {
  (void)command;
  te_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->echo_atom = driver_mk_atom("echo");
  return (ErlDrvData)st;
}

static void te_stop(ErlDrvData d) { driver_free(d); }

static void te_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  te_state *st = (te_state *)d;
  ErlDrvTermData spec[] = {
      ERL_DRV_PORT,
      (ErlDrvTermData)st->port, /* the defect */
      ERL_DRV_ATOM,
      st->echo_atom,
      ERL_DRV_BUF2BINARY,
      (ErlDrvTermData)buf,
      (ErlDrvTermData)len,
      ERL_DRV_TUPLE,
      2,
      ERL_DRV_TUPLE,
      2,
  };
  erl_drv_output_term(driver_mk_port(st->port), spec,
                      (int)(sizeof spec / sizeof spec[0]));
}

static ErlDrvEntry te_entry = {
    .start = te_start,
    .stop = te_stop,
    .output = te_output,
    .driver_name = "term_bad_ref_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(term_bad_ref_drv) { return &te_entry; }
