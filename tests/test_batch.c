/* Batches of random sequences in one child (exec.c run_batch, run.c
 * random_batch): each sequence must start as fresh as in a child of its
 * own, a finding must come back with the operations and seed of the
 * sequence that raised it, and coverage must add up over the batch. */
#include <dlfcn.h>
#include <string.h>

#include "runner.h"
#include "sequencer/internal.h"

#define BAD DC_DRIVER_DIR "/bad/"
#define OPS 120 /* as drvcheck run's random sequences */
#define SEEDS 0x5EED5EEDull

/* Sanitizer builds pin the driver's library for the leak check's symbols
 * (sanitizer.c): it is never unmapped, so a batch is one sequence there. */
static unsigned batch_of(unsigned n) { return dc__san_active() ? 1 : n; }

static dc__exec *open_exec(const char *drv) {
  dc__exec *ex;
  dc__exec_config cfg = {drv, 1, 0, 0};
  DC_ASSERT_EQ(dc__exec_open(&ex, &cfg), 0);
  return ex;
}

static void run_batch(dc__exec *ex, unsigned n, dc__exec_result *res) {
  static dc__source src;
  dc__exec_unit u = {
      .src = &src, .batch = n, .seeds = SEEDS, .max_ops = OPS, .batch_ms = 6e4};
  DC_ASSERT_EQ(dc__exec_run(ex, &u, res), 0);
}

/* The k-th sequence of the stream alone, in a child of its own. */
static void run_single(dc__exec *ex, unsigned k, dc__exec_result *res,
                       uint64_t *seed) {
  static dc__source src;
  uint64_t seeds = SEEDS;
  for (unsigned i = 0; i <= k; i++)
    *seed = dc__rand(&seeds);
  dc__source_gen(&src, *seed, 0, OPS);
  dc__exec_unit u = {.src = &src};
  DC_ASSERT_EQ(dc__exec_run(ex, &u, res), 0);
}

/* exec_statics_drv crashes once more than 120 ports were ever started in
 * its library image: 64 sequences in one child start far more than that,
 * so a batch that carried the driver's statics over would crash. */
DC_TEST_T(batch_sequences_start_from_fresh_statics, 120) {
  dc__exec *ex = open_exec(BAD "exec_statics_drv.so");
  dc__exec_result res;
  run_batch(ex, 64, &res);
  DC_ASSERT_EQ(res.batch_ran, batch_of(64));
  DC_ASSERT_EQ(res.nfindings, 0);
  DC_ASSERT(!res.crashed);
  DC_ASSERT(res.batch_ran == 1 || res.callbacks[DC__CB_START] > 120);
  dc__exec_result_free(&res);
  dc__exec_close(ex);
}

/* Held open by this process, the library stays mapped in the child after
 * the driver's unload: its statics would carry over, so the batch ends
 * after one sequence. */
DC_TEST_T(a_library_that_stays_mapped_ends_the_batch, 120) {
  void *held = dlopen(BAD "exec_statics_drv.so", RTLD_NOW | RTLD_LOCAL);
  DC_ASSERT(held != NULL);
  dc__exec *ex = open_exec(BAD "exec_statics_drv.so");
  dc__exec_result res;
  run_batch(ex, 64, &res);
  DC_ASSERT_EQ(res.batch_ran, 1);
  DC_ASSERT_EQ(res.nfindings, 0);
  dc__exec_result_free(&res);
  dc__exec_close(ex);
  dlclose(held);
}

/* A batch without findings counts every sequence's callbacks: the same
 * totals as the sequences run one per child. */
DC_TEST_T(batch_coverage_is_the_sum_of_its_sequences, 120) {
  dc__exec *ex = open_exec(DC_DRIVER_DIR "/echo_drv.so");
  dc__exec_result res, one;
  unsigned long sum[DC__CB_COUNT] = {0};
  uint64_t seed;
  run_batch(ex, 8, &res);
  DC_ASSERT_EQ(res.batch_ran, batch_of(8));
  for (unsigned k = 0; k < res.batch_ran; k++) {
    run_single(ex, k, &one, &seed);
    for (int i = 0; i < DC__CB_COUNT; i++)
      sum[i] += one.callbacks[i];
    dc__exec_result_free(&one);
  }
  DC_ASSERT_EQ(res.batch_seed, seed);
  for (int i = 0; i < DC__CB_COUNT; i++)
    if (res.callbacks[i] != sum[i])
      DC_FAIL("%s: %lu in the batch, %lu one by one", dc__cb_name((dc__cb)i),
              res.callbacks[i], sum[i]);
  dc__exec_result_free(&res);
  dc__exec_close(ex);
}

/* The batch stops at the first sequence with a finding and hands back
 * that sequence: its seed, its operations, the same finding as when it
 * runs alone. exec_order_drv crashes only for control 1 then control 3 on
 * one port, which some random sequences do and most do not. */
DC_TEST_T(batch_returns_the_sequence_of_its_finding, 240) {
  dc__exec *ex = open_exec(BAD "exec_order_drv.so");
  dc__exec_result res, one;
  uint64_t seed = 0;
  unsigned k = 0;
  for (;; k++) {
    if (k == 64)
      DC_FAIL("no crash in 64 sequences: pick another driver");
    run_single(ex, k, &one, &seed);
    if (one.nfindings)
      break;
    dc__exec_result_free(&one);
  }
  DC_ASSERT(k > 0); /* else nothing shows the batch went past a sequence */
  if (batch_of(64) == 1) { /* only the plain build batches */
    dc__exec_result_free(&one);
    dc__exec_close(ex);
    return;
  }
  run_batch(ex, 64, &res);
  DC_ASSERT_EQ(res.batch_ran, k + 1);
  DC_ASSERT_EQ(res.batch_seed, seed);
  DC_ASSERT_EQ(res.ops.n, one.ops.n);
  DC_ASSERT(res.crashed);
  DC_ASSERT_EQ(res.nfindings, one.nfindings);
  DC_ASSERT(dc__finding_same(&res.findings[0], &one.findings[0]));
  dc__exec_result_free(&one);
  dc__exec_result_free(&res);
  dc__exec_close(ex);
}
