/* good_initack_drv: an echo whose open completes asynchronously.
 *
 * With ERL_DRV_FLAG_USE_INIT_ACK, open_port/2 returns only when the driver
 * calls erl_drv_init_ack. start arms a 0 ms timer (the ack may not be made
 * inside start); the first timeout acknowledges the port exactly once and
 * records it. Later timeouts (control 1 arms one) send "ping" to the owner.
 * Commands are echoed.
 */
#include <erl_driver.h>

typedef struct {
  ErlDrvPort port;
  int acked;
} gi_state;

static ErlDrvData gi_start(ErlDrvPort port, char *command) {
  (void)command;
  gi_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->acked = 0;
  driver_set_timer(port, 0);
  return (ErlDrvData)st;
}

static void gi_stop(ErlDrvData d) { driver_free(d); }

static void gi_timeout(ErlDrvData d) {
  gi_state *st = (gi_state *)d;
  if (!st->acked) {
    st->acked = 1;
    erl_drv_init_ack(st->port, d);
    return;
  }
  driver_output(st->port, "ping", 4);
}

static void gi_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  driver_output(((gi_state *)d)->port, buf, len);
}

static ErlDrvSSizeT gi_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  gi_state *st = (gi_state *)d;
  (void)buf;
  (void)len;
  (void)rbuf;
  (void)rlen;
  if (cmd != 1)
    return -1;
  driver_set_timer(st->port, 100);
  return 0;
}

static ErlDrvEntry gi_entry = {
    .start = gi_start,
    .stop = gi_stop,
    .output = gi_output,
    .timeout = gi_timeout,
    .control = gi_control,
    .driver_name = "good_initack_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = ERL_DRV_FLAG_USE_INIT_ACK,
};

DRIVER_INIT(good_initack_drv) { return &gi_entry; }
