/* Sequencer: the protocol state model (model.c), the runner (ops.c) and the
 * generator (gen.c). The generator must only ever produce operations the
 * model allows, drive every example driver cleanly under every stimulus
 * mask, be reproducible by seed, decode any fuzz input into a legal run, and
 * really apply the stimuli it favours. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report/internal.h"
#include "sequencer/internal.h"
#include "support.h"

#define OPS 300
#define SEEDS 30

static dc__source src_store; /* 64 KiB payload buffer: not on the stack */

/* What one generated run did. */
typedef struct run_info {
  unsigned ops;
  dc__op_kind last;
  int unloaded;
  unsigned busy_seen;   /* operations that found a slot's port busy */
  unsigned forced_busy; /* COMMAND ops with [force] into a busy port */
} run_info;

/* Counts trace events whose term contains needle (a driver_output text). */
static unsigned trace_count(const char *needle) {
  unsigned n = 0;
  size_t l = strlen(needle);
  for (const dc__event *ev = dc__trace_first(); ev; ev = ev->next)
    if (ev->len >= l && memmem(ev->etf, ev->len, needle, l))
      n++;
  return n;
}

static int any_busy(const dc__runner *r) {
  for (int i = 0; i < DC__MAX_SLOTS; i++) {
    dc__port *p = dc__runner_port(r, i);
    if (p && p->busy)
      return 1;
  }
  return 0;
}

/* Drives one run from src on the loaded driver; every operation must be
 * legal (checked here as well as by the source's own assertion) and the
 * runner must execute it (never DC_ESTATE). */
static run_info drive(dc__source *src) {
  run_info ri = {0, DC__OP_COUNT, 0, 0, 0};
  dc__runner r;
  dc__op op;
  const char *why = "";
  dc__runner_init(&r);
  while (dc__source_next(src, &r, &op)) {
    if (!dc__op_legal(&r, &op, &why))
      DC_FAIL("op %u (%s) illegal: %s", ri.ops, dc__op_name(op.kind), why);
    if (any_busy(&r))
      ri.busy_seen++;
    if (op.kind == DC__OP_COMMAND && op.force &&
        dc__runner_port(&r, op.slot)->busy)
      ri.forced_busy++;
    int rc = dc__runner_exec(&r, &op);
    if (rc != 0)
      DC_FAIL("op %u (%s) executed with %d", ri.ops, dc__op_name(op.kind), rc);
    ri.last = op.kind;
    ri.ops++;
    if (ri.ops > 200 * OPS)
      DC_FAIL("the source does not end");
  }
  ri.unloaded = r.unloaded;
  return ri;
}

static run_info gen_run(const char *drv, uint64_t seed, unsigned mask,
                        unsigned max_ops) {
  dc_test_load(drv);
  atomic_store(&dc__stimuli_applied, 0);
  dc__source_gen(&src_store, seed, mask, max_ops);
  return drive(&src_store);
}

/* No findings at all: a driver that ignores a small rlen (small_rlen) but
 * stays within the 64 bytes ERTS really offers is correct. */
static void assert_clean(const char *drv, uint64_t seed, unsigned mask) {
  size_t n;
  const dc__finding *f = dc__findings(&n);
  for (size_t i = 0; i < n; i++) {
    DC_FAIL("%s seed %llu mask 0x%x: finding %s in %s: %s", drv,
            (unsigned long long)seed, mask, dc__rule_id(f[i].rule),
            f[i].callback, f[i].message);
  }
}

/* Masks: none, each stimulus alone, all together. */
static void corpus_runs(const char *drv) {
  unsigned masks[DC__STIM_COUNT + 2];
  int nm = 0;
  masks[nm++] = 0;
  for (int s = 0; s < DC__STIM_COUNT; s++)
    masks[nm++] = 1u << s;
  masks[nm++] = (1u << DC__STIM_COUNT) - 1;
  for (int m = 0; m < nm; m++)
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
      run_info ri = gen_run(drv, seed * 7919 + (uint64_t)m, masks[m], OPS);
      if (ri.last != DC__OP_UNLOAD || !ri.unloaded)
        DC_FAIL("%s seed %llu: run did not end with unload", drv,
                (unsigned long long)seed);
      DC_ASSERT(ri.ops > OPS);
      assert_clean(drv, seed, masks[m]);
    }
}

