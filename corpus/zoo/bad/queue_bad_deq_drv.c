/* queue_bad_deq_drv: a reliable sender with acknowledgements.
 *
 * Every command is echoed to the owner and also kept in the driver queue
 * until the receiver acknowledges it: control 1 with a 4-byte big-endian
 * byte count drops that many acknowledged bytes from the queue, control 2
 * replies with the number of unacknowledged bytes (4 bytes), control 3
 * resends everything still queued. flush drops what is left (the peer is
 * gone when the port closes).
 *
 * DEFECT (queue.bad_deq): the acknowledged count comes from the peer and
 * is passed to driver_deq unchecked; an ack for more bytes than are queued
 * (a confused or malicious peer) dequeues beyond driver_sizeq. It must be
 * clamped to driver_sizeq(port) (or rejected).
 */
#include <erl_driver.h>

typedef struct {
  ErlDrvPort port;
} ack_state;

static ErlDrvData ack_start(ErlDrvPort port, char *command) {
  (void)command;
  ack_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  return (ErlDrvData)st;
}

static void ack_stop(ErlDrvData d) { driver_free(d); }

static void ack_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  ack_state *st = (ack_state *)d;
  driver_output(st->port, buf, len);
  if (len > 0)
    driver_enq(st->port, buf, len);
}

static void ack_flush(ErlDrvData d) {
  ack_state *st = (ack_state *)d;
  driver_deq(st->port, driver_sizeq(st->port));
}

static ErlDrvSSizeT ack_control(ErlDrvData d, unsigned int cmd, char *buf,
                                ErlDrvSizeT len, char **rbuf,
                                ErlDrvSizeT rlen) {
  ack_state *st = (ack_state *)d;
  switch (cmd) {
  case 1: {
    if (len < 4)
      return -1;
    ErlDrvSizeT n = ((ErlDrvSizeT)(unsigned char)buf[0] << 24) |
                    ((ErlDrvSizeT)(unsigned char)buf[1] << 16) |
                    ((ErlDrvSizeT)(unsigned char)buf[2] << 8) |
                    (unsigned char)buf[3];
    driver_deq(st->port, n); /* the defect: n is not checked */
    return 0;
  }
  case 2: {
    ErlDrvSizeT q = driver_sizeq(st->port);
    if (rlen < 4)
      return -1;
    (*rbuf)[0] = (char)(q >> 24);
    (*rbuf)[1] = (char)(q >> 16);
    (*rbuf)[2] = (char)(q >> 8);
    (*rbuf)[3] = (char)q;
    return 4;
  }
  case 3: {
    int vlen = 0;
    SysIOVec *iov = driver_peekq(st->port, &vlen);
    for (int i = 0; iov && i < vlen; i++)
      driver_output(st->port, iov[i].iov_base, iov[i].iov_len);
    return 0;
  }
  default:
    return -1;
  }
}

static ErlDrvEntry ack_entry = {
    .start = ack_start,
    .stop = ack_stop,
    .output = ack_output,
    .control = ack_control,
    .flush = ack_flush,
    .driver_name = "queue_bad_deq_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(queue_bad_deq_drv) { return &ack_entry; }
