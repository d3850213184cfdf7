/* good_flush_drv: a batching writer whose flush drains.
 *
 * Commands are collected in the driver queue and delivered to the owner
 * in batches: when 64 bytes or more are queued, or when control 1 (sync)
 * asks for it, everything queued goes out as one message. When the port is
 * closed with a partial batch queued, the emulator calls flush, which
 * delivers the rest at once, so the queue is empty and stop runs.
 */
#include <erl_driver.h>

#define BATCH 64

static ErlDrvData gf_start(ErlDrvPort port, char *command) {
  (void)command;
  return (ErlDrvData)port;
}

/* Sends everything queued as one message and empties the queue. */
static void deliver(ErlDrvPort port) {
  ErlIOVec ev;
  ErlDrvSizeT n = driver_peekqv(port, &ev);
  if (n == (ErlDrvSizeT)-1 || n == 0)
    return;
  driver_outputv(port, NULL, 0, &ev, 0);
  driver_deq(port, n);
}

static void gf_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  ErlDrvPort port = (ErlDrvPort)d;
  if (len > 0)
    driver_enq(port, buf, len);
  if (driver_sizeq(port) >= BATCH)
    deliver(port);
}

static void gf_flush(ErlDrvData d) { deliver((ErlDrvPort)d); }

static ErlDrvSSizeT gf_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  (void)buf;
  (void)len;
  (void)rbuf;
  (void)rlen;
  if (cmd != 1)
    return -1;
  deliver((ErlDrvPort)d);
  return 0;
}

static ErlDrvEntry gf_entry = {
    .start = gf_start,
    .output = gf_output,
    .flush = gf_flush,
    .control = gf_control,
    .driver_name = "good_flush_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(good_flush_drv) { return &gf_entry; }