DC_TEST_T(corpus_echo_drv, 300) { corpus_runs("echo_drv"); }
DC_TEST_T(corpus_queue_drv, 300) { corpus_runs("queue_drv"); }
DC_TEST_T(corpus_timer_drv, 300) { corpus_runs("timer_drv"); }
DC_TEST_T(corpus_pipe_drv, 300) { corpus_runs("pipe_drv"); }
DC_TEST_T(corpus_async_drv, 300) { corpus_runs("async_drv"); }
DC_TEST_T(corpus_term_drv, 300) { corpus_runs("term_drv"); }
DC_TEST_T(corpus_call_drv, 300) { corpus_runs("call_drv"); }
DC_TEST_T(corpus_control_bin_drv, 300) { corpus_runs("control_bin_drv"); }

/* ------------------------------------------------------------------------ */
/* Busy and soft-busy                                                        */

/* Without SOFT_BUSY the driver aborts on output while busy: 50 seeds, every
 * stimulus favoured (busy_send included), never crash; and the port really
 * was busy during the runs, so the test is not vacuous. */
DC_TEST_T(busy_without_soft_busy_never_gets_output, 120) {
  unsigned busy = 0;
  for (uint64_t seed = 1; seed <= 50; seed++) {
    run_info ri =
        gen_run("bad/gen_busy_drv", seed, (1u << DC__STIM_COUNT) - 1, OPS);
    DC_ASSERT_EQ(ri.forced_busy, 0);
    DC_ASSERT(ri.unloaded);
    busy += ri.busy_seen;
  }
  DC_ASSERT(busy > 100);
}

/* With SOFT_BUSY, [force] commands reach output while busy (§3.8). */
DC_TEST_T(soft_busy_gets_forced_output_while_busy, 120) {
  unsigned forced = 0, seen = 0;
  for (uint64_t seed = 1; seed <= 20; seed++) {
    run_info ri =
        gen_run("bad/gen_softbusy_drv", seed, 1u << DC__STIM_BUSY_SEND, OPS);
    forced += ri.forced_busy;
    seen += trace_count("forced_while_busy");
    DC_ASSERT(atomic_load(&dc__stimuli_applied) & (1u << DC__STIM_BUSY_SEND));
  }
  DC_ASSERT(forced > 20);
  DC_ASSERT_EQ(seen, forced); /* each forced send reached output */
}

/* ------------------------------------------------------------------------ */
/* Determinism                                                               */

/* The formatted line plus every field (and a payload hash), so the check
 * does not depend on how complete the scenario formatter is. */
static void op_dump(const dc__op *op, char *buf, size_t cap) {
  char line[512] = "";
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < op->len; i++)
    h = (h ^ op->data[i]) * 1099511628211ull;
  if (dc__op_format(op, line, sizeof line) != 0)
    snprintf(line, sizeof line, "?");
  int n =
      snprintf(buf, cap, "%s|%d %d %d %u %d %d %d %d %d %d %llu %zu %llx %d",
               line, op->kind, op->slot, op->proc, op->cmd, op->opts, op->force,
               op->bang, op->rlen, op->k, op->mode, (unsigned long long)op->ms,
               op->len, (unsigned long long)h, op->nsegs);
  for (int i = 0; i < op->nsegs && n > 0 && (size_t)n < cap; i++)
    n += snprintf(buf + n, cap - (size_t)n, ",%zu", op->seg[i]);
  if (n > 0 && (size_t)n < cap)
    snprintf(buf + n, cap - (size_t)n, " %s", op->reason);
}

/* All op dumps of one run joined, malloc'ed. */
static char *run_dump(const char *drv, uint64_t seed, unsigned mask) {
  size_t cap = 1 << 20, used = 0;
  char *all = malloc(cap), line[1024];
  dc__runner r;
  dc__op op;
  DC_ASSERT(all);
  all[0] = '\0';
  dc_test_load(drv);
  dc__source_gen(&src_store, seed, mask, OPS);
  dc__runner_init(&r);
  while (dc__source_next(&src_store, &r, &op)) {
    op_dump(&op, line, sizeof line);
    size_t l = strlen(line);
    DC_ASSERT(used + l + 2 < cap);
    memcpy(all + used, line, l);
    used += l;
    all[used++] = '\n';
    all[used] = '\0';
    DC_ASSERT_EQ(dc__runner_exec(&r, &op), 0);
  }
  return all;
}

