/* Isolated execution (exec.c) and shrinking (shrink.c), through the
 * library: crashes and hangs become findings, the parent survives, the
 * shrinker keeps only candidates firing the same rule at the same place. */
#include <string.h>
#include <time.h>

#include "runner.h"
#include "sequencer/internal.h"

#define BAD DC_DRIVER_DIR "/bad/"

static dc__exec *open_exec(const char *drv, unsigned hang_ms, int no_fork) {
  dc__exec *ex;
  dc__exec_config cfg = {drv, 1, no_fork, hang_ms};
  DC_ASSERT_EQ(dc__exec_open(&ex, &cfg), 0);
  return ex;
}

/* Parses scenario text (one operation per line) into s. */
static void parse(dc__scenario *s, const char *text) {
  char err[256];
  dc__scenario_init(s);
  if (dc__scenario_parse(s, text, strlen(text), "test", err, sizeof err) != 0)
    DC_FAIL("scenario: %s", err);
}

/* Runs scenario text isolated through ex; res is the caller's to free. */
static void run_text(dc__exec *ex, const char *text, dc__exec_result *res) {
  static dc__source src;
  dc__scenario s;
  dc__exec_unit u = {.src = &src, .collect_trace = 1};
  parse(&s, text);
  dc__source_scenario(&src, &s);
  DC_ASSERT_EQ(dc__exec_run(ex, &u, res), 0);
  dc__scenario_free(&s);
}

static const dc__finding *only_finding(const dc__exec_result *res,
                                       const char *rule) {
  if (res->nfindings != 1 || strcmp(dc__rule_id(res->findings[0].rule), rule))
    DC_FAIL("expected one %s finding, got %zu (first: %s)", rule,
            res->nfindings,
            res->nfindings ? dc__rule_id(res->findings[0].rule) : "-");
  return &res->findings[0];
}

static const char segv_text[] = "open 0 list\n"
                                "command 0 68656c6c6f\n" /* hello */
                                "command 0 626f6f6d21\n" /* boom! */
                                "close 0\n";

DC_TEST(segv_in_output_is_cb_crash_in_the_driver) {
  dc__exec *ex = open_exec(BAD "exec_segv_drv.so", 0, 0);
  dc__exec_result res;
  run_text(ex, segv_text, &res);
  const dc__finding *f = only_finding(&res, "cb.crash");
  DC_ASSERT(res.crashed);
  DC_ASSERT_STREQ(f->callback, "output");
  DC_ASSERT(strstr(f->location, "exec_segv_drv.so") != NULL);
  DC_ASSERT(strstr(f->message, "SIGSEGV") != NULL);
  DC_ASSERT_EQ(f->step, 2);
  /* the fatal operation was logged before it ran; close never ran */
  DC_ASSERT_EQ(res.ops.n, 3);
  DC_ASSERT_EQ(res.ops.ops[2].len, 5);
  DC_ASSERT(memcmp(res.ops.ops[2].data, "boom!", 5) == 0);
  DC_ASSERT_EQ(res.callbacks[DC__CB_OUTPUT], 2); /* the fatal one counts */
  dc__exec_result_free(&res);
  dc__exec_close(ex);
}

/* The parent is untouched by the child's crash: the next unit runs clean. */
DC_TEST(harness_survives_a_crash_and_runs_the_next_unit) {
  dc__exec *ex = open_exec(BAD "exec_segv_drv.so", 0, 0);
  dc__exec_result res;
  run_text(ex, segv_text, &res);
  DC_ASSERT(res.crashed);
  dc__exec_result_free(&res);
  run_text(ex, "open 0 list\ncommand 0 68656c6c6f\nclose 0\n", &res);
  DC_ASSERT_EQ(res.nfindings, 0);
  DC_ASSERT(!res.crashed);
  DC_ASSERT_EQ(res.callbacks[DC__CB_STOP], 1);
  DC_ASSERT(res.ntrace >= 2); /* open result and the echoed data */
  dc__exec_result_free(&res);
  dc__exec_close(ex);
}

DC_TEST(endless_loop_in_control_7_is_cb_hang) {
  dc__exec *ex = open_exec(BAD "exec_hang_drv.so", 300, 0);
  dc__exec_result res;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  run_text(ex, "open 0 list\ncontrol 0 1 -\ncontrol 0 7 -\nclose 0\n", &res);
  clock_gettime(CLOCK_MONOTONIC, &b);
  const dc__finding *f = only_finding(&res, "cb.hang");
  DC_ASSERT(res.hung);
  DC_ASSERT_STREQ(f->callback, "control");
  DC_ASSERT_EQ(f->step, 2);
  DC_ASSERT_EQ(f->port, 0);
  /* the probe found the spinning instruction inside the driver */
  DC_ASSERT(strstr(f->location, "exec_hang_drv.so") != NULL);
  DC_ASSERT(b.tv_sec - a.tv_sec < 5); /* hang limit, not the test timeout */
  dc__exec_result_free(&res);
  dc__exec_close(ex);
}

DC_TEST(abort_in_timeout_is_cb_crash_located_in_the_driver) {
  dc__exec *ex = open_exec(BAD "exec_abort_drv.so", 0, 0);
  dc__exec_result res;
  run_text(ex, "open 0 list\ncontrol 0 1 -\nadvance 150\nclose 0\n", &res);
  const dc__finding *f = only_finding(&res, "cb.crash");
  DC_ASSERT_STREQ(f->callback, "timeout");
  DC_ASSERT(strstr(f->message, "SIGABRT") != NULL);
  /* abort() faults in libc: the location is the first driver frame */
  DC_ASSERT(strstr(f->location, "exec_abort_drv.so") != NULL);
  DC_ASSERT_EQ(f->step, 2);
  dc__exec_result_free(&res);
  dc__exec_close(ex);
}

