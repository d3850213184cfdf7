/* good_timer_drv: a countdown with a periodic timer.
 *
 * control 1 starts a countdown: payload byte 0 = ticks (1..255, default 3),
 * one tick every 50 ms, each sent to the owner as "tick"; the last one
 * sends "done" and does not re-arm. control 2 cancels; control 3 replies
 * with the milliseconds left until the next tick (4 bytes, from
 * driver_read_timer, 0 when idle). Commands restart the countdown with
 * the default count. A port's timer is cancelled by the emulator when the
 * port stops; nothing else to clean up.
 */
#include <erl_driver.h>

#define TICK_MS 50
#define DEFAULT_TICKS 3

typedef struct {
  ErlDrvPort port;
  int left;
} gt_state;

static ErlDrvData gt_start(ErlDrvPort port, char *command) {
  (void)command;
  gt_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->left = 0;
  return (ErlDrvData)st;
}

static void gt_stop(ErlDrvData d) { driver_free(d); }

static void arm(gt_state *st, int ticks) {
  st->left = ticks;
  driver_set_timer(st->port, TICK_MS);
}

static void gt_timeout(ErlDrvData d) {
  gt_state *st = (gt_state *)d;
  if (st->left <= 0)
    return;
  if (--st->left > 0) {
    driver_output(st->port, "tick", 4);
    driver_set_timer(st->port, TICK_MS);
  } else {
    driver_output(st->port, "done", 4);
  }
}

static void gt_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  (void)buf;
  (void)len;
  arm((gt_state *)d, DEFAULT_TICKS);
}

static ErlDrvSSizeT gt_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  gt_state *st = (gt_state *)d;
  unsigned long ms = 0;
  switch (cmd) {
  case 1:
    arm(st, len > 0 && buf[0] ? (unsigned char)buf[0] : DEFAULT_TICKS);
    return 0;
  case 2:
    driver_cancel_timer(st->port);
    st->left = 0;
    return 0;
  case 3:
    if (rlen < 4)
      return -1;
    if (st->left <= 0 || driver_read_timer(st->port, &ms) != 0)
      ms = 0;
    for (int i = 0; i < 4; i++)
      (*rbuf)[i] = (char)(ms >> (24 - 8 * i));
    return 4;
  default:
    return -1;
  }
}

static ErlDrvEntry gt_entry = {
    .start = gt_start,
    .stop = gt_stop,
    .output = gt_output,
    .timeout = gt_timeout,
    .control = gt_control,
    .driver_name = "good_timer_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(good_timer_drv) { return &gt_entry; }