static void same_seed_same_ops(const char *drv) {
  unsigned all = (1u << DC__STIM_COUNT) - 1;
  for (uint64_t seed = 1; seed <= 5; seed++) {
    char *a = run_dump(drv, seed, all), *b = run_dump(drv, seed, all);
    char *c = run_dump(drv, seed + 100, all);
    DC_ASSERT_STREQ(a, b);
    DC_ASSERT(strcmp(a, c) != 0); /* the seed does matter */
    free(a);
    free(b);
    free(c);
  }
}

DC_TEST_T(same_seed_same_sequence_pipe, 60) { same_seed_same_ops("pipe_drv"); }
DC_TEST_T(same_seed_same_sequence_queue, 60) {
  same_seed_same_ops("queue_drv");
}
DC_TEST_T(same_seed_same_sequence_async, 60) {
  same_seed_same_ops("async_drv");
}

/* ------------------------------------------------------------------------ */
/* Fuzz bytes                                                                */

static void fuzz_run(const char *drv, const unsigned char *bytes, size_t len) {
  dc_test_load(drv);
  dc__source_fuzz(&src_store, bytes, len, OPS);
  run_info ri = drive(&src_store);
  DC_ASSERT_EQ(ri.last, DC__OP_UNLOAD);
  DC_ASSERT(ri.unloaded);
  assert_clean(drv, len, 0);
}

DC_TEST_T(fuzz_bytes_decode_into_legal_runs, 120) {
  static const char *const drvs[] = {"echo_drv",  "pipe_drv",
                                     "queue_drv", "async_drv",
                                     "call_drv",  "bad/gen_busy_drv"};
  static unsigned char buf[8192];
  uint64_t rng = 42;
  for (size_t d = 0; d < sizeof drvs / sizeof *drvs; d++) {
    fuzz_run(drvs[d], NULL, 0);
    fuzz_run(drvs[d], buf, 0);
    memset(buf, 0xff, sizeof buf);
    fuzz_run(drvs[d], buf, sizeof buf);
    memset(buf, 0, sizeof buf);
    fuzz_run(drvs[d], buf, sizeof buf);
    for (int i = 0; i < 20; i++) {
      size_t len = (size_t)(dc__rand(&rng) % sizeof buf);
      for (size_t j = 0; j < len; j++)
        buf[j] = (unsigned char)dc__rand(&rng);
      fuzz_run(drvs[d], buf, len);
    }
  }
}

/* An empty input has no choices: the run is just the unload. */
DC_TEST(fuzz_empty_input_only_unloads) {
  dc_test_load("echo_drv");
  dc__source_fuzz(&src_store, NULL, 0, OPS);
  run_info ri = drive(&src_store);
  DC_ASSERT_EQ(ri.ops, 1);
  DC_ASSERT_EQ(ri.last, DC__OP_UNLOAD);
}

/* ------------------------------------------------------------------------ */
/* Stimuli really applied                                                    */

/* Runs seeds with one stimulus favoured until its bit is set (at most 10). */
static int stimulus_applied(const char *drv, dc__stimulus s) {
  for (uint64_t seed = 1; seed <= 10; seed++) {
    gen_run(drv, seed, 1u << s, OPS);
    if (atomic_load(&dc__stimuli_applied) & (1u << s))
      return 1;
  }
  return 0;
}

DC_TEST(stimulus_false_event_on_pipe) {
  DC_ASSERT(stimulus_applied("pipe_drv", DC__STIM_FALSE_EVENT));
  DC_ASSERT(dc__g.cb_count[DC__CB_READY_INPUT] > 0);
}

DC_TEST(stimulus_close_with_queued_data_on_queue) {
  DC_ASSERT(stimulus_applied("queue_drv", DC__STIM_CLOSE_QUEUED));
  DC_ASSERT(dc__g.cb_count[DC__CB_FLUSH] > 0); /* flush: queue was non-empty */
}

DC_TEST(stimulus_monitored_process_exit) {
  DC_ASSERT(stimulus_applied("bad/gen_monitor_drv", DC__STIM_PROC_EXIT));
  DC_ASSERT(dc__g.cb_count[DC__CB_PROCESS_EXIT] > 0);
  DC_ASSERT(trace_count("down") > 0);
}

DC_TEST(stimulus_stop_select_after_stop_on_pipe) {
  DC_ASSERT(stimulus_applied("pipe_drv", DC__STIM_SS_AFTER_STOP));
  DC_ASSERT(dc__g.cb_count[DC__CB_STOP_SELECT] > 0);
}

