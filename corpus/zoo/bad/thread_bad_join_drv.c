/* thread_bad_join_drv: a per-port heartbeat worker.
 *
 * Each port starts a worker thread that counts heartbeats: control 1 wakes
 * it to count one, control 0 replies with the count (4 bytes), control 2
 * shuts the worker down early (it is joined there and then). stop shuts it
 * down if it still runs.
 *
 * DEFECT (thread.bad_join): control 2 joins the worker but does not record
 * that it did, so stop joins the same thread id a second time. Joining a
 * thread twice is undefined (its resources are already gone).
 */
#include <erl_driver.h>

#include <stdint.h>

typedef struct {
  ErlDrvMutex *mu;
  ErlDrvCond *cv;
  ErlDrvTid tid;
  int running; /* set in start; the defect: never cleared */
  int wake, quit;
  uint32_t beats;
} hb_state;

static void *hb_main(void *arg) {
  hb_state *st = arg;
  erl_drv_mutex_lock(st->mu);
  for (;;) {
    while (!st->wake && !st->quit)
      erl_drv_cond_wait(st->cv, st->mu);
    if (st->quit)
      break;
    st->beats++;
    st->wake = 0;
  }
  erl_drv_mutex_unlock(st->mu);
  return NULL;
}

static void shutdown_worker(hb_state *st) {
  erl_drv_mutex_lock(st->mu);
  st->quit = 1;
  erl_drv_cond_signal(st->cv);
  erl_drv_mutex_unlock(st->mu);
  erl_drv_thread_join(st->tid, NULL);
}

static ErlDrvData hb_start(ErlDrvPort port, char *command) {
  (void)port;
  (void)command;
  hb_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->wake = st->quit = 0;
  st->beats = 0;
  st->mu = erl_drv_mutex_create("heartbeat.mu");
  st->cv = erl_drv_cond_create("heartbeat.cv");
  if (!st->mu || !st->cv ||
      erl_drv_thread_create("heartbeat", &st->tid, hb_main, st, NULL) != 0) {
    if (st->mu)
      erl_drv_mutex_destroy(st->mu);
    if (st->cv)
      erl_drv_cond_destroy(st->cv);
    driver_free(st);
    return ERL_DRV_ERROR_GENERAL;
  }
  st->running = 1;
  return (ErlDrvData)st;
}

static void hb_stop(ErlDrvData d) {
  hb_state *st = (hb_state *)d;
  if (st->running)
    shutdown_worker(st);
  erl_drv_cond_destroy(st->cv);
  erl_drv_mutex_destroy(st->mu);
  driver_free(st);
}

static ErlDrvSSizeT hb_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  hb_state *st = (hb_state *)d;
  (void)buf;
  (void)len;
  switch (cmd) {
  case 0: {
    if (rlen < 4)
      return -1;
    erl_drv_mutex_lock(st->mu);
    uint32_t b = st->beats;
    erl_drv_mutex_unlock(st->mu);
    for (int i = 0; i < 4; i++)
      (*rbuf)[i] = (char)(b >> (24 - 8 * i));
    return 4;
  }
  case 1:
    erl_drv_mutex_lock(st->mu);
    st->wake = 1;
    erl_drv_cond_signal(st->cv);
    erl_drv_mutex_unlock(st->mu);
    return 0;
  case 2:
    if (st->running)
      shutdown_worker(st); /* the defect: st->running stays 1 */
    return 0;
  default:
    return -1;
  }
}

static ErlDrvEntry hb_entry = {
    .start = hb_start,
    .stop = hb_stop,
    .control = hb_control,
    .driver_name = "thread_bad_join_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(thread_bad_join_drv) { return &hb_entry; }
