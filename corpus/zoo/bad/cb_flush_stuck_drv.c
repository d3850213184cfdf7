/* cb_flush_stuck_drv: a paced transmitter.
 *
 * Commands are queued in the driver queue (driver_enq) and transmitted to
 * the owner 512 bytes every 10 ms by a timer, like a slow serial line. When
 * the port is closed with data still queued, the emulator calls flush and
 * waits for the queue to drain before calling stop.
 *
 * DEFECT (cb.flush_stuck): flush cancels the transmit timer ("stop all
 * activity on close") instead of letting it drain the queue, so the queue
 * never empties, stop never runs and the port never terminates. flush must
 * keep (or start) the draining.
 */
#include <erl_driver.h>

#define CHUNK 512
#define PACE_MS 10

typedef struct {
  ErlDrvPort port;
} tx_state;

static ErlDrvData tx_start(ErlDrvPort port, char *command) {
  (void)command;
  tx_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  return (ErlDrvData)st;
}

static void tx_stop(ErlDrvData d) { driver_free(d); }

static void tx_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  tx_state *st = (tx_state *)d;
  if (len == 0)
    return;
  int was_idle = driver_sizeq(st->port) == 0;
  driver_enq(st->port, buf, len);
  if (was_idle)
    driver_set_timer(st->port, PACE_MS);
}

static void tx_timeout(ErlDrvData d) {
  tx_state *st = (tx_state *)d;
  int vlen = 0;
  SysIOVec *iov = driver_peekq(st->port, &vlen);
  if (!iov || vlen == 0)
    return;
  ErlDrvSizeT n = iov[0].iov_len < CHUNK ? iov[0].iov_len : CHUNK;
  driver_output(st->port, iov[0].iov_base, n);
  driver_deq(st->port, n);
  if (driver_sizeq(st->port) > 0)
    driver_set_timer(st->port, PACE_MS);
}

static void tx_flush(ErlDrvData d) {
  tx_state *st = (tx_state *)d;
  driver_cancel_timer(st->port); /* the defect: the queue never drains */
}

static ErlDrvEntry tx_entry = {
    .start = tx_start,
    .stop = tx_stop,
    .output = tx_output,
    .timeout = tx_timeout,
    .flush = tx_flush,
    .driver_name = "cb_flush_stuck_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(cb_flush_stuck_drv) { return &tx_entry; }
