/* ctx_stop_select_free_drv: a pipe echo driver that frees its per-fd
 * buffer in stop_select.
 *
 * start makes a non-blocking pipe and selects its read end with
 * ERL_DRV_READ | ERL_DRV_USE; commands are written into the pipe and
 * ready_input echoes what it reads back as {Port, {data, Data}}. Each
 * selected fd has a read buffer; stop deselects with ERL_DRV_USE and the
 * fd is closed in stop_select, as it should be.
 *
 * The one defect: stop_select also releases the fd's read buffer with
 * driver_free. No driver API function may be called from stop_select: it
 * runs without port or driver lock, possibly on a poll thread after the
 * port is gone. Expected finding: ctx.api_in_stop_select.
 */
#include <erl_driver.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#define BUF_SIZE 256
#define MAX_FD 1024

typedef struct {
  ErlDrvPort port;
  int rfd, wfd;
} echo_state;

/* The read buffer of each selected fd, indexed by fd. */
static char *fd_buf[MAX_FD];

static ErlDrvEvent fd_event(int fd) { return (ErlDrvEvent)(intptr_t)fd; }

static ErlDrvData ss_start(ErlDrvPort port, char *command) {
  (void)command;
  int fds[2];
  if (pipe2(fds, O_NONBLOCK) != 0)
    return ERL_DRV_ERROR_ERRNO;
  echo_state *st = driver_alloc(sizeof *st);
  char *buf = driver_alloc(BUF_SIZE);
  if (!st || !buf || fds[0] >= MAX_FD) {
    driver_free(st);
    driver_free(buf);
    close(fds[0]);
    close(fds[1]);
    return ERL_DRV_ERROR_GENERAL;
  }
  st->port = port;
  st->rfd = fds[0];
  st->wfd = fds[1];
  fd_buf[st->rfd] = buf;
  driver_select(port, fd_event(st->rfd), ERL_DRV_READ | ERL_DRV_USE, 1);
  return (ErlDrvData)st;
}

static void ss_stop(ErlDrvData drv_data) {
  echo_state *st = (echo_state *)drv_data;
  driver_select(st->port, fd_event(st->rfd), ERL_DRV_USE, 0);
  close(st->wfd);
  driver_free(st);
}

static void ss_stop_select(ErlDrvEvent event, void *reserved) {
  (void)reserved;
  int fd = (int)(intptr_t)event;
  driver_free(fd_buf[fd]); /* BUG: driver API inside stop_select */
  fd_buf[fd] = NULL;
  close(fd);
}

static void ss_ready_input(ErlDrvData drv_data, ErlDrvEvent event) {
  echo_state *st = (echo_state *)drv_data;
  int fd = (int)(intptr_t)event;
  for (;;) {
    ssize_t n = read(fd, fd_buf[fd], BUF_SIZE);
    if (n > 0) {
      driver_output(st->port, fd_buf[fd], (ErlDrvSizeT)n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    return; /* EAGAIN: drained, or a false event */
  }
}

static void ss_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  echo_state *st = (echo_state *)drv_data;
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

static ErlDrvEntry ss_entry = {
    .start = ss_start,
    .stop = ss_stop,
    .output = ss_output,
    .ready_input = ss_ready_input,
    .driver_name = "ctx_stop_select_free_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
    .stop_select = ss_stop_select,
};

DRIVER_INIT(ctx_stop_select_free_drv) { return &ss_entry; }
