/* The minimal erl_driver API of the benchmark baselines (bench_bare,
 * bare_fuzz_echo): the cheapest conceivable emulator, exported from the
 * baseline executable so a dlopen'ed driver resolves against it. No checks,
 * no queue, no trace: data is only copied into a sink. */
#include <stdlib.h>
#include <string.h>

#include "bare_api.h"

static char sink[1 << 16];
static volatile size_t sunk;

void bare_take(const char *p, size_t n) {
  if (n > sizeof sink)
    n = sizeof sink;
  memcpy(sink, p, n);
  sunk += n;
}

void *driver_alloc(ErlDrvSizeT size) { return malloc(size ? size : 1); }
void driver_free(void *ptr) { free(ptr); }
void *driver_realloc(void *ptr, ErlDrvSizeT size) { return realloc(ptr, size); }

int driver_output(ErlDrvPort port, char *buf, ErlDrvSizeT len) {
  (void)port;
  bare_take(buf, len);
  return 0;
}

int driver_outputv(ErlDrvPort port, char *hbuf, ErlDrvSizeT hlen, ErlIOVec *ev,
                   ErlDrvSizeT skip) {
  (void)port;
  bare_take(hbuf, hlen);
  for (int i = 0; i < ev->vsize; i++) {
    size_t l = ev->iov[i].iov_len;
    if (skip >= l) {
      skip -= l;
      continue;
    }
    bare_take((char *)ev->iov[i].iov_base + skip, l - skip);
    skip = 0;
  }
  return 0;
}
