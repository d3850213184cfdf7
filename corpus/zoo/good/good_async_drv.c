/* good_async_drv: checksums computed on the async thread pool.
 *
 * Each command becomes a job (driver_async, keyed by
 * driver_async_port_key so one port's jobs run in order). async_invoke
 * runs on an async thread and touches only the job: it computes a 32-bit
 * FNV-1a hash of the bytes. ready_async, back on an emulator thread, sends
 * the 4-byte hash to the owner and frees the job; async_free frees jobs
 * whose port went away before delivery.
 */
#include <erl_driver.h>

#include <stdint.h>
#include <string.h>

typedef struct {
  uint32_t hash;
  ErlDrvSizeT len;
  unsigned char data[];
} ga_job;

static ErlDrvData ga_start(ErlDrvPort port, char *command) {
  (void)command;
  return (ErlDrvData)port;
}

static void ga_invoke(void *arg) {
  ga_job *j = arg;
  uint32_t h = 2166136261u;
  for (ErlDrvSizeT i = 0; i < j->len; i++)
    h = (h ^ j->data[i]) * 16777619u;
  j->hash = h;
}

static void ga_free(void *arg) { driver_free(arg); }

static void ga_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  ErlDrvPort port = (ErlDrvPort)d;
  ga_job *j = driver_alloc(sizeof *j + len);
  if (!j) {
    driver_failure_atom(port, "enomem");
    return;
  }
  j->len = len;
  memcpy(j->data, buf, len);
  unsigned int key = driver_async_port_key(port);
  driver_async(port, &key, ga_invoke, j, ga_free);
}

static void ga_ready_async(ErlDrvData d, ErlDrvThreadData data) {
  ga_job *j = (ga_job *)data;
  char out[4] = {(char)(j->hash >> 24), (char)(j->hash >> 16),
                 (char)(j->hash >> 8), (char)j->hash};
  driver_output((ErlDrvPort)d, out, sizeof out);
  driver_free(j);
}

static ErlDrvEntry ga_entry = {
    .start = ga_start,
    .output = ga_output,
    .ready_async = ga_ready_async,
    .driver_name = "good_async_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(good_async_drv) { return &ga_entry; }
