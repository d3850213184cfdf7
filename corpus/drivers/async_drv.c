/* async_drv: work off the scheduler threads with driver_async.
 *
 * Each command becomes an async job that reverses the bytes of the data on an
 * async pool thread. When the job is done ERTS calls ready_async on a
 * scheduler, which sends {Port, {data, Reversed}} to the owner and frees the
 * job. Jobs are keyed with driver_async_port_key so one port's jobs run in
 * order on one async thread (so replies come back in command order).
 *
 * If the port is gone when a job completes, ERTS calls async_free instead of
 * ready_async; both paths free the job exactly once.
 */
#include <erl_driver.h>
#include <string.h>

typedef struct {
  ErlDrvSizeT len;
  char data[]; /* reversed in place by async_invoke */
} async_job;

typedef struct {
  ErlDrvPort port;
} async_state;

static ErlDrvData async_start(ErlDrvPort port, char *command) {
  (void)command;
  async_state *st = driver_alloc(sizeof *st);
  if (st == NULL)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  return (ErlDrvData)st;
}

static void async_stop(ErlDrvData drv_data) { driver_free(drv_data); }

/* Runs on an async thread without port lock: touches only the job itself. */
static void async_invoke(void *arg) {
  async_job *job = arg;
  for (ErlDrvSizeT i = 0, j = job->len; i + 1 < j; i++, j--) {
    char c = job->data[i];
    job->data[i] = job->data[j - 1];
    job->data[j - 1] = c;
  }
}

/* driver_free is thread-safe, so this may run wherever ERTS calls it. */
static void async_free(void *arg) { driver_free(arg); }

/* The job is ours again: deliver the result, then free it. */
static void async_ready(ErlDrvData drv_data, ErlDrvThreadData thread_data) {
  async_state *st = (async_state *)drv_data;
  async_job *job = (async_job *)thread_data;
  driver_output(st->port, job->data, job->len);
  driver_free(job);
}

/* buf belongs to ERTS and dies when output returns: the job keeps a copy. */
static void async_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  async_state *st = (async_state *)drv_data;
  async_job *job = driver_alloc(sizeof *job + len);
  if (job == NULL) {
    driver_failure_atom(st->port, "enomem");
    return;
  }
  job->len = len;
  memcpy(job->data, buf, len);
  /* ERTS overwrites the key with the queue index it chose: use a copy. */
  unsigned int key = driver_async_port_key(st->port);
  if (driver_async(st->port, &key, async_invoke, job, async_free) < 0)
    driver_free(job); /* not queued: still ours */
}

static ErlDrvEntry async_entry = {
    .start = async_start,
    .stop = async_stop,
    .output = async_output,
    .driver_name = "async_drv",
    .ready_async = async_ready,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
};

DRIVER_INIT(async_drv) { return &async_entry; }
