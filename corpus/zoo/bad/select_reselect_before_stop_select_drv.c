/* select_reselect_before_stop_select_drv: a pipe reader with "rewind".
 *
 * start creates a non-blocking pipe and selects its read end with
 * ERL_DRV_READ | ERL_DRV_USE. The read end is reference counted: the port
 * holds one reference and the poller one while the fd is in use;
 * stop_select drops the poller's reference and the last reference closes
 * the fd. Commands go into the pipe and come back through ready_input.
 * control 2 (rewind) discards unread data and re-registers the reader.
 *
 * DEFECT (select.reselect_before_stop_select): rewind deselects with
 * ERL_DRV_USE and selects the fd again at once. When the emulator defers
 * stop_select (a poller thread may still be looking at the fd), the event
 * is still in its stop state: selecting it again before stop_select ran is
 * an error (ERTS cancels the stop and reports a steal). Rewind should
 * deselect ERL_DRV_READ only (keeping ERL_DRV_USE).
 */
#include <erl_driver.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#define MAX_FDS 1024

static atomic_int refs[MAX_FDS]; /* per read fd: port + poller references */

typedef struct {
  ErlDrvPort port;
  int rfd, wfd;
} rw_state;

static ErlDrvEvent ev_of(int fd) { return (ErlDrvEvent)(intptr_t)fd; }

static void unref(int fd) {
  if (atomic_fetch_sub(&refs[fd], 1) == 1)
    close(fd);
}

static int nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void use_fd(rw_state *st) {
  atomic_fetch_add(&refs[st->rfd], 1); /* the poller's reference */
  driver_select(st->port, ev_of(st->rfd), ERL_DRV_READ | ERL_DRV_USE, 1);
}

static ErlDrvData rw_start(ErlDrvPort port, char *command) {
  (void)command;
  int fds[2];
  if (pipe(fds) != 0)
    return ERL_DRV_ERROR_ERRNO;
  rw_state *st = driver_alloc(sizeof *st);
  if (!st || fds[0] >= MAX_FDS || nonblock(fds[0]) || nonblock(fds[1])) {
    if (st)
      driver_free(st);
    close(fds[0]);
    close(fds[1]);
    return ERL_DRV_ERROR_GENERAL;
  }
  st->port = port;
  st->rfd = fds[0];
  st->wfd = fds[1];
  atomic_store(&refs[st->rfd], 1); /* the port's reference */
  use_fd(st);
  return (ErlDrvData)st;
}

static void rw_stop(ErlDrvData d) {
  rw_state *st = (rw_state *)d;
  driver_select(st->port, ev_of(st->rfd), ERL_DRV_USE, 0);
  unref(st->rfd);
  close(st->wfd);
  driver_free(st);
}

static void rw_stop_select(ErlDrvEvent ev, void *reserved) {
  (void)reserved;
  unref((int)(intptr_t)ev);
}

static void rw_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  rw_state *st = (rw_state *)d;
  while (len > 0) {
    ssize_t n = write(st->wfd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return;
    buf += n;
    len -= (ErlDrvSizeT)n;
  }
}

static void drain(int fd) {
  char buf[256];
  while (read(fd, buf, sizeof buf) > 0)
    ;
}

static void rw_ready_input(ErlDrvData d, ErlDrvEvent ev) {
  rw_state *st = (rw_state *)d;
  char buf[256];
  ssize_t n;
  while ((n = read((int)(intptr_t)ev, buf, sizeof buf)) > 0)
    driver_output(st->port, buf, (ErlDrvSizeT)n);
}

static ErlDrvSSizeT rw_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  rw_state *st = (rw_state *)d;
  (void)buf;
  (void)len;
  (void)rbuf;
  (void)rlen;
  if (cmd != 2)
    return -1;
  driver_select(st->port, ev_of(st->rfd), ERL_DRV_USE, 0);
  drain(st->rfd);
  use_fd(st); /* the defect: stop_select may not have run yet */
  return 0;
}

static ErlDrvEntry rw_entry = {
    .start = rw_start,
    .stop = rw_stop,
    .output = rw_output,
    .ready_input = rw_ready_input,
    .control = rw_control,
    .driver_name = "select_reselect_before_stop_select_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .stop_select = rw_stop_select,
};

DRIVER_INIT(select_reselect_before_stop_select_drv) { return &rw_entry; }
