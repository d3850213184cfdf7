/* ctx_async_output_drv: an async checksum service that answers from the
 * wrong thread.
 *
 * Each command becomes an async job that computes a 32-bit FNV-1a checksum
 * of the data on an async pool thread and sends it to the owner as
 * {Port, {data, "xxxxxxxx"}} (hex). Jobs are keyed with
 * driver_async_port_key, and async_free releases a job whose port is gone.
 *
 * The one defect: async_invoke sends the reply itself with driver_output.
 * driver_output is not documented thread-safe; an async thread holds no
 * port lock, so the call races with the port's own callbacks (the reply
 * belongs in ready_async, which ERTS runs on a scheduler with the port
 * locked). Expected finding: ctx.thread_unsafe_api.
 */
#include <erl_driver.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  ErlDrvPort port;
  ErlDrvSizeT len;
  char data[];
} sum_job;

typedef struct {
  ErlDrvPort port;
} sum_state;

static ErlDrvData sum_start(ErlDrvPort port, char *command) {
  (void)command;
  sum_state *st = driver_alloc(sizeof *st);
  if (st == NULL)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  return (ErlDrvData)st;
}

static void sum_stop(ErlDrvData drv_data) { driver_free(drv_data); }

static void sum_invoke(void *arg) {
  sum_job *job = arg;
  unsigned h = 2166136261u;
  for (ErlDrvSizeT i = 0; i < job->len; i++)
    h = (h ^ (unsigned char)job->data[i]) * 16777619u;
  char hex[9];
  snprintf(hex, sizeof hex, "%08x", h);
  driver_output(job->port, hex, 8); /* BUG: not on an emulator thread */
}

static void sum_free(void *arg) { driver_free(arg); }

/* The job is ours again; the reply already went out from the async thread. */
static void sum_ready(ErlDrvData drv_data, ErlDrvThreadData thread_data) {
  (void)drv_data;
  driver_free(thread_data);
}

static void sum_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  sum_state *st = (sum_state *)drv_data;
  sum_job *job = driver_alloc(sizeof *job + len);
  if (job == NULL) {
    driver_failure_atom(st->port, "enomem");
    return;
  }
  job->port = st->port;
  job->len = len;
  memcpy(job->data, buf, len);
  unsigned int key = driver_async_port_key(st->port);
  if (driver_async(st->port, &key, sum_invoke, job, sum_free) < 0)
    driver_free(job);
}

static ErlDrvEntry sum_entry = {
    .start = sum_start,
    .stop = sum_stop,
    .output = sum_output,
    .driver_name = "ctx_async_output_drv",
    .ready_async = sum_ready,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
};

DRIVER_INIT(ctx_async_output_drv) { return &sum_entry; }
