/* select_bad_event_drv: a sensor device reader.
 *
 * The open_port command may name a device ("select_bad_event_drv /dev/x");
 * without one the default sensor device is used. start opens the device
 * non-blocking and selects it for reading; ready_input forwards whatever
 * the device produces, commands are written to it as configuration.
 *
 * DEFECT (select.bad_event): the result of open() is not checked. When the
 * device does not exist (the default one usually does not), -1 is handed
 * to driver_select as the event. start should fail the open_port with
 * ERL_DRV_ERROR_ERRNO instead.
 */
#include <erl_driver.h>

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_DEVICE "/dev/drvcheck-zoo-sensor0"

typedef struct {
  ErlDrvPort port;
  int fd;
} sn_state;

static const char *device_of(const char *command) {
  const char *sp = command ? strchr(command, ' ') : NULL;
  return sp && sp[1] ? sp + 1 : DEFAULT_DEVICE;
}

static ErlDrvData sn_start(ErlDrvPort port, char *command) {
  sn_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->fd = open(device_of(command), O_RDWR | O_NONBLOCK);
  /* the defect: st->fd may be -1 */
  driver_select(port, (ErlDrvEvent)(intptr_t)st->fd, ERL_DRV_READ, 1);
  return (ErlDrvData)st;
}

static void sn_stop(ErlDrvData d) {
  sn_state *st = (sn_state *)d;
  if (st->fd >= 0) {
    driver_select(st->port, (ErlDrvEvent)(intptr_t)st->fd, ERL_DRV_READ, 0);
    close(st->fd);
  }
  driver_free(st);
}

static void sn_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  sn_state *st = (sn_state *)d;
  if (st->fd < 0 || write(st->fd, buf, len) < 0)
    driver_output(st->port, "error", 5);
}

static void sn_ready_input(ErlDrvData d, ErlDrvEvent ev) {
  sn_state *st = (sn_state *)d;
  char buf[256];
  ssize_t n = read((int)(intptr_t)ev, buf, sizeof buf);
  if (n > 0)
    driver_output(st->port, buf, (ErlDrvSizeT)n);
}

static ErlDrvEntry sn_entry = {
    .start = sn_start,
    .stop = sn_stop,
    .output = sn_output,
    .ready_input = sn_ready_input,
    .driver_name = "select_bad_event_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(select_bad_event_drv) { return &sn_entry; }
