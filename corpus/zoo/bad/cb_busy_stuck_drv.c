/* cb_busy_stuck_drv: a paced transmitter with back-pressure.
 *
 * Commands are queued (driver_enq) and sent to the owner 512 bytes every
 * 10 ms by a timer. When more than HIGH bytes are queued the port is
 * marked busy (set_busy_port), so senders are suspended until the backlog
 * is gone; flush lets the timer finish the job when the port closes.
 *
 * DEFECT (cb.busy_stuck): the timer drains the queue but never calls
 * set_busy_port(port, 0) when it becomes empty: the port stays busy with
 * nothing left that could ever clear it, and every sender blocks forever.
 */
#include <erl_driver.h>

#define CHUNK 512
#define PACE_MS 10
#define HIGH 32

typedef struct {
  ErlDrvPort port;
} bp_state;

static ErlDrvData bp_start(ErlDrvPort port, char *command) {
  (void)command;
  bp_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  return (ErlDrvData)st;
}

static void bp_stop(ErlDrvData d) { driver_free(d); }

static void bp_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  bp_state *st = (bp_state *)d;
  if (len == 0)
    return;
  int was_idle = driver_sizeq(st->port) == 0;
  driver_enq(st->port, buf, len);
  if (driver_sizeq(st->port) > HIGH)
    set_busy_port(st->port, 1);
  if (was_idle)
    driver_set_timer(st->port, PACE_MS);
}

static void bp_timeout(ErlDrvData d) {
  bp_state *st = (bp_state *)d;
  int vlen = 0;
  SysIOVec *iov = driver_peekq(st->port, &vlen);
  if (!iov || vlen == 0)
    return;
  ErlDrvSizeT n = iov[0].iov_len < CHUNK ? iov[0].iov_len : CHUNK;
  driver_output(st->port, iov[0].iov_base, n);
  driver_deq(st->port, n);
  if (driver_sizeq(st->port) > 0)
    driver_set_timer(st->port, PACE_MS);
  /* the defect: else set_busy_port(st->port, 0) is missing */
}

static void bp_flush(ErlDrvData d) {
  (void)d; /* the running timer drains the queue */
}

static ErlDrvEntry bp_entry = {
    .start = bp_start,
    .stop = bp_stop,
    .output = bp_output,
    .timeout = bp_timeout,
    .flush = bp_flush,
    .driver_name = "cb_busy_stuck_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(cb_busy_stuck_drv) { return &bp_entry; }
