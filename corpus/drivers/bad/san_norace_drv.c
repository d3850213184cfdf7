/* san_norace_drv: the correct twin of san_race_drv.
 *
 * Same port-locking counter driver (commands echoed with their sequence
 * number in the driver-wide total; control 1 = this port's count), but
 * the driver-wide total lives under an erl_drv mutex created in init and
 * destroyed in finish, so callbacks of different ports running at the
 * same time never race. ThreadSanitizer must report nothing.
 */
#include <erl_driver.h>

typedef struct {
  ErlDrvPort port;
  unsigned long long mine; /* this port's count: the port lock covers it */
} norace_state;

static ErlDrvMutex *total_mu;
static unsigned long long total; /* all ports: guarded by total_mu */

static int norace_init(void) {
  total_mu = erl_drv_mutex_create("san_norace_drv.total");
  total = 0;
  return total_mu ? 0 : -1;
}

static void norace_finish(void) {
  erl_drv_mutex_destroy(total_mu);
  total_mu = NULL;
}

static ErlDrvData norace_start(ErlDrvPort port, char *command) {
  (void)command;
  norace_state *st = driver_alloc(sizeof *st);
  if (st == NULL)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->mine = 0;
  return (ErlDrvData)st;
}

static void norace_stop(ErlDrvData d) { driver_free(d); }

static void put64(char *p, unsigned long long v) {
  for (int i = 0; i < 8; i++)
    p[i] = (char)(v >> (56 - 8 * i));
}

static void norace_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  norace_state *st = (norace_state *)d;
  char seqbuf[8];
  st->mine++;
  erl_drv_mutex_lock(total_mu);
  unsigned long long seq = ++total;
  erl_drv_mutex_unlock(total_mu);
  put64(seqbuf, seq);
  driver_output2(st->port, buf, len, seqbuf, sizeof seqbuf);
}

static ErlDrvSSizeT norace_control(ErlDrvData d, unsigned int cmd, char *buf,
                                   ErlDrvSizeT len, char **rbuf,
                                   ErlDrvSizeT rlen) {
  norace_state *st = (norace_state *)d;
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

static ErlDrvEntry norace_entry = {
    .init = norace_init,
    .finish = norace_finish,
    .driver_name = "san_norace_drv",
    .start = norace_start,
    .stop = norace_stop,
    .output = norace_output,
    .control = norace_control,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = ERL_DRV_FLAG_USE_PORT_LOCKING,
};

DRIVER_INIT(san_norace_drv) { return &norace_entry; }
