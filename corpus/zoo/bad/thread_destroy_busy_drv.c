/* thread_destroy_busy_drv: a per-port counter shared with a sampler thread.
 *
 * Each port has a byte counter updated by commands and a sampler thread
 * that publishes the counter to a shared snapshot every time it is woken
 * (control 1 wakes it; control 2 replies with the snapshot, 8 bytes). The
 * counter, snapshot and quit flag live under a per-port mutex; stop tells
 * the sampler to quit, joins it, and destroys the mutex and condition.
 *
 * DEFECT (thread.destroy_busy): stop tears the condition variable down
 * right after signalling it, while the sampler is still waiting on it (it
 * cannot leave erl_drv_cond_wait before stop releases the mutex).
 * Destroying a condition with waiters is undefined behaviour: the
 * condition may only be destroyed after the join.
 */
#include <erl_driver.h>

#include <stdint.h>

typedef struct {
  ErlDrvPort port;
  ErlDrvMutex *mu;
  ErlDrvCond *cv;
  ErlDrvTid sampler;
  uint64_t bytes, snapshot;
  int wake, quit;
} sp_state;

static void *sampler_main(void *arg) {
  sp_state *st = arg;
  erl_drv_mutex_lock(st->mu);
  while (!st->quit) {
    while (!st->wake && !st->quit)
      erl_drv_cond_wait(st->cv, st->mu);
    st->snapshot = st->bytes;
    st->wake = 0;
  }
  erl_drv_mutex_unlock(st->mu);
  return NULL;
}

static ErlDrvData sp_start(ErlDrvPort port, char *command) {
  (void)command;
  sp_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->bytes = st->snapshot = 0;
  st->wake = st->quit = 0;
  st->mu = erl_drv_mutex_create("sampler.mu");
  st->cv = erl_drv_cond_create("sampler.cv");
  if (!st->mu || !st->cv ||
      erl_drv_thread_create("sampler", &st->sampler, sampler_main, st, NULL)) {
    if (st->mu)
      erl_drv_mutex_destroy(st->mu);
    if (st->cv)
      erl_drv_cond_destroy(st->cv);
    driver_free(st);
    return ERL_DRV_ERROR_GENERAL;
  }
  return (ErlDrvData)st;
}

static void sp_stop(ErlDrvData d) {
  sp_state *st = (sp_state *)d;
  erl_drv_mutex_lock(st->mu);
  st->quit = 1;
  erl_drv_cond_signal(st->cv);
  erl_drv_cond_destroy(st->cv); /* the defect: the sampler still waits */
  erl_drv_mutex_unlock(st->mu);
  erl_drv_thread_join(st->sampler, NULL);
  erl_drv_mutex_destroy(st->mu);
  driver_free(st);
}

static void sp_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  sp_state *st = (sp_state *)d;
  (void)buf;
  erl_drv_mutex_lock(st->mu);
  st->bytes += len;
  erl_drv_mutex_unlock(st->mu);
}

static ErlDrvSSizeT sp_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  sp_state *st = (sp_state *)d;
  (void)buf;
  (void)len;
  if (cmd == 1) {
    erl_drv_mutex_lock(st->mu);
    st->wake = 1;
    erl_drv_cond_signal(st->cv);
    erl_drv_mutex_unlock(st->mu);
    return 0;
  }
  if (cmd != 2 || rlen < 8)
    return -1;
  erl_drv_mutex_lock(st->mu);
  uint64_t s = st->snapshot;
  erl_drv_mutex_unlock(st->mu);
  for (int i = 0; i < 8; i++)
    (*rbuf)[i] = (char)(s >> (56 - 8 * i));
  return 8;
}

static ErlDrvEntry sp_entry = {
    .start = sp_start,
    .stop = sp_stop,
    .output = sp_output,
    .control = sp_control,
    .driver_name = "thread_destroy_busy_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(thread_destroy_busy_drv) { return &sp_entry; }
