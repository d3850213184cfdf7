/* seq_soft_busy_drv: a framing driver with flow control.
 *
 * Every command is framed with a 4-byte big-endian length header (built in a
 * small per-port staging buffer) and queued in the driver queue; a timer
 * (1 ms) drains the queue to the owner: {Port, {data, Header}} then
 * {Port, {data, Payload}}. When more
 * than HIGH bytes are queued the port is marked busy, so senders suspend;
 * draining below LOW clears it. flush (close with data queued) drains at
 * once through a zero timer.
 *
 * The driver declares ERL_DRV_FLAG_SOFT_BUSY, which tells ERTS that output
 * may be called while the port is busy: port_command(P, D, [force]) then
 * delivers instead of failing with notsup.
 *
 * The one defect: on going busy the driver releases its staging buffer
 * ("nothing is sent while busy") and only re-creates it when the queue
 * drains. A forced send while busy, legal because of SOFT_BUSY, writes the
 * header through the NULL staging pointer.
 */
#include <erl_driver.h>
#include <string.h>

#define HIGH 512
#define LOW 128
#define HDR 4

typedef struct {
  ErlDrvPort port;
  char *stage; /* frame header staging; NULL while busy (the defect) */
  int busy;
} sb_state;

static ErlDrvData sb_start(ErlDrvPort port, char *command) {
  (void)command;
  sb_state *st = driver_alloc(sizeof *st);
  if (st == NULL)
    return ERL_DRV_ERROR_GENERAL;
  st->stage = driver_alloc(HDR);
  if (st->stage == NULL) {
    driver_free(st);
    return ERL_DRV_ERROR_GENERAL;
  }
  st->port = port;
  st->busy = 0;
  return (ErlDrvData)st;
}

/* ERTS drops whatever is still queued at stop. */
static void sb_stop(ErlDrvData drv_data) {
  sb_state *st = (sb_state *)drv_data;
  if (st->stage)
    driver_free(st->stage);
  driver_free(st);
}

static void set_busy(sb_state *st, int on) {
  if (on == st->busy)
    return;
  st->busy = on;
  set_busy_port(st->port, on);
  if (on) {
    /* DEFECT: assumes output is never called while busy. */
    driver_free(st->stage);
    st->stage = NULL;
  } else {
    st->stage = driver_alloc(HDR);
  }
}

static void sb_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  sb_state *st = (sb_state *)drv_data;
  st->stage[0] = (char)(len >> 24); /* NULL deref on a forced busy send */
  st->stage[1] = (char)(len >> 16);
  st->stage[2] = (char)(len >> 8);
  st->stage[3] = (char)len;
  if (driver_enq(st->port, st->stage, HDR) != 0 ||
      (len > 0 && driver_enq(st->port, buf, len) != 0)) {
    driver_failure_atom(st->port, "enomem");
    return;
  }
  if (driver_sizeq(st->port) > HIGH)
    set_busy(st, 1);
  driver_set_timer(st->port, 1);
}

/* Sends the queued data, one queue segment per message (a header, then its
 * payload), until the queue is empty or the timeslice is used up; re-arms if
 * data is left. */
static void sb_timeout(ErlDrvData drv_data) {
  sb_state *st = (sb_state *)drv_data;
  for (;;) {
    int vlen = 0;
    SysIOVec *iov = driver_peekq(st->port, &vlen);
    if (iov == NULL || vlen < 1)
      break;
    ErlDrvSizeT n = iov[0].iov_len;
    driver_output(st->port, iov[0].iov_base, n);
    driver_deq(st->port, n);
    if (n == 0 || erl_drv_consume_timeslice(st->port, 10))
      break;
  }
  ErlDrvSizeT left = driver_sizeq(st->port);
  if (left < LOW && st->busy)
    set_busy(st, 0);
  if (left > 0)
    driver_set_timer(st->port, 1);
}

/* Close with data queued: drain now; ERTS stops the port once the queue is
 * empty. */
static void sb_flush(ErlDrvData drv_data) {
  sb_state *st = (sb_state *)drv_data;
  driver_set_timer(st->port, 0);
}

static ErlDrvEntry sb_entry = {
    .start = sb_start,
    .stop = sb_stop,
    .output = sb_output,
    .driver_name = "seq_soft_busy_drv",
    .timeout = sb_timeout,
    .flush = sb_flush,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = ERL_DRV_FLAG_SOFT_BUSY,
};

DRIVER_INIT(seq_soft_busy_drv) { return &sb_entry; }
