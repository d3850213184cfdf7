/* ctx_api_in_stop_select_drv: a line reader on a non-blocking pipe.
 *
 * Commands are written into a pipe whose read end is selected with
 * ERL_DRV_READ | ERL_DRV_USE; ready_input collects bytes in a per-fd line
 * buffer (a driver_alloc'ed block kept in a table indexed by fd) and sends
 * every complete line to the owner. stop deselects with ERL_DRV_USE and
 * stop_select closes the read end.
 *
 * DEFECT (ctx.api_in_stop_select): stop_select also releases the fd's line
 * buffer with driver_free. stop_select runs without any port or driver lock,
 * possibly on another thread after the port is gone: no driver API may be
 * called there. The buffer belongs in stop.
 */
#include <erl_driver.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define MAX_FDS 1024
#define LINE_MAX_LEN 512

typedef struct {
  char *data;
  size_t len;
} line_buf;

typedef struct {
  ErlDrvPort port;
  int rfd, wfd;
} reader;

static line_buf lines[MAX_FDS]; /* indexed by the read fd */

static int nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static ErlDrvData rd_start(ErlDrvPort port, char *command) {
  (void)command;
  int fds[2];
  if (pipe(fds) != 0)
    return ERL_DRV_ERROR_ERRNO;
  reader *r = driver_alloc(sizeof *r);
  char *buf = driver_alloc(LINE_MAX_LEN);
  if (!r || !buf || fds[0] >= MAX_FDS || nonblock(fds[0]) || nonblock(fds[1])) {
    if (r)
      driver_free(r);
    if (buf)
      driver_free(buf);
    close(fds[0]);
    close(fds[1]);
    return ERL_DRV_ERROR_GENERAL;
  }
  r->port = port;
  r->rfd = fds[0];
  r->wfd = fds[1];
  lines[r->rfd].data = buf;
  lines[r->rfd].len = 0;
  driver_select(port, (ErlDrvEvent)(intptr_t)r->rfd, ERL_DRV_READ | ERL_DRV_USE,
                1);
  return (ErlDrvData)r;
}

static void rd_stop(ErlDrvData d) {
  reader *r = (reader *)d;
  driver_select(r->port, (ErlDrvEvent)(intptr_t)r->rfd, ERL_DRV_USE, 0);
  close(r->wfd);
  driver_free(r);
}

static void rd_stop_select(ErlDrvEvent ev, void *reserved) {
  int fd = (int)(intptr_t)ev;
  (void)reserved;
  if (fd >= 0 && fd < MAX_FDS && lines[fd].data) {
    driver_free(lines[fd].data); /* the defect: driver API in stop_select */
    lines[fd].data = NULL;
  }
  close(fd);
}

static void rd_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  reader *r = (reader *)d;
  while (len > 0) {
    ssize_t n = write(r->wfd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return; /* pipe full: drop, like a lossy log */
    buf += n;
    len -= (ErlDrvSizeT)n;
  }
}

static void rd_ready_input(ErlDrvData d, ErlDrvEvent ev) {
  reader *r = (reader *)d;
  int fd = (int)(intptr_t)ev;
  line_buf *lb = &lines[fd];
  char chunk[256];
  ssize_t n;
  while ((n = read(fd, chunk, sizeof chunk)) > 0) {
    for (ssize_t i = 0; i < n; i++) {
      if (chunk[i] == '\n' || lb->len == LINE_MAX_LEN) {
        driver_output(r->port, lb->data, lb->len);
        lb->len = 0;
        if (chunk[i] == '\n')
          continue;
      }
      lb->data[lb->len++] = chunk[i];
    }
  }
}

static ErlDrvEntry rd_entry = {
    .start = rd_start,
    .stop = rd_stop,
    .output = rd_output,
    .ready_input = rd_ready_input,
    .driver_name = "ctx_api_in_stop_select_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .stop_select = rd_stop_select,
};

DRIVER_INIT(ctx_api_in_stop_select_drv) { return &rd_entry; }
