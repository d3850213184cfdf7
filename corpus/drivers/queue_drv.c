/* queue_drv: keeps command data in the port's driver queue.
 *
 * Commands append to the driver queue (driver_enqv from outputv, driver_enq
 * from output). control operations read it back:
 *   1 peek   -> the whole queue contents, left in place
 *   2 deq    -> Data = [N]: the first N bytes, removed from the queue
 *   3 sizeq  -> the queue size as 4 bytes, big-endian
 * A queue that still holds data when the port is closed keeps the port alive:
 * ERTS calls flush, and this driver then drains DRAIN_CHUNK bytes every
 * DRAIN_MS milliseconds from its timeout callback. ERTS terminates the port
 * (stop, then {Port, closed} for Port ! {Owner, close}) after the callback
 * that leaves the queue empty.
 */
#include <erl_driver.h>
#include <string.h>

#define QUEUE_OP_PEEK 1
#define QUEUE_OP_DEQ 2
#define QUEUE_OP_SIZEQ 3

#define DRAIN_MS 100
#define DRAIN_CHUNK 64

typedef struct {
  ErlDrvPort port;
} queue_state;

static ErlDrvData queue_start(ErlDrvPort port, char *command) {
  (void)command;
  queue_state *st = driver_alloc(sizeof *st);
  if (st == NULL)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  return (ErlDrvData)st;
}

/* ERTS cancels the timer and frees what is left in the queue itself. */
static void queue_stop(ErlDrvData drv_data) { driver_free(drv_data); }

static void queue_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  queue_state *st = (queue_state *)drv_data;
  driver_enq(st->port, buf, len); /* copies: buf is ERTS's */
}

/* Binaries in ev are referenced (not copied) by driver_enqv; the empty
 * iov[0] placeholder is skipped by it. */
static void queue_outputv(ErlDrvData drv_data, ErlIOVec *ev) {
  queue_state *st = (queue_state *)drv_data;
  driver_enqv(st->port, ev, 0);
}

/* Copies up to n bytes from the head of the queue into dst; returns the
 * number of bytes copied. driver_peekq points into the queue: no copy. */
static ErlDrvSizeT copy_head(ErlDrvPort port, char *dst, ErlDrvSizeT n) {
  int vlen = 0;
  SysIOVec *iov = driver_peekq(port, &vlen);
  ErlDrvSizeT done = 0;
  for (int i = 0; i < vlen && done < n; i++) {
    ErlDrvSizeT take = iov[i].iov_len;
    if (take > n - done)
      take = n - done;
    memcpy(dst + done, iov[i].iov_base, take);
    done += take;
  }
  return done;
}

/* Replies with (and for deq removes) the first n queued bytes. A reply that
 * does not fit the rlen-byte default buffer goes into a driver_alloc'ed
 * buffer, which ERTS frees after copying it into the reply list. */
static ErlDrvSSizeT reply_head(queue_state *st, ErlDrvSizeT n, int remove,
                               char **rbuf, ErlDrvSizeT rlen) {
  ErlDrvSizeT size = driver_sizeq(st->port);
  if (n > size)
    return -1;
  if (n > rlen) {
    char *big = driver_alloc(n);
    if (big == NULL)
      return -1;
    *rbuf = big;
  }
  ErlDrvSizeT got = copy_head(st->port, *rbuf, n);
  if (remove)
    driver_deq(st->port, got);
  return (ErlDrvSSizeT)got;
}

static ErlDrvSSizeT queue_control(ErlDrvData drv_data, unsigned int command,
                                  char *buf, ErlDrvSizeT len, char **rbuf,
                                  ErlDrvSizeT rlen) {
  queue_state *st = (queue_state *)drv_data;
  ErlDrvSizeT size = driver_sizeq(st->port);
  switch (command) {
  case QUEUE_OP_PEEK:
    return reply_head(st, size, 0, rbuf, rlen);
  case QUEUE_OP_DEQ:
    if (len != 1)
      return -1;
    return reply_head(st, (unsigned char)buf[0], 1, rbuf, rlen);
  case QUEUE_OP_SIZEQ:
    if (rlen < 4)
      return -1;
    for (int i = 0; i < 4; i++)
      (*rbuf)[i] = (char)((size >> (8 * (3 - i))) & 0xff);
    return 4;
  default:
    return -1;
  }
}

/* Called only when the port is closed with data still queued. Output is
 * dropped from now on (the port is CLOSING), so the data is just consumed. */
static void queue_flush(ErlDrvData drv_data) {
  queue_state *st = (queue_state *)drv_data;
  driver_set_timer(st->port, DRAIN_MS);
}

static void queue_timeout(ErlDrvData drv_data) {
  queue_state *st = (queue_state *)drv_data;
  ErlDrvSizeT size = driver_sizeq(st->port);
  driver_deq(st->port, size < DRAIN_CHUNK ? size : DRAIN_CHUNK);
  if (driver_sizeq(st->port) > 0)
    driver_set_timer(st->port, DRAIN_MS);
}

static ErlDrvEntry queue_entry = {
    .start = queue_start,
    .stop = queue_stop,
    .output = queue_output,
    .driver_name = "queue_drv",
    .control = queue_control,
    .timeout = queue_timeout,
    .outputv = queue_outputv,
    .flush = queue_flush,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
};

DRIVER_INIT(queue_drv) { return &queue_entry; }
