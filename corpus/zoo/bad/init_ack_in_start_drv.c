/* init_ack_in_start_drv: an echo that reports open errors through the ack.
 *
 * The driver uses ERL_DRV_FLAG_USE_INIT_ACK so that open_port/2 can fail
 * with a precise error after start (erl_drv_init_ack with ERL_DRV_ERROR_*).
 * Opening needs no slow work, so the port is acknowledged immediately.
 * Commands are echoed.
 *
 * DEFECT (init_ack.in_start): the immediate acknowledgement is made inside
 * start. The emulator ignores erl_drv_init_ack there (the port is not set
 * up yet), so open_port/2 never returns. The ack must come later, e.g. from
 * a 0 ms timer.
 */
#include <erl_driver.h>

typedef struct {
  ErlDrvPort port;
} ia_state;

static ErlDrvData ia_start(ErlDrvPort port, char *command) {
  (void)command;
  ia_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  erl_drv_init_ack(port, (ErlDrvData)st); /* the defect: inside start */
  return (ErlDrvData)st;
}

static void ia_stop(ErlDrvData d) { driver_free(d); }

static void ia_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  ia_state *st = (ia_state *)d;
  driver_output(st->port, buf, len);
}

static ErlDrvEntry ia_entry = {
    .start = ia_start,
    .stop = ia_stop,
    .output = ia_output,
    .driver_name = "init_ack_in_start_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = ERL_DRV_FLAG_USE_INIT_ACK,
};

DRIVER_INIT(init_ack_in_start_drv) { return &ia_entry; }
