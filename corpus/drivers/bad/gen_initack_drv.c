/* gen_initack_drv: ERL_DRV_FLAG_USE_INIT_ACK. start arms a 1 ms timer and
 * the timeout acknowledges the open (erl_drv_init_ack), so open_port returns
 * only after that later callback (protocol.md §3.12). Commands echo. */
#include <erl_driver.h>

typedef struct {
  ErlDrvPort port;
} ack_state;

static ErlDrvData ack_start(ErlDrvPort port, char *command) {
  (void)command;
  ack_state *st = driver_alloc(sizeof *st);
  if (st == NULL)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  driver_set_timer(port, 1);
  return (ErlDrvData)st;
}

static void ack_stop(ErlDrvData drv_data) { driver_free(drv_data); }

static void ack_timeout(ErlDrvData drv_data) {
  ack_state *st = (ack_state *)drv_data;
  erl_drv_init_ack(st->port, drv_data);
}

static void ack_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  ack_state *st = (ack_state *)drv_data;
  driver_output(st->port, buf, len);
}

static ErlDrvSSizeT ack_control(ErlDrvData drv_data, unsigned int command,
                                char *buf, ErlDrvSizeT len, char **rbuf,
                                ErlDrvSizeT rlen) {
  (void)drv_data;
  (void)command;
  (void)buf;
  (void)len;
  (void)rbuf;
  (void)rlen;
  return 0;
}

static ErlDrvEntry ack_entry = {
    .start = ack_start,
    .stop = ack_stop,
    .output = ack_output,
    .timeout = ack_timeout,
    .control = ack_control,
    .driver_name = "gen_initack_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = ERL_DRV_FLAG_USE_INIT_ACK,
};

DRIVER_INIT(gen_initack_drv) { return &ack_entry; }
