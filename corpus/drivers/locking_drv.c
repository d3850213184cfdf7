/* locking_drv: port-level locking with shared state.
 *
 * Declares ERL_DRV_FLAG_USE_PORT_LOCKING, so ERTS may run callbacks of
 * different ports at the same time on different schedulers (only one port's
 * own callbacks are serialized). The driver keeps driver-wide statistics —
 * open ports, commands and bytes seen by all ports — which every port
 * updates, so they live under an erl_drv mutex created in init and destroyed
 * in finish. Per-port state needs no lock: the port lock covers it.
 *
 * Commands are echoed back ({Port, {data, Data}}) and counted.
 * control operations (replies in the default buffer, 8-byte big-endian):
 *   1 stats   open ports, commands, bytes (24 bytes: three counters)
 *   2 mine    this port's own command count (8 bytes)
 * Anything else is badarg. A reply longer than rlen is built in a
 * driver_alloc'ed buffer, which ERTS frees.
 */
#include <erl_driver.h>
#include <string.h>

#define LOCK_OP_STATS 1
#define LOCK_OP_MINE 2

typedef struct {
  ErlDrvPort port;
  unsigned long long commands; /* this port's: guarded by the port lock */
} lock_state;

/* Driver-wide: guarded by stats_mu. */
static ErlDrvMutex *stats_mu;
static unsigned long long open_ports, total_commands, total_bytes;

static int lock_init(void) {
  stats_mu = erl_drv_mutex_create("locking_drv.stats");
  if (stats_mu == NULL)
    return -1;
  open_ports = total_commands = total_bytes = 0;
  return 0;
}

static void lock_finish(void) {
  erl_drv_mutex_destroy(stats_mu);
  stats_mu = NULL;
}

static ErlDrvData lock_start(ErlDrvPort port, char *command) {
  (void)command;
  lock_state *st = driver_alloc(sizeof *st);
  if (st == NULL)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->commands = 0;
  erl_drv_mutex_lock(stats_mu);
  open_ports++;
  erl_drv_mutex_unlock(stats_mu);
  return (ErlDrvData)st;
}

static void lock_stop(ErlDrvData drv_data) {
  erl_drv_mutex_lock(stats_mu);
  open_ports--;
  erl_drv_mutex_unlock(stats_mu);
  driver_free(drv_data);
}

static void count(lock_state *st, ErlDrvSizeT len) {
  st->commands++;
  erl_drv_mutex_lock(stats_mu);
  total_commands++;
  total_bytes += len;
  erl_drv_mutex_unlock(stats_mu);
}

static void lock_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  lock_state *st = (lock_state *)drv_data;
  count(st, len);
  driver_output(st->port, buf, len);
}

static void lock_outputv(ErlDrvData drv_data, ErlIOVec *ev) {
  lock_state *st = (lock_state *)drv_data;
  count(st, ev->size);
  driver_outputv(st->port, NULL, 0, ev, 0);
}

static void put_u64(char *p, unsigned long long v) {
  for (int i = 7; i >= 0; i--, v >>= 8)
    p[i] = (char)(v & 0xff);
}

/* Copies n reply bytes into *rbuf, or into a driver_alloc'ed replacement
 * when they do not fit the rlen bytes ERTS offered. */
static ErlDrvSSizeT reply(const char *data, ErlDrvSizeT n, char **rbuf,
                          ErlDrvSizeT rlen) {
  if (n > rlen) {
    char *big = driver_alloc(n);
    if (big == NULL)
      return -1;
    *rbuf = big;
  }
  memcpy(*rbuf, data, n);
  return (ErlDrvSSizeT)n;
}

static ErlDrvSSizeT lock_control(ErlDrvData drv_data, unsigned int command,
                                 char *buf, ErlDrvSizeT len, char **rbuf,
                                 ErlDrvSizeT rlen) {
  lock_state *st = (lock_state *)drv_data;
  char out[24];
  (void)buf;
  (void)len;
  switch (command) {
  case LOCK_OP_STATS:
    erl_drv_mutex_lock(stats_mu);
    put_u64(out, open_ports);
    put_u64(out + 8, total_commands);
    put_u64(out + 16, total_bytes);
    erl_drv_mutex_unlock(stats_mu);
    return reply(out, 24, rbuf, rlen);
  case LOCK_OP_MINE:
    put_u64(out, st->commands);
    return reply(out, 8, rbuf, rlen);
  default:
    return -1;
  }
}

static ErlDrvEntry lock_entry = {
    .init = lock_init,
    .start = lock_start,
    .stop = lock_stop,
    .output = lock_output,
    .finish = lock_finish,
    .driver_name = "locking_drv",
    .control = lock_control,
    .outputv = lock_outputv,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = ERL_DRV_FLAG_USE_PORT_LOCKING,
};

DRIVER_INIT(locking_drv) { return &lock_entry; }
