/* cb_crash_drv: a configurable greeter.
 *
 * control 1 sets the greeting (the payload, up to 63 bytes); control 0
 * replies with the greeting's length as one byte; control 2 clears it.
 * Each command is answered with "<greeting>, <command>".
 *
 * DEFECT (cb.crash): the greeting starts out NULL and control 0 (and every
 * command) calls strlen on it without checking, so the first query before
 * any control 1 dereferences NULL and takes the node down.
 */
#include <erl_driver.h>

#include <string.h>

typedef struct {
  ErlDrvPort port;
  char *greeting; /* driver_alloc'ed, NULL until set */
} gc_state;

static ErlDrvData gc_start(ErlDrvPort port, char *command) {
  (void)command;
  gc_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->greeting = NULL;
  return (ErlDrvData)st;
}

static void gc_stop(ErlDrvData d) {
  gc_state *st = (gc_state *)d;
  if (st->greeting)
    driver_free(st->greeting);
  driver_free(st);
}

static void gc_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  gc_state *st = (gc_state *)d;
  size_t gl = strlen(st->greeting); /* the defect: may be NULL */
  char *msg = driver_alloc(gl + 2 + len);
  if (!msg)
    return;
  memcpy(msg, st->greeting, gl);
  memcpy(msg + gl, ", ", 2);
  memcpy(msg + gl + 2, buf, len);
  driver_output(st->port, msg, gl + 2 + len);
  driver_free(msg);
}

static ErlDrvSSizeT gc_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  gc_state *st = (gc_state *)d;
  switch (cmd) {
  case 0:
    if (rlen < 1)
      return -1;
    (*rbuf)[0] = (char)strlen(st->greeting); /* the defect again */
    return 1;
  case 1: {
    size_t n = len < 63 ? len : 63;
    char *g = driver_alloc(n + 1);
    if (!g)
      return -1;
    memcpy(g, buf, n);
    g[n] = '\0';
    if (st->greeting)
      driver_free(st->greeting);
    st->greeting = g;
    return 0;
  }
  case 2:
    if (st->greeting)
      driver_free(st->greeting);
    st->greeting = NULL;
    return 0;
  default:
    return -1;
  }
}

static ErlDrvEntry gc_entry = {
    .start = gc_start,
    .stop = gc_stop,
    .output = gc_output,
    .control = gc_control,
    .driver_name = "cb_crash_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(cb_crash_drv) { return &gc_entry; }
