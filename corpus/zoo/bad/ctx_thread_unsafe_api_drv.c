/* ctx_thread_unsafe_api_drv: a parallel checksum service.
 *
 * Every command is split in two halves; two driver threads compute the
 * Adler-32 of their half at the same time and the callback joins them, so
 * the command is answered before output returns. The owner receives two
 * 4-byte big-endian checksums, one per half.
 *
 * DEFECT (ctx.thread_unsafe_api): each worker thread sends its own result
 * with driver_output. driver_output is not thread-safe: only an emulator
 * thread running a callback of the port may call it. The workers should
 * store their results and the callback should send them after the join.
 */
#include <erl_driver.h>

#include <stdint.h>

typedef struct {
  ErlDrvPort port;
} cks_state;

typedef struct {
  ErlDrvPort port;
  const unsigned char *data;
  size_t len;
} half_job;

static uint32_t adler32(const unsigned char *p, size_t n) {
  uint32_t a = 1, b = 0;
  for (size_t i = 0; i < n; i++) {
    a = (a + p[i]) % 65521u;
    b = (b + a) % 65521u;
  }
  return (b << 16) | a;
}

static void *half_main(void *arg) {
  half_job *j = arg;
  uint32_t c = adler32(j->data, j->len);
  char out[4] = {(char)(c >> 24), (char)(c >> 16), (char)(c >> 8), (char)c};
  driver_output(j->port, out, sizeof out); /* the defect: not thread-safe */
  return NULL;
}

static ErlDrvData cks_start(ErlDrvPort port, char *command) {
  (void)command;
  cks_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  return (ErlDrvData)st;
}

static void cks_stop(ErlDrvData d) { driver_free(d); }

static void cks_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  cks_state *st = (cks_state *)d;
  half_job jobs[2] = {
      {st->port, (const unsigned char *)buf, len / 2},
      {st->port, (const unsigned char *)buf + len / 2, len - len / 2},
  };
  ErlDrvTid tids[2];
  int started = 0;
  for (; started < 2; started++)
    if (erl_drv_thread_create("cks_half", &tids[started], half_main,
                              &jobs[started], NULL) != 0)
      break;
  for (int i = 0; i < started; i++)
    erl_drv_thread_join(tids[i], NULL);
  if (started < 2)
    driver_failure_atom(st->port, "no_threads");
}

static ErlDrvEntry cks_entry = {
    .start = cks_start,
    .stop = cks_stop,
    .output = cks_output,
    .driver_name = "ctx_thread_unsafe_api_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(ctx_thread_unsafe_api_drv) { return &cks_entry; }
