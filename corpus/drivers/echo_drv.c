/* echo_drv: the smallest useful port driver.
 *
 * Everything written to the port comes back to the owner as
 * {Port, {data, Data}}, in list or binary form depending on how the port was
 * opened. control operation 1 answers "pong".
 *
 * Both output and outputv are provided. ERTS always prefers outputv when it is
 * present (whatever the port mode), so output is what an emulator without
 * outputv support would use; the two are distinguishable in binary mode:
 * driver_outputv keeps the segments of the I/O vector as separate binaries,
 * driver_output sends one flat binary.
 *
 * Erlang usage:
 *   ok = erl_ddll:load_driver(Dir, echo_drv),
 *   P = open_port({spawn_driver, "echo_drv"}, [binary]),
 *   port_command(P, <<"hi">>),   % => {P, {data, <<"hi">>}}
 *   "pong" = port_control(P, 1, []).
 */
#include <erl_driver.h>
#include <string.h>

#define ECHO_OP_PING 1

typedef struct {
  ErlDrvPort port;
} echo_state;

static ErlDrvData echo_start(ErlDrvPort port, char *command) {
  (void)command;
  echo_state *st = driver_alloc(sizeof *st);
  if (st == NULL)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  return (ErlDrvData)st;
}

static void echo_stop(ErlDrvData drv_data) { driver_free(drv_data); }

/* Flat copy of the command data; ERTS owns buf and frees it after return. */
static void echo_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  echo_state *st = (echo_state *)drv_data;
  driver_output(st->port, buf, len);
}

/* The vector (iov[0] is an empty placeholder) is sent back as is: no copy,
 * ERTS takes its own references to the binaries in ev->binv. */
static void echo_outputv(ErlDrvData drv_data, ErlIOVec *ev) {
  echo_state *st = (echo_state *)drv_data;
  driver_outputv(st->port, NULL, 0, ev, 0);
}

/* The default reply buffer holds rlen (64) bytes: plenty for "pong". */
static ErlDrvSSizeT echo_control(ErlDrvData drv_data, unsigned int command,
                                 char *buf, ErlDrvSizeT len, char **rbuf,
                                 ErlDrvSizeT rlen) {
  (void)drv_data;
  (void)buf;
  (void)len;
  static const char pong[] = "pong";
  if (command != ECHO_OP_PING || rlen < sizeof pong - 1)
    return -1; /* the caller gets badarg */
  memcpy(*rbuf, pong, sizeof pong - 1);
  return (ErlDrvSSizeT)(sizeof pong - 1);
}

static ErlDrvEntry echo_entry = {
    .start = echo_start,
    .stop = echo_stop,
    .output = echo_output,
    .driver_name = "echo_drv",
    .control = echo_control,
    .outputv = echo_outputv,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
};

DRIVER_INIT(echo_drv) { return &echo_entry; }
