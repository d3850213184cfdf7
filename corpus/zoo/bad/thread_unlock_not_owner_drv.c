/* thread_unlock_not_owner_drv: a driver-wide sample statistics service.
 *
 * control 1 adds a sample (4-byte big-endian value) to driver-wide
 * statistics shared by all ports (min, max, count, sum) kept under a
 * mutex; control 2 replies with count and sum (8 bytes); control 3 resets.
 * Commands are echoed.
 *
 * DEFECT (thread.unlock_not_owner): the error path of "add sample" (a
 * request shorter than 4 bytes) unlocks the mutex and then jumps to the
 * common exit, which unlocks it a second time: the thread no longer holds
 * it (or another thread does by then).
 */
#include <erl_driver.h>

#include <stdint.h>

static ErlDrvMutex *stats_mu;
static uint32_t smin, smax, count;
static uint64_t sum;

static int ss_init(void) {
  stats_mu = erl_drv_mutex_create("samples.stats");
  count = 0;
  sum = 0;
  return stats_mu ? 0 : -1;
}

static void ss_finish(void) {
  erl_drv_mutex_destroy(stats_mu);
  stats_mu = NULL;
}

static ErlDrvData ss_start(ErlDrvPort port, char *command) {
  (void)command;
  return (ErlDrvData)port;
}

static void ss_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  driver_output((ErlDrvPort)d, buf, len);
}

static ErlDrvSSizeT add_sample(const char *buf, ErlDrvSizeT len) {
  ErlDrvSSizeT rc = 0;
  erl_drv_mutex_lock(stats_mu);
  if (len < 4) {
    erl_drv_mutex_unlock(stats_mu);
    rc = -1;
    goto out;
  }
  uint32_t v = ((uint32_t)(unsigned char)buf[0] << 24) |
               ((uint32_t)(unsigned char)buf[1] << 16) |
               ((uint32_t)(unsigned char)buf[2] << 8) | (unsigned char)buf[3];
  if (count == 0 || v < smin)
    smin = v;
  if (count == 0 || v > smax)
    smax = v;
  count++;
  sum += v;
out:
  erl_drv_mutex_unlock(stats_mu); /* the defect: twice on the error path */
  return rc;
}

static ErlDrvSSizeT ss_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  (void)d;
  switch (cmd) {
  case 1:
    return add_sample(buf, len);
  case 2:
    if (rlen < 8)
      return -1;
    erl_drv_mutex_lock(stats_mu);
    for (int i = 0; i < 4; i++) {
      (*rbuf)[i] = (char)(count >> (24 - 8 * i));
      (*rbuf)[4 + i] = (char)(sum >> (24 - 8 * i));
    }
    erl_drv_mutex_unlock(stats_mu);
    return 8;
  case 3:
    erl_drv_mutex_lock(stats_mu);
    count = 0;
    sum = 0;
    erl_drv_mutex_unlock(stats_mu);
    return 0;
  default:
    return -1;
  }
}

static ErlDrvEntry ss_entry = {
    .init = ss_init,
    .start = ss_start,
    .output = ss_output,
    .finish = ss_finish,
    .control = ss_control,
    .driver_name = "thread_unlock_not_owner_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(thread_unlock_not_owner_drv) { return &ss_entry; }
