/* good_select_drv: an echo through a socket pair, using driver_select the
 * safe way.
 *
 * start creates a non-blocking AF_UNIX socket pair; the port's end (fd 0)
 * is selected for reading with ERL_DRV_USE. Commands are written into the
 * other end and come back through ready_input. control 1 pauses reading
 * (deselect ERL_DRV_READ only, so the fd stays "in use"), control 2
 * resumes it. stop deselects with ERL_DRV_USE; the fd is closed in
 * stop_select, which may run later, on another thread, without locks, so
 * it touches nothing but the fd. ready_input tolerates false events.
 */
#include <erl_driver.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
  ErlDrvPort port;
  int mine, peer; /* mine: selected, closed by stop_select; peer: in stop */
  int paused;
} gs_state;

static ErlDrvEvent ev(int fd) { return (ErlDrvEvent)(intptr_t)fd; }

static int nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static ErlDrvData gs_start(ErlDrvPort port, char *command) {
  (void)command;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
    return ERL_DRV_ERROR_ERRNO;
  gs_state *st = driver_alloc(sizeof *st);
  if (!st || nonblock(sv[0]) || nonblock(sv[1])) {
    if (st)
      driver_free(st);
    close(sv[0]);
    close(sv[1]);
    return ERL_DRV_ERROR_GENERAL;
  }
  st->port = port;
  st->mine = sv[0];
  st->peer = sv[1];
  st->paused = 0;
  driver_select(port, ev(st->mine), ERL_DRV_READ | ERL_DRV_USE, 1);
  return (ErlDrvData)st;
}

static void gs_stop(ErlDrvData d) {
  gs_state *st = (gs_state *)d;
  driver_select(st->port, ev(st->mine), ERL_DRV_READ | ERL_DRV_USE, 0);
  close(st->peer);
  driver_free(st);
}

static void gs_stop_select(ErlDrvEvent e, void *reserved) {
  (void)reserved;
  close((int)(intptr_t)e);
}

static void gs_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  gs_state *st = (gs_state *)d;
  while (len > 0) {
    ssize_t n = write(st->peer, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      driver_output(st->port, "overrun", 7);
      return;
    }
    buf += n;
    len -= (ErlDrvSizeT)n;
  }
}

static void gs_ready_input(ErlDrvData d, ErlDrvEvent e) {
  gs_state *st = (gs_state *)d;
  char buf[512];
  for (;;) {
    ssize_t n = read((int)(intptr_t)e, buf, sizeof buf);
    if (n > 0) {
      driver_output(st->port, buf, (ErlDrvSizeT)n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    return; /* EAGAIN: drained, or a false event */
  }
}

static ErlDrvSSizeT gs_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  gs_state *st = (gs_state *)d;
  (void)buf;
  (void)len;
  (void)rbuf;
  (void)rlen;
  if (cmd == 1 && !st->paused) {
    driver_select(st->port, ev(st->mine), ERL_DRV_READ, 0); /* USE stays */
    st->paused = 1;
  } else if (cmd == 2 && st->paused) {
    driver_select(st->port, ev(st->mine), ERL_DRV_READ, 1);
    st->paused = 0;
  } else if (cmd != 1 && cmd != 2) {
    return -1;
  }
  return 0;
}

static ErlDrvEntry gs_entry = {
    .start = gs_start,
    .stop = gs_stop,
    .output = gs_output,
    .ready_input = gs_ready_input,
    .control = gs_control,
    .driver_name = "good_select_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .stop_select = gs_stop_select,
};

DRIVER_INIT(good_select_drv) { return &gs_entry; }