DC_TEST(stimulus_stop_select_sync_on_pipe) {
  DC_ASSERT(stimulus_applied("pipe_drv", DC__STIM_SS_SYNC));
}

DC_TEST(stimulus_small_rlen_on_echo) {
  DC_ASSERT(stimulus_applied("echo_drv", DC__STIM_SMALL_RLEN));
}

DC_TEST(stimulus_busy_send_on_soft_busy) {
  DC_ASSERT(stimulus_applied("bad/gen_softbusy_drv", DC__STIM_BUSY_SEND));
}

/* ------------------------------------------------------------------------ */
/* The model and the runner on hand-made operations                          */

static dc__op mk(dc__op_kind k, int slot) {
  dc__op op = dc__op_make(k);
  op.slot = slot;
  return op;
}

static int legal(const dc__runner *r, dc__op op) {
  return dc__op_legal(r, &op, NULL);
}

static int run(dc__runner *r, dc__op op) { return dc__runner_exec(r, &op); }

static dc__op command(int slot, const char *text) {
  dc__op op = mk(DC__OP_COMMAND, slot);
  op.data = (const unsigned char *)text;
  op.len = strlen(text);
  return op;
}

/* An illegal operation is refused and has no effect at all. */
DC_TEST(runner_refuses_illegal_ops_without_effect) {
  dc__runner r;
  dc_test_load("echo_drv");
  dc__runner_init(&r);
  unsigned long before =
      dc__g.cb_count[DC__CB_OUTPUT] + dc__g.cb_count[DC__CB_OUTPUTV];
  DC_ASSERT_EQ(run(&r, command(0, "x")), DC_ESTATE); /* no port */
  DC_ASSERT_EQ(dc__g.cb_count[DC__CB_OUTPUT] + dc__g.cb_count[DC__CB_OUTPUTV],
               before);
  DC_ASSERT_EQ(run(&r, mk(DC__OP_OPEN, 0)), 0);
  DC_ASSERT_EQ(run(&r, mk(DC__OP_OPEN, 0)), DC_ESTATE); /* slot taken */
  dc__op ev = mk(DC__OP_EVENT, 0);
  ev.k = 0;
  ev.mode = ERL_DRV_READ;
  DC_ASSERT_EQ(run(&r, ev), DC_ESTATE); /* echo selects nothing */
  dc__op forced = command(0, "x");
  forced.force = 1; /* notsup without SOFT_BUSY: never generated */
  DC_ASSERT(!legal(&r, forced));
  DC_ASSERT_EQ(run(&r, mk(DC__OP_UNLOAD, 0)), DC_ESTATE); /* port alive */
  DC_ASSERT_EQ(run(&r, command(0, "x")), 0);
  DC_ASSERT_EQ(run(&r, mk(DC__OP_CLOSE, 0)), 0);
  DC_ASSERT_EQ(run(&r, mk(DC__OP_CLOSE, 0)), DC_ESTATE); /* already gone */
  DC_ASSERT_EQ(run(&r, mk(DC__OP_UNLOAD, 0)), 0);
  /* Nothing after unload. */
  DC_ASSERT(!legal(&r, mk(DC__OP_OPEN, 1)));
  DC_ASSERT(!legal(&r, mk(DC__OP_ADVANCE, 0)));
  DC_ASSERT(!legal(&r, mk(DC__OP_POLL, 0)));
}

/* Busy without soft-busy: no command (not even forced); control, timers
 * and close go on regardless (§3.8). */
DC_TEST(model_busy_port_takes_no_commands) {
  dc__runner r;
  dc_test_load("bad/gen_busy_drv");
  dc__runner_init(&r);
  DC_ASSERT_EQ(run(&r, mk(DC__OP_OPEN, 0)), 0);
  dc__op ctl = mk(DC__OP_CONTROL, 0);
  ctl.cmd = 1; /* go busy */
  DC_ASSERT_EQ(run(&r, ctl), 0);
  DC_ASSERT(dc__runner_port(&r, 0)->busy);
  DC_ASSERT(!legal(&r, command(0, "x")));
  dc__op forced = command(0, "x");
  forced.force = 1;
  DC_ASSERT(!legal(&r, forced));
  DC_ASSERT(legal(&r, ctl));
  DC_ASSERT(legal(&r, mk(DC__OP_CLOSE, 0)));
  dc__op adv = mk(DC__OP_ADVANCE, 0);
  adv.ms = 5;
  DC_ASSERT_EQ(run(&r, adv), 0); /* timeout clears busy */
  DC_ASSERT(!dc__runner_port(&r, 0)->busy);
  DC_ASSERT(legal(&r, command(0, "x")));
}

