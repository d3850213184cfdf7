/* mem_leak_drv: a line splitter.
 *
 * Command bytes are accumulated per port; each complete line ('\n'
 * terminated) is sent to the owner without the newline. A partial line
 * waits in a growing driver_alloc'ed buffer for the rest of it.
 *
 * DEFECT (mem.leak): stop frees the port state but not the pending partial
 * line buffer, so every port closed in the middle of a line leaks it.
 */
#include <erl_driver.h>

#include <string.h>

typedef struct {
  ErlDrvPort port;
  char *pending; /* partial line, or NULL */
  size_t len, cap;
} ls_state;

static ErlDrvData ls_start(ErlDrvPort port, char *command) {
  (void)command;
  ls_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  memset(st, 0, sizeof *st);
  st->port = port;
  return (ErlDrvData)st;
}

static void ls_stop(ErlDrvData d) {
  ls_state *st = (ls_state *)d;
  driver_free(st); /* the defect: st->pending is not freed */
}

static int append(ls_state *st, const char *p, size_t n) {
  if (st->len + n > st->cap) {
    size_t ncap = st->cap ? st->cap : 32;
    while (ncap < st->len + n)
      ncap *= 2;
    char *nb =
        st->pending ? driver_realloc(st->pending, ncap) : driver_alloc(ncap);
    if (!nb)
      return -1;
    st->pending = nb;
    st->cap = ncap;
  }
  memcpy(st->pending + st->len, p, n);
  st->len += n;
  return 0;
}

static void ls_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  ls_state *st = (ls_state *)d;
  while (len > 0) {
    char *nl = memchr(buf, '\n', len);
    size_t n = nl ? (size_t)(nl - buf) : len;
    if (append(st, buf, n) != 0) {
      driver_failure_atom(st->port, "enomem");
      return;
    }
    if (!nl)
      return;
    driver_output(st->port, st->pending, st->len);
    st->len = 0;
    buf += n + 1;
    len -= n + 1;
  }
}

static ErlDrvEntry ls_entry = {
    .start = ls_start,
    .stop = ls_stop,
    .output = ls_output,
    .driver_name = "mem_leak_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(mem_leak_drv) { return &ls_entry; }
