/* queue_no_pdl_drv: a background transformer with a result queue.
 *
 * Each command is handed to a driver thread that upper-cases the bytes and
 * appends the result to the port's driver queue, while the port goes on
 * serving requests. One job is in flight at a time: the previous worker is
 * joined before a new one starts, and in flush/stop. Because the queue is
 * touched from a non-emulator thread, start creates a port data lock
 * (driver_pdl_create) and every queue access holds it: the worker while
 * enqueueing, control 1 (fetch up to rlen bytes) while dequeueing, flush
 * while dropping what is left. control 0 (pending) replies with the number
 * of queued bytes (4 bytes, big-endian).
 *
 * DEFECT (queue.no_pdl): "pending" calls driver_sizeq without locking the
 * port data lock. Once a PDL exists every queue access must hold it: the
 * worker may be changing the queue at that very moment.
 */
#include <erl_driver.h>

#include <string.h>

typedef struct {
  ErlDrvPort port;
  ErlDrvPDL pdl;
  ErlDrvTid worker;
  int have_worker;
  char *job;
  ErlDrvSizeT job_len;
} jq_state;

static void *worker_main(void *arg) {
  jq_state *st = arg;
  for (ErlDrvSizeT i = 0; i < st->job_len; i++)
    if (st->job[i] >= 'a' && st->job[i] <= 'z')
      st->job[i] = (char)(st->job[i] - 'a' + 'A');
  driver_pdl_lock(st->pdl);
  driver_enq(st->port, st->job, st->job_len);
  driver_pdl_unlock(st->pdl);
  return NULL;
}

static void join_worker(jq_state *st) {
  if (!st->have_worker)
    return;
  erl_drv_thread_join(st->worker, NULL);
  st->have_worker = 0;
  driver_free(st->job);
  st->job = NULL;
}

static ErlDrvData jq_start(ErlDrvPort port, char *command) {
  (void)command;
  jq_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  memset(st, 0, sizeof *st);
  st->port = port;
  st->pdl = driver_pdl_create(port);
  if (!st->pdl) {
    driver_free(st);
    return ERL_DRV_ERROR_GENERAL;
  }
  return (ErlDrvData)st;
}

static void jq_stop(ErlDrvData d) {
  jq_state *st = (jq_state *)d;
  join_worker(st);
  driver_free(st);
}

static void jq_flush(ErlDrvData d) {
  jq_state *st = (jq_state *)d;
  join_worker(st);
  driver_pdl_lock(st->pdl);
  driver_deq(st->port, driver_sizeq(st->port));
  driver_pdl_unlock(st->pdl);
}

static void jq_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  jq_state *st = (jq_state *)d;
  join_worker(st);
  if (len == 0)
    return;
  st->job = driver_alloc(len);
  if (!st->job)
    return;
  memcpy(st->job, buf, len);
  st->job_len = len;
  if (erl_drv_thread_create("jq_worker", &st->worker, worker_main, st, NULL) ==
      0)
    st->have_worker = 1;
  else {
    driver_free(st->job);
    st->job = NULL;
  }
}

static ErlDrvSSizeT jq_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  jq_state *st = (jq_state *)d;
  (void)buf;
  (void)len;
  if (cmd == 0) {
    ErlDrvSizeT q = driver_sizeq(st->port); /* the defect: PDL not held */
    if (rlen < 4)
      return -1;
    (*rbuf)[0] = (char)(q >> 24);
    (*rbuf)[1] = (char)(q >> 16);
    (*rbuf)[2] = (char)(q >> 8);
    (*rbuf)[3] = (char)q;
    return 4;
  }
  if (cmd != 1)
    return -1;
  ErlDrvSizeT n = 0;
  int vlen = 0;
  driver_pdl_lock(st->pdl);
  SysIOVec *iov = driver_peekq(st->port, &vlen);
  while (iov && vlen > 0 && n < rlen) {
    ErlDrvSizeT take = iov[0].iov_len < rlen - n ? iov[0].iov_len : rlen - n;
    memcpy(*rbuf + n, iov[0].iov_base, take);
    n += take;
    driver_deq(st->port, take);
    iov = driver_peekq(st->port, &vlen);
  }
  driver_pdl_unlock(st->pdl);
  return (ErlDrvSSizeT)n;
}

static ErlDrvEntry jq_entry = {
    .start = jq_start,
    .stop = jq_stop,
    .output = jq_output,
    .control = jq_control,
    .flush = jq_flush,
    .driver_name = "queue_no_pdl_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(queue_no_pdl_drv) { return &jq_entry; }
