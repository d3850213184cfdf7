/* mem_bad_free_drv: a greeter that remembers how it was opened.
 *
 * start keeps a copy of the open_port command string (the driver name and
 * any arguments); control 1 replies with it, and each command is echoed
 * prefixed with "<name>: ". State is freed in stop.
 *
 * DEFECT (mem.bad_free): the copy is made with strdup (plain malloc) but
 * released with driver_free, which only accepts memory from driver_alloc.
 */
#include <erl_driver.h>

#include <stdlib.h>
#include <string.h>

typedef struct {
  ErlDrvPort port;
  char *name; /* strdup'ed open command */
} gr_state;

static ErlDrvData gr_start(ErlDrvPort port, char *command) {
  gr_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->name = strdup(command ? command : "");
  if (!st->name) {
    driver_free(st);
    return ERL_DRV_ERROR_GENERAL;
  }
  return (ErlDrvData)st;
}

static void gr_stop(ErlDrvData d) {
  gr_state *st = (gr_state *)d;
  driver_free(st->name); /* the defect: malloc'ed by strdup */
  driver_free(st);
}

static void gr_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  gr_state *st = (gr_state *)d;
  size_t nl = strlen(st->name);
  char *msg = driver_alloc(nl + 2 + len);
  if (!msg)
    return;
  memcpy(msg, st->name, nl);
  memcpy(msg + nl, ": ", 2);
  memcpy(msg + nl + 2, buf, len);
  driver_output(st->port, msg, nl + 2 + len);
  driver_free(msg);
}

static ErlDrvSSizeT gr_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  gr_state *st = (gr_state *)d;
  (void)buf;
  (void)len;
  if (cmd != 1)
    return -1;
  size_t n = strlen(st->name);
  if (n > rlen) {
    char *big = driver_alloc(n);
    if (!big)
      return -1;
    *rbuf = big;
  }
  memcpy(*rbuf, st->name, n);
  return (ErlDrvSSizeT)n;
}

static ErlDrvEntry gr_entry = {
    .start = gr_start,
    .stop = gr_stop,
    .output = gr_output,
    .control = gr_control,
    .driver_name = "mem_bad_free_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(mem_bad_free_drv) { return &gr_entry; }
