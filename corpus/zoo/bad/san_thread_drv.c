/* san_thread_drv: a parallel byte counter.
 *
 * Each command is counted by two driver threads, each taking one half of
 * the bytes and adding the number of non-zero bytes to a driver-wide
 * total; the callback joins both and answers with the total so far
 * (4 bytes, big-endian).
 *
 * DEFECT (san.thread): both threads update the shared total with a plain
 * "total += n" and no lock or atomic: a data race (updates can be lost).
 * ThreadSanitizer reports the two unsynchronised writes.
 */
#include <erl_driver.h>

#include <stdint.h>

static uint32_t total; /* shared by the workers: the defect, no lock */

typedef struct {
  const unsigned char *p;
  ErlDrvSizeT n;
} half;

static void *count_half(void *arg) {
  half *h = arg;
  uint32_t c = 0;
  for (ErlDrvSizeT i = 0; i < h->n; i++)
    c += h->p[i] != 0;
  total += c; /* the defect: racy read-modify-write */
  return NULL;
}

static ErlDrvData pc_start(ErlDrvPort port, char *command) {
  (void)command;
  return (ErlDrvData)port;
}

static void pc_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  ErlDrvPort port = (ErlDrvPort)d;
  half halves[2] = {{(const unsigned char *)buf, len / 2},
                    {(const unsigned char *)buf + len / 2, len - len / 2}};
  ErlDrvTid tid[2];
  int n = 0;
  for (; n < 2; n++)
    if (erl_drv_thread_create("pc_half", &tid[n], count_half, &halves[n], NULL))
      break;
  for (int i = 0; i < n; i++)
    erl_drv_thread_join(tid[i], NULL);
  char out[4];
  for (int i = 0; i < 4; i++)
    out[i] = (char)(total >> (24 - 8 * i));
  driver_output(port, out, sizeof out);
}

static ErlDrvEntry pc_entry = {
    .start = pc_start,
    .output = pc_output,
    .driver_name = "san_thread_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(san_thread_drv) { return &pc_entry; }
