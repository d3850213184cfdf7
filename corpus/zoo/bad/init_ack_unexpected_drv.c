/* init_ack_unexpected_drv: a session driver with keepalives.
 *
 * With ERL_DRV_FLAG_USE_INIT_ACK, open_port/2 returns when the session is
 * established: start arms a 10 ms timer, whose timeout acknowledges the
 * port (erl_drv_init_ack). After that the same timer serves as a
 * keepalive: every 500 ms the owner receives "keepalive". Commands are
 * echoed.
 *
 * DEFECT (init_ack.unexpected): the timeout decides between "establish"
 * and "keepalive" with a state flag that is never updated after the ack,
 * so every keepalive acknowledges the port again. The emulator ignores
 * (and the docs forbid) a second erl_drv_init_ack.
 */
#include <erl_driver.h>

#define ESTABLISH_MS 10
#define KEEPALIVE_MS 500

enum { SESS_CONNECTING, SESS_UP };

typedef struct {
  ErlDrvPort port;
  int state;
} ka_state;

static ErlDrvData ka_start(ErlDrvPort port, char *command) {
  (void)command;
  ka_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->state = SESS_CONNECTING;
  driver_set_timer(port, ESTABLISH_MS);
  return (ErlDrvData)st;
}

static void ka_stop(ErlDrvData d) { driver_free(d); }

static void ka_timeout(ErlDrvData d) {
  ka_state *st = (ka_state *)d;
  if (st->state == SESS_CONNECTING) {
    erl_drv_init_ack(st->port, d); /* the defect: state stays CONNECTING */
  } else {
    driver_output(st->port, "keepalive", 9);
  }
  driver_set_timer(st->port, KEEPALIVE_MS);
}

static void ka_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  ka_state *st = (ka_state *)d;
  driver_output(st->port, buf, len);
}

static ErlDrvEntry ka_entry = {
    .start = ka_start,
    .stop = ka_stop,
    .output = ka_output,
    .timeout = ka_timeout,
    .driver_name = "init_ack_unexpected_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = ERL_DRV_FLAG_USE_INIT_ACK,
};

DRIVER_INIT(init_ack_unexpected_drv) { return &ka_entry; }
