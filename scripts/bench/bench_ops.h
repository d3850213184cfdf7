/* What both benchmark programs share: the operation log (bench_sequencer
 * records the operations its generator produced, bench_bare replays them by
 * calling the driver callbacks directly, so both do the same driver work)
 * and the clock they read. */
#ifndef DC_BENCH_OPS_H
#define DC_BENCH_OPS_H

#include <stdint.h>
#include <time.h>

#define BENCH_MAX_SEGS 8

/* One record, followed by len payload bytes. Kinds are dc__op_kind values;
 * the bare loop only needs open, command, control, call, close, unload. */
typedef struct bench_rec {
  uint8_t kind, slot, opts, nsegs;
  uint32_t cmd;
  int32_t rlen;
  uint32_t len;
  uint32_t seg[BENCH_MAX_SEGS];
} bench_rec;

/* Op kinds, as in harness/src/sequencer/internal.h (checked there with a
 * static assertion in bench_sequencer.c). */
enum {
  BENCH_OPEN = 0,
  BENCH_COMMAND = 1,
  BENCH_CONTROL = 2,
  BENCH_CALL = 3,
  BENCH_CLOSE = 12,
  BENCH_UNLOAD = 13
};

/* Seconds on clock id (CLOCK_MONOTONIC for wall time,
 * CLOCK_PROCESS_CPUTIME_ID for the CPU time the benchmark used). */
static inline double bench_clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
