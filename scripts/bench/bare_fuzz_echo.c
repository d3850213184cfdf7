/* bare_fuzz_echo: the baseline of the fuzz benchmark (scripts/bench/fuzz).
 * A libFuzzer target that dlopens a driver (the coverage-built echo_drv.so
 * the driver fuzzer also runs) and feeds each input straight into the
 * driver's output callback: start, output(bytes), stop. The erl_driver API
 * it needs is defined here, minimal and exported from this executable, as
 * the cheapest conceivable emulator would have it (no checks, no queue, no
 * trace, the data only copied into a sink).
 *
 * usage: DRVCHECK_DRIVER=echo_drv.so bare_fuzz_echo [libFuzzer flags] [CORPUS]
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <erl_driver.h>

#include "bare_api.h"

/* The minimal API lives in bare_api.c. */

/* ---- the target ------------------------------------------------------------
 */

static ErlDrvEntry *entry;
static char open_cmd[64];
static char port_token; /* any distinct non-NULL port handle */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *path = getenv("DRVCHECK_DRIVER");
  /* Never closed: libFuzzer keeps reading the driver's coverage counters. */
  void *h = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
  ErlDrvEntry *(*init)(void) =
      h ? (ErlDrvEntry * (*)(void)) dlsym(h, "driver_init") : NULL;
  if (!init || !(entry = init()) || !entry->output) {
    fprintf(
        stderr,
        "bare_fuzz_echo: set DRVCHECK_DRIVER to a driver with output (%s)\n",
        path ? dlerror() : "unset");
    exit(2);
  }
  snprintf(open_cmd, sizeof open_cmd, "%s", entry->driver_name);
  if (entry->init && entry->init() != 0)
    exit(2);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ErlDrvData d = entry->start((ErlDrvPort)&port_token, open_cmd);
  if (d == ERL_DRV_ERROR_GENERAL || d == ERL_DRV_ERROR_ERRNO ||
      d == ERL_DRV_ERROR_BADARG)
    return 0;
  /* libFuzzer's buffer is const; ERTS hands drivers a writable one. */
  entry->output(d, (char *)data, size);
  if (entry->stop)
    entry->stop(d);
  return 0;
}
