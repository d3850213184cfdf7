/* seq_late_stop_select_drv: a pipe echo driver whose stop_select still
 * needs the port.
 *
 * Like pipe_drv, the read end of a pipe is selected with
 * ERL_DRV_READ | ERL_DRV_USE and commands come back through ready_input. To
 * find a port's state from stop_select (which only gets the event), the
 * driver keeps an fd -> state table, and stop_select records the close in
 * the owner's state.
 *
 * The one defect: stop forgets the port (clears its table entry) right
 * after deselecting, assuming stop_select already ran inside driver_select.
 * That is what usually happens, but ERTS may deliver stop_select later, from
 * another thread, once no poller uses the fd — after the port has stopped.
 * stop_select then writes through the NULL table entry.
 */
#include <erl_driver.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#define MAX_FD 4096

typedef struct {
  ErlDrvPort port;
  int rfd, wfd;
  int rfd_closed; /* set by stop_select */
} ls_state;

static ls_state *owners[MAX_FD]; /* fd -> the port selecting it */

static ErlDrvEvent fd_event(int fd) { return (ErlDrvEvent)(intptr_t)fd; }

static ErlDrvData ls_start(ErlDrvPort port, char *command) {
  int fds[2];
  (void)command;
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
    return ERL_DRV_ERROR_ERRNO;
  ls_state *st = driver_alloc(sizeof *st);
  if (st == NULL || fds[0] >= MAX_FD) {
    if (st)
      driver_free(st);
    close(fds[0]);
    close(fds[1]);
    return ERL_DRV_ERROR_GENERAL;
  }
  st->port = port;
  st->rfd = fds[0];
  st->wfd = fds[1];
  st->rfd_closed = 0;
  owners[st->rfd] = st;
  driver_select(port, fd_event(st->rfd), ERL_DRV_READ | ERL_DRV_USE, 1);
  return (ErlDrvData)st;
}

static void ls_stop(ErlDrvData drv_data) {
  ls_state *st = (ls_state *)drv_data;
  driver_select(st->port, fd_event(st->rfd), ERL_DRV_USE, 0);
  /* DEFECT: assumes stop_select has already run. */
  owners[st->rfd] = NULL;
  close(st->wfd);
  driver_free(st);
}

static void ls_stop_select(ErlDrvEvent event, void *reserved) {
  int fd = (int)(intptr_t)event;
  (void)reserved;
  ls_state *st = owners[fd];
  st->rfd_closed = 1; /* NULL deref when delivered after stop */
  close(fd);
}

/* Reads until the pipe is empty; a false event just finds EAGAIN. */
static void ls_ready_input(ErlDrvData drv_data, ErlDrvEvent event) {
  ls_state *st = (ls_state *)drv_data;
  char buf[256];
  for (;;) {
    ssize_t n = read((int)(intptr_t)event, buf, sizeof buf);
    if (n > 0) {
      driver_output(st->port, buf, (ErlDrvSizeT)n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    return;
  }
}

/* What does not fit in the pipe is dropped (an example driver). */
static void ls_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  ls_state *st = (ls_state *)drv_data;
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

static ErlDrvEntry ls_entry = {
    .start = ls_start,
    .stop = ls_stop,
    .output = ls_output,
    .ready_input = ls_ready_input,
    .driver_name = "seq_late_stop_select_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .stop_select = ls_stop_select,
};

DRIVER_INIT(seq_late_stop_select_drv) { return &ls_entry; }
