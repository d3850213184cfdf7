/* busy_msgq_limits_drv: a bulk sink with message queue back-pressure.
 *
 * Commands are counted and dropped (a sink for bulk transfers); control 1
 * replies with the byte count (8 bytes). To slow senders down before the
 * port's message queue grows huge, start sets the busy message queue
 * limits: busy above 64 KiB queued, not busy again below 16 KiB.
 *
 * DEFECT (busy.msgq_limits): the two limits are passed swapped (low 64 KiB,
 * high 16 KiB); low above high is invalid (the emulator adjusts the low
 * limit, so the intended hysteresis is lost).
 */
#include <erl_driver.h>

#include <stdint.h>

typedef struct {
  uint64_t bytes;
} sk_state;

static ErlDrvData sk_start(ErlDrvPort port, char *command) {
  (void)command;
  sk_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->bytes = 0;
  ErlDrvSizeT high = 16 * 1024, low = 64 * 1024; /* the defect: swapped */
  erl_drv_busy_msgq_limits(port, &low, &high);
  return (ErlDrvData)st;
}

static void sk_stop(ErlDrvData d) { driver_free(d); }

static void sk_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  sk_state *st = (sk_state *)d;
  (void)buf;
  st->bytes += len;
}

static ErlDrvSSizeT sk_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  sk_state *st = (sk_state *)d;
  (void)buf;
  (void)len;
  if (cmd != 1 || rlen < 8)
    return -1;
  for (int i = 0; i < 8; i++)
    (*rbuf)[i] = (char)(st->bytes >> (56 - 8 * i));
  return 8;
}

static ErlDrvEntry sk_entry = {
    .start = sk_start,
    .stop = sk_stop,
    .output = sk_output,
    .control = sk_control,
    .driver_name = "busy_msgq_limits_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(busy_msgq_limits_drv) { return &sk_entry; }