/* Soft-busy: only the forced command goes while busy. */
DC_TEST(model_soft_busy_allows_only_forced_commands) {
  dc__runner r;
  dc_test_load("bad/gen_softbusy_drv");
  dc__runner_init(&r);
  DC_ASSERT_EQ(run(&r, mk(DC__OP_OPEN, 0)), 0);
  dc__op ctl = mk(DC__OP_CONTROL, 0);
  ctl.cmd = 1;
  DC_ASSERT_EQ(run(&r, ctl), 0);
  DC_ASSERT(!legal(&r, command(0, "x")));
  dc__op forced = command(0, "x");
  forced.force = 1;
  DC_ASSERT_EQ(run(&r, forced), 0);
  DC_ASSERT_EQ(trace_count("forced_while_busy"), 1);
  DC_ASSERT(atomic_load(&dc__stimuli_applied) & (1u << DC__STIM_BUSY_SEND));
}

/* A CLOSING port (flush pending, queue not drained) is invisible to Erlang:
 * no command/control/close, but timers still fire; unload waits. */
DC_TEST(model_closing_port_until_drained) {
  dc__runner r;
  dc_test_load("queue_drv");
  dc__runner_init(&r);
  DC_ASSERT_EQ(run(&r, mk(DC__OP_OPEN, 0)), 0);
  DC_ASSERT_EQ(run(&r, command(0, "queued bytes")), 0);
  DC_ASSERT(dc__queue_size(dc__runner_port(&r, 0)) > 0);
  DC_ASSERT_EQ(run(&r, mk(DC__OP_CLOSE, 0)), 0);
  DC_ASSERT(atomic_load(&dc__stimuli_applied) & (1u << DC__STIM_CLOSE_QUEUED));
  DC_ASSERT_EQ(dc__runner_port(&r, 0)->state, DC__PORT_CLOSING);
  DC_ASSERT(!legal(&r, command(0, "x")));
  DC_ASSERT(!legal(&r, mk(DC__OP_CONTROL, 0)));
  DC_ASSERT(!legal(&r, mk(DC__OP_CLOSE, 0)));
  DC_ASSERT(!legal(&r, mk(DC__OP_OPEN, 0))); /* the slot is still taken */
  DC_ASSERT(!legal(&r, mk(DC__OP_UNLOAD, 0)));
  DC_ASSERT(legal(&r, mk(DC__OP_ADVANCE, 0)));
  DC_ASSERT_EQ(run(&r, mk(DC__OP_SETTLE, 0)), 0); /* flush timer drains */
  DC_ASSERT(dc__runner_port(&r, 0) == NULL);
  DC_ASSERT(legal(&r, mk(DC__OP_UNLOAD, 0)));
}

/* Events only for what the port selected, in the direction it selected;
 * a ready_input on an empty pipe is a false event. */
DC_TEST(model_events_only_for_selected_fds) {
  dc__runner r;
  dc_test_load("pipe_drv");
  dc__runner_init(&r);
  DC_ASSERT_EQ(run(&r, mk(DC__OP_OPEN, 0)), 0);
  dc__op ev = mk(DC__OP_EVENT, 0);
  ev.k = 0;
  ev.mode = ERL_DRV_WRITE;
  DC_ASSERT(!legal(&r, ev)); /* selected for READ only */
  ev.k = 1;
  ev.mode = ERL_DRV_READ;
  DC_ASSERT(!legal(&r, ev)); /* one fd only */
  ev.k = 0;
  DC_ASSERT_EQ(run(&r, ev), 0);
  DC_ASSERT(atomic_load(&dc__stimuli_applied) & (1u << DC__STIM_FALSE_EVENT));
  DC_ASSERT_EQ(dc__g.cb_count[DC__CB_READY_INPUT], 1);
}

/* Until erl_drv_init_ack, open_port has not returned: the port gets only
 * events, timers and async completions (§3.12). */
