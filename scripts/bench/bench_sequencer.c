/* bench_sequencer: callbacks per second through the sequencer (generator +
 * runner, all checks on, in-process, configured as drvcheck run's random
 * sequences) against
 * a bare loop (bench_bare, a separate executable with a minimal erl_driver
 * API) calling the same callbacks of the same driver directly.
 *
 * usage: bench_sequencer DRIVER.so BENCH_BARE [SECONDS]
 *
 * The sequencer part runs seeded sequences for SECONDS (default 3) and logs
 * every operation it executed; bench_bare replays that log (repeatedly, for
 * about as long) and reports its own callbacks per second. Both figures and
 * the cost ratio (harness time per callback / bare time per callback) are
 * printed.
 *
 * A third figure splits the harness's cost: the operations of the first
 * sequence are kept and run again through the runner alone (no generator:
 * the operations are given, as in drvcheck replay), which is the cost of
 * the emulator and its checks by themselves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../harness/src/loader/internal.h"
#include "../../harness/src/sequencer/internal.h"
#include "bench_ops.h"

#define SAME(a, b) ((int)(a) == (int)(b))
_Static_assert(SAME(DC__OP_OPEN, BENCH_OPEN) &&
                   SAME(DC__OP_COMMAND, BENCH_COMMAND) &&
                   SAME(DC__OP_CONTROL, BENCH_CONTROL) &&
                   SAME(DC__OP_CALL, BENCH_CALL) &&
                   SAME(DC__OP_CLOSE, BENCH_CLOSE) &&
                   SAME(DC__OP_UNLOAD, BENCH_UNLOAD),
               "bench_ops.h kinds out of date");

#define OPS_PER_SEQ 20000

static unsigned long total_callbacks(void) {
  unsigned long n = 0;
  for (int i = 1; i < DC__CB_COUNT; i++)
    n += dc__g.cb_count[i];
  return n;
}

static void log_op(FILE *f, const dc__op *op) {
  bench_rec rec;
  memset(&rec, 0, sizeof rec);
  rec.kind = (uint8_t)op->kind;
  rec.slot = (uint8_t)op->slot;
  rec.opts = (uint8_t)op->opts;
  rec.nsegs = (uint8_t)op->nsegs;
  rec.cmd = op->cmd;
  rec.rlen = op->rlen;
  rec.len = (uint32_t)op->len;
  for (int i = 0; i < op->nsegs && i < BENCH_MAX_SEGS; i++)
    rec.seg[i] = (uint32_t)op->seg[i];
  fwrite(&rec, sizeof rec, 1, f);
  if (op->len)
    fwrite(op->data, 1, op->len, f);
}

/* Fresh emulator with the driver loaded, configured as drvcheck run's
 * random sequences (exec.c): no one reads their Erlang-visible trace, so
 * it is not recorded. Every check stays on. */
static void fresh_load(const char *drv) {
  char err[256];
  dc__emu_reset(1);
  dc__g.trace_enabled = 0;
  dc__findings_reset();
  if (dc__load_driver(drv, err, sizeof err) != 0) {
    fprintf(stderr, "bench_sequencer: cannot load %s: %s\n", drv, err);
    exit(2);
  }
}

/* One sequence: fresh emulator, load, generate and run until unload; with
 * keep, its operations are appended there too. Returns callbacks run;
 * *secs and *cpu get the time spent (load excluded). */
static unsigned long one_sequence(const char *drv, uint64_t seed, FILE *log,
                                  dc__scenario *keep, double *secs,
                                  double *cpu) {
  static dc__source src; /* large: holds a 64 KiB payload buffer */
  dc__runner r;
  dc__op op;
  fresh_load(drv);
  unsigned long cb0 = total_callbacks();
  dc__source_gen(&src, seed, 0, OPS_PER_SEQ);
  dc__runner_init(&r);
  double t0 = bench_clock_s(CLOCK_MONOTONIC);
  double c0 = bench_clock_s(CLOCK_PROCESS_CPUTIME_ID);
  while (dc__source_next(&src, &r, &op)) {
    if (log)
      log_op(log, &op);
    if (keep && dc__scenario_add(keep, &op) != 0) {
      fprintf(stderr, "bench_sequencer: out of memory\n");
      exit(2);
    }
    dc__runner_exec(&r, &op);
  }
  *secs = bench_clock_s(CLOCK_MONOTONIC) - t0;
  *cpu = bench_clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
  return total_callbacks() - cb0;
}

