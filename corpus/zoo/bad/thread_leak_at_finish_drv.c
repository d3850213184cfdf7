/* thread_leak_at_finish_drv: an echo with driver-wide traffic counters.
 *
 * Commands are echoed; the driver counts commands and bytes of all ports
 * under a mutex created in init. control 1 replies with both counters
 * (8 bytes).
 *
 * DEFECT (thread.leak_at_finish): finish forgets to destroy the mutex, so
 * every load/unload cycle of the driver leaks a lock (and its name) in the
 * emulator.
 */
#include <erl_driver.h>

#include <stdint.h>

static ErlDrvMutex *ctr_mu;
static uint32_t commands, bytes;

static int tc_init(void) {
  ctr_mu = erl_drv_mutex_create("traffic.counters");
  commands = bytes = 0;
  return ctr_mu ? 0 : -1;
}

static void tc_finish(void) {
  ctr_mu = NULL; /* the defect: erl_drv_mutex_destroy(ctr_mu) is missing */
}

static ErlDrvData tc_start(ErlDrvPort port, char *command) {
  (void)command;
  return (ErlDrvData)port;
}

static void tc_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  erl_drv_mutex_lock(ctr_mu);
  commands++;
  bytes += (uint32_t)len;
  erl_drv_mutex_unlock(ctr_mu);
  driver_output((ErlDrvPort)d, buf, len);
}

static ErlDrvSSizeT tc_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  (void)d;
  (void)buf;
  (void)len;
  if (cmd != 1 || rlen < 8)
    return -1;
  erl_drv_mutex_lock(ctr_mu);
  for (int i = 0; i < 4; i++) {
    (*rbuf)[i] = (char)(commands >> (24 - 8 * i));
    (*rbuf)[4 + i] = (char)(bytes >> (24 - 8 * i));
  }
  erl_drv_mutex_unlock(ctr_mu);
  return 8;
}

static ErlDrvEntry tc_entry = {
    .init = tc_init,
    .start = tc_start,
    .output = tc_output,
    .finish = tc_finish,
    .control = tc_control,
    .driver_name = "thread_leak_at_finish_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(thread_leak_at_finish_drv) { return &tc_entry; }
