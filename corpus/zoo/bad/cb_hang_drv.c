/* cb_hang_drv: a length-prefixed frame reader on a pipe.
 *
 * Commands are written into a non-blocking pipe as frames (a 2-byte
 * big-endian length, then the bytes); the read end is selected with
 * ERL_DRV_READ | ERL_DRV_USE (closed in stop_select). ready_input reads one
 * frame and sends its payload to the owner.
 *
 * DEFECT (cb.hang): ready_input insists on reading a whole frame and
 * retries on EAGAIN until the bytes arrive. A ready_input for which no data
 * is there (a false event, which the emulator may deliver) loops forever
 * and blocks its scheduler. On EAGAIN it must return and keep the partial
 * frame for the next event.
 */
#include <erl_driver.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#define FRAME_MAX 4096

typedef struct {
  ErlDrvPort port;
  int rfd, wfd;
} fr_state;

static int nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static ErlDrvData fr_start(ErlDrvPort port, char *command) {
  (void)command;
  int fds[2];
  if (pipe(fds) != 0)
    return ERL_DRV_ERROR_ERRNO;
  fr_state *st = driver_alloc(sizeof *st);
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

static void fr_stop(ErlDrvData d) {
  fr_state *st = (fr_state *)d;
  driver_select(st->port, (ErlDrvEvent)(intptr_t)st->rfd, ERL_DRV_USE, 0);
  close(st->wfd);
  driver_free(st);
}

static void fr_stop_select(ErlDrvEvent ev, void *reserved) {
  (void)reserved;
  close((int)(intptr_t)ev);
}

static void fr_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  fr_state *st = (fr_state *)d;
  unsigned char hdr[2];
  if (len > FRAME_MAX)
    len = FRAME_MAX;
  hdr[0] = (unsigned char)(len >> 8);
  hdr[1] = (unsigned char)len;
  if (write(st->wfd, hdr, 2) == 2 && len > 0 && write(st->wfd, buf, len) < 0)
    driver_output(st->port, "error", 5);
}

/* Reads exactly n bytes. */
static int read_full(int fd, char *p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
      continue; /* the defect: spins until the data arrives */
    if (r <= 0)
      return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static void fr_ready_input(ErlDrvData d, ErlDrvEvent ev) {
  fr_state *st = (fr_state *)d;
  int fd = (int)(intptr_t)ev;
  unsigned char hdr[2];
  char payload[FRAME_MAX];
  if (read_full(fd, (char *)hdr, 2) != 0)
    return;
  size_t n = ((size_t)hdr[0] << 8) | hdr[1];
  if (n > FRAME_MAX || read_full(fd, payload, n) != 0)
    return;
  driver_output(st->port, payload, n);
}

static ErlDrvEntry fr_entry = {
    .start = fr_start,
    .stop = fr_stop,
    .output = fr_output,
    .ready_input = fr_ready_input,
    .driver_name = "cb_hang_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .stop_select = fr_stop_select,
};

DRIVER_INIT(cb_hang_drv) { return &fr_entry; }
