/* seq_false_input_drv: a pipe echo driver that trusts the poller.
 *
 * Works like pipe_drv: start makes a non-blocking pipe and selects its read
 * end (ERL_DRV_READ | ERL_DRV_USE); commands are written into the pipe and
 * ready_input sends what it reads back to the owner as {Port, {data, Data}};
 * the read end is closed in stop_select.
 *
 * The one defect: ready_input sizes its buffer with FIONREAD and assumes
 * data is there because the poller said so. ERTS may deliver a ready_input
 * when nothing is readable (a false event, e.g. a spurious wake-up or a
 * second poll round after the data was read): FIONREAD then says 0, no
 * buffer is allocated, and stripping the trailing newline reads through the
 * NULL buffer. Real events always find data, so ordinary use never crashes.
 */
#include <erl_driver.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>

typedef struct {
  ErlDrvPort port;
  int rfd, wfd;
} fi_state;

static ErlDrvEvent fd_event(int fd) { return (ErlDrvEvent)(intptr_t)fd; }

static ErlDrvData fi_start(ErlDrvPort port, char *command) {
  int fds[2];
  (void)command;
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
    return ERL_DRV_ERROR_ERRNO;
  fi_state *st = driver_alloc(sizeof *st);
  if (st == NULL) {
    close(fds[0]);
    close(fds[1]);
    return ERL_DRV_ERROR_GENERAL;
  }
  st->port = port;
  st->rfd = fds[0];
  st->wfd = fds[1];
  driver_select(port, fd_event(st->rfd), ERL_DRV_READ | ERL_DRV_USE, 1);
  return (ErlDrvData)st;
}

static void fi_stop(ErlDrvData drv_data) {
  fi_state *st = (fi_state *)drv_data;
  driver_select(st->port, fd_event(st->rfd), ERL_DRV_USE, 0);
  close(st->wfd);
  driver_free(st);
}

static void fi_stop_select(ErlDrvEvent event, void *reserved) {
  (void)reserved;
  close((int)(intptr_t)event);
}

static void fi_ready_input(ErlDrvData drv_data, ErlDrvEvent event) {
  fi_state *st = (fi_state *)drv_data;
  int avail = 0;
  ioctl((int)(intptr_t)event, FIONREAD, &avail);
  /* DEFECT: "the poller said readable, so avail > 0". */
  char *buf = avail > 0 ? driver_alloc((ErlDrvSizeT)avail) : NULL;
  ssize_t n = read((int)(intptr_t)event, buf, (size_t)avail);
  if (n < 0)
    n = 0;
  size_t len = (size_t)n;
  if (buf[avail > 0 ? avail - 1 : 0] == '\n') /* NULL deref on no data */
    len = len ? len - 1 : 0;
  driver_output(st->port, buf, len);
  driver_free(buf);
}

/* Writes the command into the pipe; what does not fit (the pipe is full)
 * is dropped, this is an example driver. */
static void fi_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  fi_state *st = (fi_state *)drv_data;
  while (len > 0) {
    ssize_t n = write(st->wfd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    buf += n;
    len -= (ErlDrvSizeT)n;
  }
}

static ErlDrvEntry fi_entry = {
    .start = fi_start,
    .stop = fi_stop,
    .output = fi_output,
    .ready_input = fi_ready_input,
    .driver_name = "seq_false_input_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .stop_select = fi_stop_select,
};

DRIVER_INIT(seq_false_input_drv) { return &fi_entry; }
