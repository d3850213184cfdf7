/* good_softbusy_drv: a paced transmitter with soft-busy back-pressure.
 *
 * Commands arrive through outputv and are queued without copying
 * (driver_enqv); a timer sends 512 bytes to the owner every 10 ms. Above
 * HIGH queued bytes the port is marked busy (senders suspend), and as soon
 * as the backlog falls to LOW or less it is marked not busy again — by
 * the same timer that drains it, so busy can always clear.
 * ERL_DRV_FLAG_SOFT_BUSY declares that outputv copes with data arriving
 * while busy (port_command(..., [force])): it is simply queued. flush keeps
 * the timer draining, so a closed port terminates once the data is out.
 */
#include <erl_driver.h>

#define CHUNK 512
#define PACE_MS 10
#define HIGH 2048
#define LOW 512

typedef struct {
  ErlDrvPort port;
  int busy;
} sb_state;

static ErlDrvData sb_start(ErlDrvPort port, char *command) {
  (void)command;
  sb_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->busy = 0;
  return (ErlDrvData)st;
}

static void sb_stop(ErlDrvData d) { driver_free(d); }

static void set_busy(sb_state *st, int on) {
  if (st->busy != on) {
    set_busy_port(st->port, on);
    st->busy = on;
  }
}

static void sb_outputv(ErlDrvData d, ErlIOVec *ev) {
  sb_state *st = (sb_state *)d;
  if (ev->size == 0)
    return;
  int was_idle = driver_sizeq(st->port) == 0;
  driver_enqv(st->port, ev, 0);
  if (driver_sizeq(st->port) > HIGH)
    set_busy(st, 1);
  if (was_idle)
    driver_set_timer(st->port, PACE_MS);
}

static void sb_timeout(ErlDrvData d) {
  sb_state *st = (sb_state *)d;
  int vlen = 0;
  SysIOVec *iov = driver_peekq(st->port, &vlen);
  if (iov && vlen > 0) {
    ErlDrvSizeT n = iov[0].iov_len < CHUNK ? iov[0].iov_len : CHUNK;
    driver_output(st->port, iov[0].iov_base, n);
    driver_deq(st->port, n);
  }
  ErlDrvSizeT left = driver_sizeq(st->port);
  if (left <= LOW)
    set_busy(st, 0);
  if (left > 0)
    driver_set_timer(st->port, PACE_MS);
}

static void sb_flush(ErlDrvData d) {
  sb_state *st = (sb_state *)d;
  driver_set_timer(st->port, 0); /* keep draining; stop follows when empty */
}

static ErlDrvEntry sb_entry = {
    .start = sb_start,
    .stop = sb_stop,
    .outputv = sb_outputv,
    .timeout = sb_timeout,
    .flush = sb_flush,
    .driver_name = "good_softbusy_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = ERL_DRV_FLAG_SOFT_BUSY,
};

DRIVER_INIT(good_softbusy_drv) { return &sb_entry; }