/* The kept operations run again through the runner alone, as often as the
 * budget allows. Returns callbacks run, times as one_sequence. */
static unsigned long runner_only(const char *drv, const dc__scenario *ops,
                                 double budget, double *secs, double *cpu) {
  unsigned long callbacks = 0;
  *secs = *cpu = 0;
  while (*secs < budget) {
    dc__runner r;
    fresh_load(drv);
    unsigned long cb0 = total_callbacks();
    dc__runner_init(&r);
    double t0 = bench_clock_s(CLOCK_MONOTONIC);
    double c0 = bench_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (size_t i = 0; i < ops->n; i++)
      dc__runner_exec(&r, &ops->ops[i]);
    *secs += bench_clock_s(CLOCK_MONOTONIC) - t0;
    *cpu += bench_clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    callbacks += total_callbacks() - cb0;
  }
  return callbacks;
}

/* Runs bench_bare on the log: its callbacks per second of wall clock
 * (*wall) and per CPU second (*cpu). Returns 0, or -1 if it failed. */
static int run_bare(const char *bare, const char *drv, const char *logpath,
                    double seconds, double *wall, double *cpu) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' %.3f", bare, drv, logpath, seconds);
  FILE *p = popen(cmd, "r");
  if (!p)
    return -1;
  int ok = fscanf(p, "%lf %lf", wall, cpu) == 2;
  if (pclose(p) != 0)
    ok = 0;
  return ok && *wall > 0 && *cpu > 0 ? 0 : -1;
}

/* On a shared machine the per-CPU-second figures are the stable ones: a
 * preempted process loses wall time, not CPU time. */
int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s DRIVER.so BENCH_BARE [SECONDS]\n", argv[0]);
    return 2;
  }
  const char *drv = argv[1], *bare = argv[2];
  double budget = argc > 3 ? atof(argv[3]) : 3.0;
  char logpath[] = "/tmp/dc_bench_ops_XXXXXX";
  int fd = mkstemp(logpath);
  FILE *log = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (!log) {
    perror("bench_sequencer: log");
    return 2;
  }
  unsigned long callbacks = 0;
  double secs = 0, cpu = 0, t, c;
  size_t nfindings = 0;
  dc__scenario first;
  dc__scenario_init(&first);
  for (uint64_t seed = 1; secs < budget; seed++) {
    /* The first sequence is logged for the bare replay and kept for the
     * runner-only figure. */
    callbacks += one_sequence(drv, seed, seed == 1 ? log : NULL,
                              seed == 1 ? &first : NULL, &t, &c);
    secs += t;
    cpu += c;
    dc__findings(&nfindings);
    if (nfindings)
      fprintf(stderr, "bench_sequencer: seed %llu gave findings\n",
              (unsigned long long)seed);
  }
  fclose(log);
  double harness_cps = callbacks / secs, harness_cpu = callbacks / cpu;
  unsigned long rcb = runner_only(drv, &first, budget, &t, &c);
  double runner_cps = rcb / t, runner_cpu = rcb / c;
  dc__scenario_free(&first);
  double bare_cps, bare_cpu;
  int rc = run_bare(bare, drv, logpath, budget, &bare_cps, &bare_cpu);
  unlink(logpath);
  printf("harness: %.0f callbacks/s (per CPU second: %.0f; %lu callbacks in "
         "%.2f s)\n",
         harness_cps, harness_cpu, callbacks, secs);
  if (rc != 0) {
    fprintf(stderr, "bench_sequencer: bench_bare failed\n");
    return 1;
  }
  printf("bare:    %.0f callbacks/s (per CPU second: %.0f)\n", bare_cps,
         bare_cpu);
  printf("ratio:   %.2fx the bare cost per callback (per CPU second: %.2fx; "
         "target <= 1.5x)\n",
         bare_cps / harness_cps, bare_cpu / harness_cpu);
  printf("runner alone (the first sequence's operations given, no "
         "generator): %.0f callbacks/s (per CPU second: %.0f), %.2fx the "
         "bare cost (per CPU second: %.2fx)\n",
         runner_cps, runner_cpu, bare_cps / runner_cps, bare_cpu / runner_cpu);
  return 0;
}
