/* thread_relock_drv: a named-counter registry shared by all ports.
 *
 * control 1 increments the counter named by the payload (created on first
 * use, up to 16 names of 15 bytes); control 2 replies with the counter's
 * value (4 bytes); control 3 resets the named counter and replies with the
 * total of all the others. The registry lives under one driver-wide
 * mutex. Its lookup helper follows a "lock and return" contract: it takes
 * the mutex itself and returns with it held, the caller unlocks. Commands
 * are echoed.
 *
 * DEFECT (thread.relock): control 3 takes the mutex first (it wants the
 * total computed under the same lock) and then calls the lookup helper,
 * which locks it again. erl_drv mutexes are not recursive: the thread
 * deadlocks on itself.
 */
#include <erl_driver.h>

#include <stdint.h>
#include <string.h>

#define NAMES 16
#define NAME_LEN 16

static ErlDrvMutex *reg_mu;
static char names[NAMES][NAME_LEN];
static uint32_t values[NAMES];
static int nnames;

static int nc_init(void) {
  reg_mu = erl_drv_mutex_create("counters.registry");
  nnames = 0;
  return reg_mu ? 0 : -1;
}

static void nc_finish(void) { erl_drv_mutex_destroy(reg_mu); }

static ErlDrvData nc_start(ErlDrvPort port, char *command) {
  (void)command;
  return (ErlDrvData)port;
}

static void nc_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  driver_output((ErlDrvPort)d, buf, len);
}

/* Locks reg_mu and returns the index of the counter called buf[0..len),
 * created if needed (-1 when the registry is full). Returns with reg_mu
 * held in every case: the caller unlocks. */
static int lookup_locked(const char *buf, ErlDrvSizeT len) {
  erl_drv_mutex_lock(reg_mu);
  if (len >= NAME_LEN)
    len = NAME_LEN - 1;
  for (int i = 0; i < nnames; i++)
    if (strlen(names[i]) == len && memcmp(names[i], buf, len) == 0)
      return i;
  if (nnames == NAMES)
    return -1;
  memcpy(names[nnames], buf, len);
  names[nnames][len] = '\0';
  values[nnames] = 0;
  return nnames++;
}

static ErlDrvSSizeT put_u32(char **rbuf, ErlDrvSizeT rlen, uint32_t v) {
  if (rlen < 4)
    return -1;
  for (int i = 0; i < 4; i++)
    (*rbuf)[i] = (char)(v >> (24 - 8 * i));
  return 4;
}

static ErlDrvSSizeT nc_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  (void)d;
  uint32_t v = 0;
  int i;
  switch (cmd) {
  case 1:
    i = lookup_locked(buf, len);
    if (i >= 0)
      values[i]++;
    erl_drv_mutex_unlock(reg_mu);
    return i >= 0 ? 0 : -1;
  case 2:
    i = lookup_locked(buf, len);
    v = i >= 0 ? values[i] : 0;
    erl_drv_mutex_unlock(reg_mu);
    return put_u32(rbuf, rlen, v);
  case 3:
    erl_drv_mutex_lock(reg_mu);
    i = lookup_locked(buf, len); /* the defect: reg_mu is already held */
    for (int k = 0; k < nnames; k++)
      if (k != i)
        v += values[k];
    if (i >= 0)
      values[i] = 0;
    erl_drv_mutex_unlock(reg_mu);
    return put_u32(rbuf, rlen, v);
  default:
    return -1;
  }
}

static ErlDrvEntry nc_entry = {
    .init = nc_init,
    .start = nc_start,
    .output = nc_output,
    .finish = nc_finish,
    .control = nc_control,
    .driver_name = "thread_relock_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(thread_relock_drv) { return &nc_entry; }
