/* select_blocking_fd_drv: a pipe echo that reads exactly what is there.
 *
 * start creates a pipe and selects its read end (ERL_DRV_READ |
 * ERL_DRV_USE, closed in stop_select). Commands are written into the pipe;
 * ready_input asks the kernel how many bytes are buffered (FIONREAD) and
 * reads exactly those, so a false event reads nothing.
 *
 * DEFECT (select.blocking_fd): the pipe is left in blocking mode. FIONREAD
 * happens to protect this read, but any other read of a selected fd (or a
 * change to the reading code) blocks a scheduler thread when the event was
 * false; selected fds must be O_NONBLOCK.
 */
#include <erl_driver.h>

#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>

typedef struct {
  ErlDrvPort port;
  int rfd, wfd;
} bl_state;

static ErlDrvData bl_start(ErlDrvPort port, char *command) {
  (void)command;
  int fds[2];
  if (pipe(fds) != 0) /* the defect: no O_NONBLOCK on either end */
    return ERL_DRV_ERROR_ERRNO;
  bl_state *st = driver_alloc(sizeof *st);
  if (!st) {
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

static void bl_stop(ErlDrvData d) {
  bl_state *st = (bl_state *)d;
  driver_select(st->port, (ErlDrvEvent)(intptr_t)st->rfd, ERL_DRV_USE, 0);
  close(st->wfd);
  driver_free(st);
}

static void bl_stop_select(ErlDrvEvent ev, void *reserved) {
  (void)reserved;
  close((int)(intptr_t)ev);
}

/* Small commands only: a pipe holds 64 KiB, larger ones are refused. */
static void bl_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  bl_state *st = (bl_state *)d;
  int queued = 0;
  if (ioctl(st->rfd, FIONREAD, &queued) != 0 || len + (size_t)queued > 4096) {
    driver_output(st->port, "full", 4);
    return;
  }
  if (write(st->wfd, buf, len) < 0)
    driver_output(st->port, "error", 5);
}

static void bl_ready_input(ErlDrvData d, ErlDrvEvent ev) {
  bl_state *st = (bl_state *)d;
  char buf[4096];
  int avail = 0;
  int fd = (int)(intptr_t)ev;
  if (ioctl(fd, FIONREAD, &avail) != 0 || avail <= 0)
    return; /* a false event: nothing buffered */
  ssize_t n =
      read(fd, buf, (size_t)avail < sizeof buf ? (size_t)avail : sizeof buf);
  if (n > 0)
    driver_output(st->port, buf, (ErlDrvSizeT)n);
}

static ErlDrvEntry bl_entry = {
    .start = bl_start,
    .stop = bl_stop,
    .output = bl_output,
    .ready_input = bl_ready_input,
    .driver_name = "select_blocking_fd_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .stop_select = bl_stop_select,
};

DRIVER_INIT(select_blocking_fd_drv) { return &bl_entry; }
