/* select_no_stop_select_drv: a pipe echo half-ported to ERL_DRV_USE.
 *
 * start creates a non-blocking pipe and selects its read end with
 * ERL_DRV_READ | ERL_DRV_USE; commands written into the pipe come back
 * through ready_input. stop deselects with ERL_DRV_USE.
 *
 * DEFECT (select.no_stop_select): the driver uses ERL_DRV_USE but its
 * entry has no stop_select callback, so the emulator has no way to tell it
 * when the fd may be closed (stop closes it right away instead, racing
 * with the poller).
 */
#include <erl_driver.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

typedef struct {
  ErlDrvPort port;
  int rfd, wfd;
} ns_state;

static int nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static ErlDrvData ns_start(ErlDrvPort port, char *command) {
  (void)command;
  int fds[2];
  if (pipe(fds) != 0)
    return ERL_DRV_ERROR_ERRNO;
  ns_state *st = driver_alloc(sizeof *st);
  if (!st || nonblock(fds[0]) || nonblock(fds[1])) {
    if (st)
      driver_free(st);
    close(fds[0]);
    close(fds[1]);
    return ERL_DRV_ERROR_GENERAL;
  }
  st->port = port;
  st->rfd = fds[0];
  st->wfd = fds[1];
  driver_select(port, (ErlDrvEvent)(intptr_t)st->rfd,
                ERL_DRV_READ | ERL_DRV_USE, 1);
  return (ErlDrvData)st;
}

static void ns_stop(ErlDrvData d) {
  ns_state *st = (ns_state *)d;
  driver_select(st->port, (ErlDrvEvent)(intptr_t)st->rfd, ERL_DRV_USE, 0);
  close(st->rfd);
  close(st->wfd);
  driver_free(st);
}

static void ns_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  ns_state *st = (ns_state *)d;
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

static void ns_ready_input(ErlDrvData d, ErlDrvEvent ev) {
  ns_state *st = (ns_state *)d;
  char buf[256];
  ssize_t n;
  while ((n = read((int)(intptr_t)ev, buf, sizeof buf)) > 0)
    driver_output(st->port, buf, (ErlDrvSizeT)n);
}

static ErlDrvEntry ns_entry = {
    .start = ns_start,
    .stop = ns_stop,
    .output = ns_output,
    .ready_input = ns_ready_input,
    .driver_name = "select_no_stop_select_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    /* the defect: .stop_select is missing */
};

DRIVER_INIT(select_no_stop_select_drv) { return &ns_entry; }
