/* init_ack_missing_drv: a connection driver with asynchronous open.
 *
 * With ERL_DRV_FLAG_USE_INIT_ACK, open_port/2 returns only when the driver
 * calls erl_drv_init_ack. The open command may name a remote endpoint
 * ("init_ack_missing_drv host:port"); connecting takes a while, modelled
 * by a 20 ms timer whose timeout acknowledges the port. Without an
 * endpoint the driver works locally (an echo) and is ready at once.
 *
 * DEFECT (init_ack.missing): the local fast path returns from start as
 * ready but never calls erl_drv_init_ack (only the timer path does), so
 * open_port/2 never returns for it. It should arm the same timer with 0 ms
 * (erl_drv_init_ack may not be called inside start itself).
 */
#include <erl_driver.h>

#include <string.h>

#define CONNECT_MS 20

typedef struct {
  ErlDrvPort port;
  int connecting;
} cn_state;

static ErlDrvData cn_start(ErlDrvPort port, char *command) {
  cn_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->connecting = command && strchr(command, ' ') != NULL;
  if (st->connecting)
    driver_set_timer(port, CONNECT_MS);
  /* the defect: the local path is never acknowledged */
  return (ErlDrvData)st;
}

static void cn_stop(ErlDrvData d) { driver_free(d); }

static void cn_timeout(ErlDrvData d) {
  cn_state *st = (cn_state *)d;
  if (st->connecting) {
    st->connecting = 0;
    erl_drv_init_ack(st->port, d);
  }
}

static void cn_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  cn_state *st = (cn_state *)d;
  driver_output(st->port, buf, len);
}

static ErlDrvEntry cn_entry = {
    .start = cn_start,
    .stop = cn_stop,
    .output = cn_output,
    .timeout = cn_timeout,
    .driver_name = "init_ack_missing_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = ERL_DRV_FLAG_USE_INIT_ACK,
};

DRIVER_INIT(init_ack_missing_drv) { return &cn_entry; }