DC_TEST(no_fork_mode_runs_in_this_process) {
  dc__exec *ex = open_exec(DC_DRIVER_DIR "/echo_drv.so", 0, 1);
  dc__exec_result res;
  run_text(ex, "open 0 binary\ncommand 0 6869\nclose 0\n", &res);
  DC_ASSERT_EQ(res.nfindings, 0);
  DC_ASSERT_EQ(res.callbacks[DC__CB_OUTPUTV], 1);
  /* the emulator of this very process ran the callbacks */
  DC_ASSERT_EQ(dc__g.cb_count[DC__CB_OUTPUTV], 1);
  DC_ASSERT_EQ(dc__g.cb_count[DC__CB_STOP], 1);
  dc__exec_result_free(&res);
  dc__exec_close(ex);
}

/* 40 operations; the crash needs only open, control 1, control 3. */
static void long_order_scenario(dc__scenario *s) {
  char text[8192];
  size_t off = 0;
  static const unsigned filler[] = {0, 2, 4, 5, 6};
  off += (size_t)snprintf(text + off, sizeof text - off,
                          "open 0 list\nopen 1 binary\n");
  for (int i = 0; i < 37; i++) {
    if (i == 12)
      off += (size_t)snprintf(text + off, sizeof text - off, "control 0 1 -\n");
    else if (i % 7 == 3)
      off += (size_t)snprintf(text + off, sizeof text - off, "advance %d\n",
                              10 + i);
    else
      off += (size_t)snprintf(text + off, sizeof text - off,
                              "control %d %u 616263%02x rlen=%d\n",
                              (i % 3) == 0, filler[i % 5], i, 8 + i);
  }
  off += (size_t)snprintf(text + off, sizeof text - off, "control 0 3 7a7a\n");
  parse(s, text);
  DC_ASSERT_EQ(s->n, 40);
}

DC_TEST_T(shrinks_a_40_op_scenario_to_the_few_needed, 120) {
  dc__exec *ex = open_exec(BAD "exec_order_drv.so", 0, 0);
  dc__scenario s, out;
  dc__exec_result res, again;
  char line[256];
  long_order_scenario(&s);
  run_text(ex, "open 0 list\ncontrol 0 1 -\ncontrol 0 3 -\n", &res);
  const dc__finding *target = only_finding(&res, "cb.crash");
  dc__scenario_init(&out);
  int runs = dc__shrink(ex, &s, target, 400, 60000, &out);
  DC_ASSERT(runs > 0);
  if (out.n > 4)
    DC_FAIL("shrunk to %zu operations", out.n);
  /* the essence survived: control 1 then control 3 on the same port */
  int saw1 = 0, saw3 = 0;
  for (size_t i = 0; i < out.n; i++) {
    dc__op_format(&out.ops[i], line, sizeof line);
    saw1 |= out.ops[i].kind == DC__OP_CONTROL && out.ops[i].cmd == 1;
    saw3 |= saw1 && out.ops[i].kind == DC__OP_CONTROL && out.ops[i].cmd == 3;
  }
  DC_ASSERT(saw1 && saw3);
  /* and it reproduces the same rule at the same location */
  static dc__source src;
  dc__exec_unit u = {.src = &src};
  dc__source_scenario(&src, &out);
  DC_ASSERT_EQ(dc__exec_run(ex, &u, &again), 0);
  DC_ASSERT(dc__finding_same(only_finding(&again, "cb.crash"), target));
  dc__exec_result_free(&again);
  dc__exec_result_free(&res);
  dc__scenario_free(&out);
  dc__scenario_free(&s);
  dc__exec_close(ex);
}

/* A target at another location never fires: nothing may be removed. */
DC_TEST_T(shrink_keeps_only_the_same_location, 120) {
  dc__exec *ex = open_exec(BAD "exec_order_drv.so", 0, 0);
  dc__scenario s, out;
  dc__exec_result res;
  long_order_scenario(&s);
  run_text(ex, "open 0 list\ncontrol 0 1 -\ncontrol 0 3 -\n", &res);
  dc__finding other = *only_finding(&res, "cb.crash");
  snprintf(other.location, sizeof other.location, "exec_order_drv.so(+0x1)");
  dc__scenario_init(&out);
  dc__shrink(ex, &s, &other, 60, 60000, &out);
  DC_ASSERT_EQ(out.n, s.n);
  dc__exec_result_free(&res);
  dc__scenario_free(&out);
  dc__scenario_free(&s);
  dc__exec_close(ex);
}

/* An operation the state does not allow (control on a closed port) is
 * flagged with its index: the shrinker rejects such candidates. */
DC_TEST(illegal_operations_are_flagged) {
  dc__exec *ex = open_exec(BAD "exec_order_drv.so", 0, 0);
  dc__exec_result res;
  run_text(ex, "open 0 list\nclose 0\ncontrol 0 3 -\n", &res);
  DC_ASSERT(res.illegal);
  DC_ASSERT_EQ(res.illegal_step, 2);
  dc__exec_result_free(&res);
  dc__exec_close(ex);
}
