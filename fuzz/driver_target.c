/* drvcheck_fuzz_driver: libFuzzer target that runs a port driver through
 * the operations decoded from each input (dc__fuzz_run: the sequencer's
 * generator fed by the input bytes, payloads taken verbatim from them).
 *
 * Per input: fresh emulator, load the driver, run, unload. The library is
 * opened and its entry checked once, up front, and pinned (RTLD_NODELETE):
 * each input loads it again with dc__load_again (driver_init, the entry
 * checks, init; no dlopen), and the run ends with finish() and the unload
 * checks. The driver's statics persist across inputs, as with a statically
 * linked driver; the emulator's state does not. The driver is
 * named by --drvcheck-driver=PATH (removed from argv before libFuzzer
 * parses it) or the DRVCHECK_DRIVER environment variable. Built by
 * drvcheck_add_fuzzer() with DC_STATIC_INIT=<name>_driver_init, the driver
 * is linked in and loaded with dc__load_static instead.
 *
 * An ERROR finding prints one line naming the rule and aborts, so libFuzzer
 * keeps the input; a driver crash is caught by libFuzzer/ASan directly (in
 * process, the crash is the finding). */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/internal.h"
#include "sequencer/internal.h"

#define FLAG "--drvcheck-driver="

#ifdef DC_STATIC_INIT
ErlDrvEntry *DC_STATIC_INIT(void);
#endif

static const char *driver_path;

static int load(char *err, size_t cap) {
#ifdef DC_STATIC_INIT
  (void)driver_path;
  return dc__load_static(DC_STATIC_INIT, err, cap);
#else
  return dc__load_driver(driver_path, err, cap);
#endif
}

/* Takes our flag out of argv, so libFuzzer never sees an unknown flag. */
static void take_flag(int *argc, char ***argv) {
  int j = 0;
  for (int i = 0; i < *argc; i++) {
    char *a = (*argv)[i];
    if (strncmp(a, FLAG, strlen(FLAG)) == 0)
      driver_path = a + strlen(FLAG);
    else
      (*argv)[j++] = a;
  }
  (*argv)[j] = NULL;
  *argc = j;
}

/* Driver callbacks per input, for the fuzz benchmark (scripts/bench/fuzz):
 * with DRVCHECK_FUZZ_STATS set, the totals are printed at exit. They let
 * the benchmark say what the bare target's per-callback cost would add up
 * to for this fuzzer's inputs, with no harness at all. */
static unsigned long stat_inputs, stat_callbacks;

static void count_callbacks(void) {
  for (int i = 0; i < DC__CB_COUNT; i++)
    stat_callbacks +=
        atomic_load_explicit(&dc__g.cb_count[i], memory_order_relaxed);
}

static void print_stats(void) {
  fprintf(stderr, "stat::drvcheck_inputs: %lu\nstat::drvcheck_callbacks: %lu\n",
          stat_inputs, stat_callbacks);
}

/* A fresh emulator for the next input. Done at the end of an input rather
 * than at the start of the next: what the run allocated (trace events,
 * quarantined blocks) is then freed within the same input, so libFuzzer
 * counts as many frees as mallocs and does not execute the input a second
 * time to look for a leak. */
static void fresh(void) {
  count_callbacks();
  dc__emu_reset(1);
  dc__findings_reset();
  /* Nobody reads the Erlang-visible trace here (a finding is the only
   * output, and no rule reads the trace): not recording it saves an event
   * per message. The converter, which replays an artifact, keeps it. */
  dc__g.trace_enabled = 0;
}

/* libFuzzer reads the coverage counters of an instrumented driver after
 * every input; dlclose would unmap them under its feet. Pinning keeps the
 * library mapped, so every input can load it again without dlopen. The
 * replay build pins it too: it runs inputs as the fuzzer does. Called
 * while the driver is loaded, so this only marks the loaded object. */
static void pin(void) {
#ifndef DC_STATIC_INIT
  char dl[4096];
  if (!dlopen(dc__dl_name(driver_path, dl, sizeof dl),
              RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)) {
    fprintf(stderr, "drvcheck_fuzz_driver: %s\n", dlerror());
    exit(2);
  }
#endif
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  char err[256] = "";
  take_flag(argc, argv);
  if (driver_path)
    /* -jobs/-fork workers get libFuzzer's argv, without our flag. */
    setenv("DRVCHECK_DRIVER", driver_path, 1);
  else
    driver_path = getenv("DRVCHECK_DRIVER");
#ifndef DC_STATIC_INIT
  if (!driver_path || !*driver_path) {
    fprintf(stderr, "drvcheck_fuzz_driver: name the driver with " FLAG
                    "PATH or DRVCHECK_DRIVER=PATH\n");
    exit(2);
  }
#endif
  /* The full load (dlopen, driver_init lookup, entry checks) once: a
   * driver that does not load fails every input the same way, say so. */
  fresh();
  int rc = load(err, sizeof err);
  if (rc != 0) {
    const dc__finding *f = dc__fuzz_first_error();
    char line[1024];
    if (f)
      dc__fuzz_format_finding(f, line, sizeof line);
    fprintf(stderr, "drvcheck_fuzz_driver: cannot load %s: %s\n",
            driver_path ? driver_path : "the driver", f ? line : err);
    exit(2);
  }
  pin();
  dc__unload_driver();
  fresh();
  stat_callbacks = 0; /* the initial load is not an input */
  if (getenv("DRVCHECK_FUZZ_STATS"))
    atexit(print_stats);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256] = "", line[1024];
  /* The emulator is fresh here: LLVMFuzzerInitialize and every input
   * leave it reset. */
  dc__stimuli_applied = 0;
  stat_inputs++;
  if (dc__load_again(err, sizeof err) == 0)
    dc__fuzz_run(data, size, NULL, NULL);
  const dc__finding *f = dc__fuzz_first_error();
  if (f) {
    dc__fuzz_format_finding(f, line, sizeof line);
    fprintf(stderr, "%s\n", line);
    abort();
  }
  fresh();
  return 0;
}
