/* san_leak_drv: a tagged echo.
 *
 * start remembers a tag for the port: the argument of the open command
 * ("san_leak_drv TAG"), or "port" when there is none, copied with strdup.
 * Each command is echoed as "TAG: data".
 *
 * DEFECT (san.leak): stop frees the port state but not the strdup'ed tag:
 * plain malloc memory leaks on every close (no driver_alloc accounting
 * sees it; LeakSanitizer does).
 */
#include <erl_driver.h>

#include <stdlib.h>
#include <string.h>

typedef struct {
  ErlDrvPort port;
  char *tag; /* strdup'ed */
} tg_state;

static ErlDrvData tg_start(ErlDrvPort port, char *command) {
  const char *sp = command ? strchr(command, ' ') : NULL;
  tg_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->tag = strdup(sp && sp[1] ? sp + 1 : "port");
  if (!st->tag) {
    driver_free(st);
    return ERL_DRV_ERROR_GENERAL;
  }
  return (ErlDrvData)st;
}

static void tg_stop(ErlDrvData d) {
  tg_state *st = (tg_state *)d;
  driver_free(st); /* the defect: free(st->tag) is missing */
}

static void tg_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  tg_state *st = (tg_state *)d;
  size_t tl = strlen(st->tag);
  char *msg = driver_alloc(tl + 2 + len);
  if (!msg)
    return;
  memcpy(msg, st->tag, tl);
  memcpy(msg + tl, ": ", 2);
  memcpy(msg + tl + 2, buf, len);
  driver_output(st->port, msg, tl + 2 + len);
  driver_free(msg);
}

static ErlDrvEntry tg_entry = {
    .start = tg_start,
    .stop = tg_stop,
    .output = tg_output,
    .driver_name = "san_leak_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(san_leak_drv) { return &tg_entry; }
