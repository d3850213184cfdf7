/* pipe_drv: I/O through driver_select.
 *
 * start creates a pipe and selects its read end for reading, marked
 * ERL_DRV_USE. Command data is written into the pipe; the emulator's poller
 * then reports the read end ready and ready_input sends what it reads to the
 * owner as {Port, {data, Data}}. So every command comes back, asynchronously,
 * through the poll loop.
 *
 * Closing follows the safe protocol: stop deselects with ERL_DRV_USE, on = 0,
 * and the read end is closed in stop_select, which ERTS calls once no poller
 * thread can still touch the fd (possibly later, from another thread).
 */
#include <erl_driver.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#define READ_CHUNK 256

typedef struct {
  ErlDrvPort port;
  int rfd; /* selected: closed by stop_select */
  int wfd; /* never selected: closed in stop */
} pipe_state;

static ErlDrvEvent fd_event(int fd) { return (ErlDrvEvent)(intptr_t)fd; }

static int set_nonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static ErlDrvData pipe_start(ErlDrvPort port, char *command) {
  (void)command;
  int fds[2];
  if (pipe(fds) != 0)
    return ERL_DRV_ERROR_ERRNO; /* open_port raises the errno atom */
  if (set_nonblocking(fds[0]) != 0 || set_nonblocking(fds[1]) != 0)
    goto fail;
  pipe_state *st = driver_alloc(sizeof *st);
  if (st == NULL)
    goto fail;
  st->port = port;
  st->rfd = fds[0];
  st->wfd = fds[1];
  driver_select(port, fd_event(st->rfd), ERL_DRV_READ | ERL_DRV_USE, 1);
  return (ErlDrvData)st;
fail:
  close(fds[0]);
  close(fds[1]);
  return ERL_DRV_ERROR_GENERAL;
}

/* Deselect with ERL_DRV_USE: ERTS calls stop_select (closing rfd) when it is
 * safe. Closing rfd here directly could race with the poller. */
static void pipe_stop(ErlDrvData drv_data) {
  pipe_state *st = (pipe_state *)drv_data;
  driver_select(st->port, fd_event(st->rfd), ERL_DRV_USE, 0);
  close(st->wfd);
  driver_free(st);
}

/* May run on any thread with no lock held, after the port is gone: only the
 * fd itself may be touched, no driver API. */
static void pipe_stop_select(ErlDrvEvent event, void *reserved) {
  (void)reserved;
  close((int)(intptr_t)event);
}

/* Reads until the pipe is empty. A false event (nothing to read) is normal:
 * read fails with EAGAIN and the callback simply returns. */
static void pipe_ready_input(ErlDrvData drv_data, ErlDrvEvent event) {
  pipe_state *st = (pipe_state *)drv_data;
  char buf[READ_CHUNK];
  for (;;) {
    ssize_t n = read((int)(intptr_t)event, buf, sizeof buf);
    if (n > 0) {
      driver_output(st->port, buf, (ErlDrvSizeT)n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n == 0) /* cannot happen while wfd is open; treat as end of data */
      driver_failure_eof(st->port);
    return; /* EAGAIN: drained (or a false event) */
  }
}

/* Writes the whole command into the pipe. Small writes to an empty pipe do
 * not block; data that does not fit is reported as an error. */
static void pipe_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  pipe_state *st = (pipe_state *)drv_data;
  while (len > 0) {
    ssize_t n = write(st->wfd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      driver_failure_posix(st->port, errno);
      return;
    }
    buf += n;
    len -= (ErlDrvSizeT)n;
  }
}

static ErlDrvEntry pipe_entry = {
    .start = pipe_start,
    .stop = pipe_stop,
    .output = pipe_output,
    .ready_input = pipe_ready_input,
    .driver_name = "pipe_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
    .stop_select = pipe_stop_select,
};

DRIVER_INIT(pipe_drv) { return &pipe_entry; }
