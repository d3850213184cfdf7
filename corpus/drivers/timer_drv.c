/* timer_drv: the per-port timer.
 *
 * control operations:
 *   1 set    Data = 4-byte big-endian milliseconds: (re)arms the timer
 *   2 cancel disarms it (harmless when not armed)
 *   3 read   replies one byte: the time left in tenths of a second, rounded
 *            up (0 when no timer is armed or it has expired)
 * When the timer expires the owner receives {Port, {data, "tick"}}.
 * A port has a single timer: setting it again replaces the old one.
 */
#include <erl_driver.h>
#include <string.h>

#define TIMER_OP_SET 1
#define TIMER_OP_CANCEL 2
#define TIMER_OP_READ 3

typedef struct {
  ErlDrvPort port;
} timer_state;

static ErlDrvData timer_start(ErlDrvPort port, char *command) {
  (void)command;
  timer_state *st = driver_alloc(sizeof *st);
  if (st == NULL)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  return (ErlDrvData)st;
}

/* ERTS cancels an armed timer before stop; nothing else to undo. */
static void timer_stop(ErlDrvData drv_data) { driver_free(drv_data); }

static void timer_timeout(ErlDrvData drv_data) {
  timer_state *st = (timer_state *)drv_data;
  static char tick[] = "tick";
  driver_output(st->port, tick, sizeof tick - 1);
}

static unsigned long get_u32(const char *buf) {
  const unsigned char *b = (const unsigned char *)buf;
  return ((unsigned long)b[0] << 24) | ((unsigned long)b[1] << 16) |
         ((unsigned long)b[2] << 8) | (unsigned long)b[3];
}

static ErlDrvSSizeT timer_control(ErlDrvData drv_data, unsigned int command,
                                  char *buf, ErlDrvSizeT len, char **rbuf,
                                  ErlDrvSizeT rlen) {
  timer_state *st = (timer_state *)drv_data;
  unsigned long left = 0;
  (void)rlen; /* replies are at most 1 byte, rlen is 64 */
  switch (command) {
  case TIMER_OP_SET:
    if (len != 4)
      return -1;
    return driver_set_timer(st->port, get_u32(buf)) == 0 ? 0 : -1;
  case TIMER_OP_CANCEL:
    return driver_cancel_timer(st->port) == 0 ? 0 : -1;
  case TIMER_OP_READ:
    if (driver_read_timer(st->port, &left) != 0)
      return -1;
    (*rbuf)[0] = (char)((left + 99) / 100 > 255 ? 255 : (left + 99) / 100);
    return 1;
  default:
    return -1;
  }
}

static ErlDrvEntry timer_entry = {
    .start = timer_start,
    .stop = timer_stop,
    .driver_name = "timer_drv",
    .control = timer_control,
    .timeout = timer_timeout,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
};

DRIVER_INIT(timer_drv) { return &timer_entry; }
