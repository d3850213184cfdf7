/* san_race_drv: a port-locking counter driver with a data race.
 *
 * Declares ERL_DRV_FLAG_USE_PORT_LOCKING, so ERTS runs callbacks of
 * different ports at the same time on different schedulers. Every command
 * is echoed back followed by its sequence number in the driver-wide total
 * (8 bytes, big-endian); control 1 returns this port's own count.
 *
 * DEFECT (san.thread): the driver-wide total is shared by all ports but
 * updated with a plain increment and no lock: two ports' output callbacks
 * race on it (lost updates). ThreadSanitizer reports the racing line.
 * san_norace_drv.c is the same driver with the total under a mutex.
 */
#include <erl_driver.h>

typedef struct {
  ErlDrvPort port;
  unsigned long long mine; /* this port's count: the port lock covers it */
} race_state;

static unsigned long long total; /* all ports: unprotected (the defect) */

static ErlDrvData race_start(ErlDrvPort port, char *command) {
  (void)command;
  race_state *st = driver_alloc(sizeof *st);
  if (st == NULL)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->mine = 0;
  return (ErlDrvData)st;
}

static void race_stop(ErlDrvData d) { driver_free(d); }

static void put64(char *p, unsigned long long v) {
  for (int i = 0; i < 8; i++)
    p[i] = (char)(v >> (56 - 8 * i));
}

static void race_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  race_state *st = (race_state *)d;
  char seqbuf[8];
  st->mine++;
  unsigned long long seq = ++total; /* the race: other ports run this too */
  put64(seqbuf, seq);
  driver_output2(st->port, buf, len, seqbuf, sizeof seqbuf);
}

static ErlDrvSSizeT race_control(ErlDrvData d, unsigned int cmd, char *buf,
                                 ErlDrvSizeT len, char **rbuf,
                                 ErlDrvSizeT rlen) {
  race_state *st = (race_state *)d;
  (void)buf;
  (void)len;
  if (cmd != 1)
    return -1;
  if (rlen < 8) {
    *rbuf = driver_alloc(8);
    if (*rbuf == NULL)
      return -1;
  }
  put64(*rbuf, st->mine);
  return 8;
}

static ErlDrvEntry race_entry = {
    .driver_name = "san_race_drv",
    .start = race_start,
    .stop = race_stop,
    .output = race_output,
    .control = race_control,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = ERL_DRV_FLAG_USE_PORT_LOCKING,
};

DRIVER_INIT(san_race_drv) { return &race_entry; }
