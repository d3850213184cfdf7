/* select_steal_drv: a driver-wide clock feed.
 *
 * init creates one non-blocking pipe shared by the whole driver; control 1
 * on any port writes a "tick" into it, and ports read ticks through
 * ready_input and forward them to their owners. The pipe is closed in
 * finish.
 *
 * DEFECT (select.steal): every port selects the same read end in start.
 * An fd can be selected by one port only: the second port "steals" it from
 * the first (ERTS logs an error and the first port never hears a tick
 * again). One port should own the feed, or each port its own pipe.
 */
#include <erl_driver.h>

#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

static int feed[2] = {-1, -1};

static int nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int ck_init(void) {
  if (pipe(feed) != 0)
    return -1;
  if (nonblock(feed[0]) || nonblock(feed[1])) {
    close(feed[0]);
    close(feed[1]);
    return -1;
  }
  return 0;
}

static void ck_finish(void) {
  close(feed[0]);
  close(feed[1]);
  feed[0] = feed[1] = -1;
}

static ErlDrvData ck_start(ErlDrvPort port, char *command) {
  (void)command;
  /* the defect: the shared fd may already be selected by another port */
  driver_select(port, (ErlDrvEvent)(intptr_t)feed[0], ERL_DRV_READ, 1);
  return (ErlDrvData)port;
}

static void ck_stop(ErlDrvData d) {
  driver_select((ErlDrvPort)d, (ErlDrvEvent)(intptr_t)feed[0], ERL_DRV_READ, 0);
}

static void ck_ready_input(ErlDrvData d, ErlDrvEvent ev) {
  char buf[64];
  ssize_t n;
  while ((n = read((int)(intptr_t)ev, buf, sizeof buf)) > 0)
    driver_output((ErlDrvPort)d, buf, (ErlDrvSizeT)n);
}

static ErlDrvSSizeT ck_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  (void)d;
  (void)buf;
  (void)len;
  (void)rbuf;
  (void)rlen;
  if (cmd != 1)
    return -1;
  return write(feed[1], "tick", 4) == 4 ? 0 : -1;
}

static ErlDrvEntry ck_entry = {
    .init = ck_init,
    .start = ck_start,
    .stop = ck_stop,
    .ready_input = ck_ready_input,
    .finish = ck_finish,
    .control = ck_control,
    .driver_name = "select_steal_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(select_steal_drv) { return &ck_entry; }
