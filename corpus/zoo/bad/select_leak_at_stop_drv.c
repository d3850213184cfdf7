/* select_leak_at_stop_drv: a pipe echo in the classic (pre-ERL_DRV_USE)
 * style.
 *
 * start creates a non-blocking pipe and selects its read end for reading
 * (no ERL_DRV_USE, so no stop_select: the driver closes its fds itself
 * after deselecting). Commands are written into the pipe; ready_input sends
 * what it reads back to the owner.
 *
 * DEFECT (select.leak_at_stop): stop closes the write end and frees the
 * state but never deselects the read end ("driver gone away without
 * deselecting"): the emulator keeps polling an fd for a port that no longer
 * exists. stop must call driver_select(port, rfd, ERL_DRV_READ, 0) and then
 * close rfd.
 */
#include <erl_driver.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

typedef struct {
  ErlDrvPort port;
  int rfd, wfd;
} ce_state;

static int nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static ErlDrvData ce_start(ErlDrvPort port, char *command) {
  (void)command;
  int fds[2];
  if (pipe(fds) != 0)
    return ERL_DRV_ERROR_ERRNO;
  ce_state *st = driver_alloc(sizeof *st);
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
  driver_select(port, (ErlDrvEvent)(intptr_t)st->rfd, ERL_DRV_READ, 1);
  return (ErlDrvData)st;
}

static void ce_stop(ErlDrvData d) {
  ce_state *st = (ce_state *)d;
  /* the defect: rfd is still selected (and never closed) */
  close(st->wfd);
  driver_free(st);
}

static void ce_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  ce_state *st = (ce_state *)d;
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

static void ce_ready_input(ErlDrvData d, ErlDrvEvent ev) {
  ce_state *st = (ce_state *)d;
  char buf[256];
  ssize_t n;
  while ((n = read((int)(intptr_t)ev, buf, sizeof buf)) > 0)
    driver_output(st->port, buf, (ErlDrvSizeT)n);
}

static ErlDrvEntry ce_entry = {
    .start = ce_start,
    .stop = ce_stop,
    .output = ce_output,
    .ready_input = ce_ready_input,
    .driver_name = "select_leak_at_stop_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(select_leak_at_stop_drv) { return &ce_entry; }
