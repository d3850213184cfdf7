/* term_drv: sending Erlang terms with erl_drv_output_term/erl_drv_send_term.
 *
 * Each control operation builds one term from an ErlDrvTermData spec (the
 * opcodes are in reverse Polish order) and sends it; the control reply itself
 * is empty ([]).
 *   1 -> owner:  {tagged, Port, 42, "str", <<"bin">>}
 *   2 -> owner:  {mixed, [1, two, "x"], #{a => 1, b => 2}, 3.5}
 *   3 -> caller: {caller, CallerPid}      (erl_drv_send_term)
 *   4 -> owner:  {wide, -1, MinInt64, MaxUInt64, <<"copied">>, "ab" ++ "cd"}
 * The message is the bare term: unlike driver_output there is no
 * {Port, {data, ...}} wrapper, but the sender is still the port.
 */
#include <erl_driver.h>
#include <stdint.h>
#include <string.h>

#define N_ELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

typedef struct {
  ErlDrvPort port;
  ErlDrvTermData port_term; /* driver_mk_port, cached: it never changes */
} term_state;

static ErlDrvData term_start(ErlDrvPort port, char *command) {
  (void)command;
  term_state *st = driver_alloc(sizeof *st);
  if (st == NULL)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->port_term = driver_mk_port(port);
  return (ErlDrvData)st;
}

static void term_stop(ErlDrvData drv_data) { driver_free(drv_data); }

/* ERL_DRV_BINARY references the binary: ERTS takes its own reference (or
 * copies small ones), so ours is released right after sending. */
static int send_tagged(term_state *st) {
  static char str[] = "str";
  ErlDrvBinary *bin = driver_alloc_binary(3);
  if (bin == NULL)
    return -1;
  memcpy(bin->orig_bytes, "bin", 3);
  ErlDrvTermData spec[] = {
      ERL_DRV_ATOM,        driver_mk_atom("tagged"),
      ERL_DRV_PORT,        st->port_term,
      ERL_DRV_INT,         (ErlDrvTermData)42,
      ERL_DRV_STRING,      (ErlDrvTermData)str,
      (ErlDrvTermData)3,   ERL_DRV_BINARY,
      (ErlDrvTermData)bin, (ErlDrvTermData)3,
      (ErlDrvTermData)0,   ERL_DRV_TUPLE,
      (ErlDrvTermData)5,
  };
  int rc = erl_drv_output_term(st->port_term, spec, N_ELEMS(spec));
  driver_free_binary(bin);
  return rc;
}

/* Lists count their tail ([] here) in ERL_DRV_LIST; maps take key/value
 * pairs. Keys are pushed out of order: the map is the same either way. */
static int send_mixed(term_state *st) {
  static char x[] = "x";
  double f = 3.5; /* ERL_DRV_FLOAT takes a pointer, read during the call */
  ErlDrvTermData spec[] = {
      ERL_DRV_ATOM,      driver_mk_atom("mixed"),
      ERL_DRV_INT,       (ErlDrvTermData)1,
      ERL_DRV_ATOM,      driver_mk_atom("two"),
      ERL_DRV_STRING,    (ErlDrvTermData)x,
      (ErlDrvTermData)1, ERL_DRV_NIL,
      ERL_DRV_LIST,      (ErlDrvTermData)4,
      ERL_DRV_ATOM,      driver_mk_atom("b"),
      ERL_DRV_INT,       (ErlDrvTermData)2,
      ERL_DRV_ATOM,      driver_mk_atom("a"),
      ERL_DRV_INT,       (ErlDrvTermData)1,
      ERL_DRV_MAP,       (ErlDrvTermData)2,
      ERL_DRV_FLOAT,     (ErlDrvTermData)&f,
      ERL_DRV_TUPLE,     (ErlDrvTermData)4,
  };
  return erl_drv_output_term(st->port_term, spec, N_ELEMS(spec));
}

/* driver_caller is only valid inside start/output/outputv/control/call. */
static int send_caller(term_state *st) {
  ErlDrvTermData caller = driver_caller(st->port);
  ErlDrvTermData spec[] = {
      ERL_DRV_ATOM,  driver_mk_atom("caller"), ERL_DRV_PID, caller,
      ERL_DRV_TUPLE, (ErlDrvTermData)2,
  };
  return erl_drv_send_term(st->port_term, caller, spec, N_ELEMS(spec));
}

/* 64-bit values go by pointer; BUF2BINARY copies; STRING_CONS prepends
 * characters to the list on top of the stack. */
static int send_wide(term_state *st) {
  static char copied[] = "copied", ab[] = "ab", cd[] = "cd";
  ErlDrvSInt64 min64 = INT64_MIN;
  ErlDrvUInt64 max64 = UINT64_MAX;
  ErlDrvTermData spec[] = {
      ERL_DRV_ATOM,        driver_mk_atom("wide"),
      ERL_DRV_INT,         (ErlDrvTermData)(ErlDrvSInt)-1,
      ERL_DRV_INT64,       (ErlDrvTermData)&min64,
      ERL_DRV_UINT64,      (ErlDrvTermData)&max64,
      ERL_DRV_BUF2BINARY,  (ErlDrvTermData)copied,
      (ErlDrvTermData)6,   ERL_DRV_STRING,
      (ErlDrvTermData)cd,  (ErlDrvTermData)2,
      ERL_DRV_STRING_CONS, (ErlDrvTermData)ab,
      (ErlDrvTermData)2,   ERL_DRV_TUPLE,
      (ErlDrvTermData)6,
  };
  return erl_drv_output_term(st->port_term, spec, N_ELEMS(spec));
}

static ErlDrvSSizeT term_control(ErlDrvData drv_data, unsigned int command,
                                 char *buf, ErlDrvSizeT len, char **rbuf,
                                 ErlDrvSizeT rlen) {
  term_state *st = (term_state *)drv_data;
  (void)buf;
  (void)len;
  (void)rbuf;
  (void)rlen;
  int rc;
  switch (command) {
  case 1:
    rc = send_tagged(st);
    break;
  case 2:
    rc = send_mixed(st);
    break;
  case 3:
    rc = send_caller(st);
    break;
  case 4:
    rc = send_wide(st);
    break;
  default:
    return -1;
  }
  return rc == 1 ? 0 : -1; /* 1 = queued for a live receiver */
}

static ErlDrvEntry term_entry = {
    .start = term_start,
    .stop = term_stop,
    .driver_name = "term_drv",
    .control = term_control,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
};

DRIVER_INIT(term_drv) { return &term_entry; }