DC_TEST(model_init_ack_pending_port) {
  dc__runner r;
  dc_test_load("bad/gen_initack_drv");
  dc__runner_init(&r);
  DC_ASSERT_EQ(run(&r, mk(DC__OP_OPEN, 0)), 0);
  DC_ASSERT(dc__runner_port(&r, 0)->init_ack_pending);
  DC_ASSERT(!legal(&r, command(0, "x")));
  DC_ASSERT(!legal(&r, mk(DC__OP_CONTROL, 0)));
  DC_ASSERT(!legal(&r, mk(DC__OP_CLOSE, 0)));
  dc__op adv = mk(DC__OP_ADVANCE, 0);
  adv.ms = 1;
  DC_ASSERT_EQ(run(&r, adv), 0); /* the timeout acks */
  DC_ASSERT(!dc__runner_port(&r, 0)->init_ack_pending);
  DC_ASSERT(legal(&r, command(0, "x")));
  DC_ASSERT(legal(&r, mk(DC__OP_CLOSE, 0)));
}

/* A process that exited can neither exit again nor send or open. */
DC_TEST(model_dead_process_cannot_act) {
  dc__runner r;
  dc_test_load("echo_drv");
  dc__runner_init(&r);
  DC_ASSERT_EQ(run(&r, mk(DC__OP_OPEN, 0)), 0);
  dc__op ex = dc__op_make(DC__OP_EXIT);
  ex.proc = 5;
  snprintf(ex.reason, sizeof ex.reason, "normal");
  DC_ASSERT_EQ(run(&r, ex), 0);
  DC_ASSERT(!legal(&r, ex));
  dc__op cmd = command(0, "x");
  cmd.proc = 5;
  DC_ASSERT(!legal(&r, cmd));
  dc__op open = mk(DC__OP_OPEN, 1);
  open.proc = 5;
  DC_ASSERT(!legal(&r, open));
  /* The owner's exit closes its port. */
  ex.proc = 0;
  DC_ASSERT_EQ(run(&r, ex), 0);
  DC_ASSERT(dc__runner_port(&r, 0) == NULL);
  DC_ASSERT(!legal(&r, mk(DC__OP_OPEN, 0))); /* default opener p0 is dead */
}

/* Call arguments must be one valid external-format term. */
DC_TEST(model_call_needs_valid_etf) {
  static const unsigned char good[] = {131, 97, 7}; /* 7 */
  static const unsigned char bad[] = {131, 200, 1};
  dc__runner r;
  dc_test_load("call_drv");
  dc__runner_init(&r);
  DC_ASSERT_EQ(run(&r, mk(DC__OP_OPEN, 0)), 0);
  dc__op call = mk(DC__OP_CALL, 0);
  call.data = good;
  call.len = sizeof good;
  DC_ASSERT(legal(&r, call));
  call.data = bad;
  DC_ASSERT(!legal(&r, call));
  call.len = 0;
  DC_ASSERT(!legal(&r, call));
}

/* Stimulus names are the ones the reports and scenarios use. */
DC_TEST(stimulus_names) {
  DC_ASSERT_STREQ(dc__stimulus_name(DC__STIM_FALSE_EVENT), "false_event");
  DC_ASSERT_STREQ(dc__stimulus_name(DC__STIM_PROC_EXIT),
                  "monitored_process_exit");
  DC_ASSERT_STREQ(dc__stimulus_name(DC__STIM_COUNT), "?");
}

/* Exhausted fuzz bytes yield 0; a PRNG never runs out. */
DC_TEST(entropy_bytes_and_prng) {
  static const unsigned char b[] = {0x01, 0x02, 0xff};
  dc__entropy e;
  dc__entropy_bytes(&e, b, sizeof b);
  DC_ASSERT_EQ(dc__entropy_below(&e, 1), 0); /* no choice: no byte spent */
  DC_ASSERT_EQ(dc__entropy_below(&e, 256), 1);
  DC_ASSERT_EQ(dc__entropy_below(&e, 10), 2);
  DC_ASSERT(!dc__entropy_done(&e));
  DC_ASSERT_EQ(dc__entropy_below(&e, 1000), 0); /* needs 2 bytes, has 1 */
  DC_ASSERT(dc__entropy_done(&e));
  dc__entropy_seed(&e, 9);
  for (int i = 0; i < 1000; i++)
    DC_ASSERT(dc__entropy_below(&e, 7) < 7);
  DC_ASSERT(!dc__entropy_done(&e));
}
