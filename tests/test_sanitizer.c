/* Sanitizer reports -> san.* findings (harness/src/sequencer/sanitizer.c).
 *
 * The fixtures in tests/fixtures/san/ are real reports, captured from the
 * LLVM 14 runtimes (see tests/fixtures/san/README.md for how each one was
 * produced): drvcheck built with sanitizers/asan-ubsan.cmake or tsan.cmake
 * running zoo/driver-corpus drivers built with scripts/build-driver, plus
 * reports in the runtimes' default frame formats. The parser must find the
 * rule, the error kind and the first frame inside the driver, and must not
 * blame the driver for reports that have no frame in it.
 *
 * The end-to-end tests at the bottom need a sanitizer build (they build a
 * driver with scripts/build-driver and run it through the executor); in
 * the plain gcc build they return at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sequencer/internal.h"
#include "support.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DC_TEST_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define DC_TEST_TSAN 1
#endif
#endif

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ------------------------------------------------------------------------ */
/* Real reports, drvcheck's frame format (sanopts.c adds the module path)    */

DC_TEST(asan_heap_overflow_is_san_address_at_the_writing_line) {
  dc__san_report r;
  DC_ASSERT_EQ(dc_test_san_parse_fixture("asan_heap_overflow.txt",
                                         "/some/dir/san_address_drv.so", &r),
               DC__SAN_DRIVER);
  DC_ASSERT_EQ(r.rule, DC_RULE_SAN_ADDRESS);
  DC_ASSERT_STREQ(r.kind, "heap-buffer-overflow");
  DC_ASSERT_STREQ(r.function, "nm_output");
  DC_ASSERT(ends_with(r.file, "corpus/zoo/bad/san_address_drv.c"));
  DC_ASSERT_EQ(r.line, 30);
  DC_ASSERT(strstr(r.location, "nm_output ") == r.location);
  DC_ASSERT(ends_with(r.location, "san_address_drv.c:30"));
  DC_ASSERT_EQ(r.nreports, 1);
}

DC_TEST(ubsan_overflow_is_san_undefined_with_the_check_name) {
  dc__san_report r;
  DC_ASSERT_EQ(dc_test_san_parse_fixture("ubsan_signed_overflow.txt",
                                         "san_undefined_drv.so", &r),
               DC__SAN_DRIVER);
  DC_ASSERT_EQ(r.rule, DC_RULE_SAN_UNDEFINED);
  /* the summary's check name (report_error_type=1), not the prose */
  DC_ASSERT_STREQ(r.kind, "signed-integer-overflow");
  DC_ASSERT_STREQ(r.function, "hash");
  DC_ASSERT(ends_with(r.file, "san_undefined_drv.c"));
  DC_ASSERT_EQ(r.line, 21);
}

DC_TEST(lsan_leak_is_san_leak_at_the_allocating_call) {
  dc__san_report r;
  /* the harness's own frames (strdup interceptor in drvcheck) come first
   * in the stack; the finding is the first frame in the driver */
  DC_ASSERT_EQ(
      dc_test_san_parse_fixture("lsan_leak.txt", "san_leak_drv.so", &r),
      DC__SAN_DRIVER);
  DC_ASSERT_EQ(r.rule, DC_RULE_SAN_LEAK);
  DC_ASSERT_STREQ(r.kind, "detected memory leaks");
  DC_ASSERT_STREQ(r.function, "tg_start");
  DC_ASSERT(ends_with(r.file, "san_leak_drv.c"));
  DC_ASSERT_EQ(r.line, 27);
}

DC_TEST(tsan_race_is_san_thread_at_the_racing_line) {
  dc__san_report r;
  DC_ASSERT_EQ(
      dc_test_san_parse_fixture("tsan_race.txt", "san_race_drv.so", &r),
      DC__SAN_DRIVER);
  DC_ASSERT_EQ(r.rule, DC_RULE_SAN_THREAD);
  DC_ASSERT_STREQ(r.kind, "data race");
  DC_ASSERT_STREQ(r.function, "race_output");
  DC_ASSERT(ends_with(r.file, "corpus/drivers/bad/san_race_drv.c"));
  DC_ASSERT_EQ(r.line, 43);
}

/* ------------------------------------------------------------------------ */
/* The runtimes' default frame formats (no sanopts.c)                        */

DC_TEST(tsan_default_format_matches_the_module_basename) {
  dc__san_report r;
  /* "#0 bump /tmp/sanx/race_drv.c:24:12 (race_drv.so+0x12e6)" */
  DC_ASSERT_EQ(dc_test_san_parse_fixture("tsan_default_format.txt",
                                         "/elsewhere/race_drv.so", &r),
               DC__SAN_DRIVER);
  DC_ASSERT_EQ(r.rule, DC_RULE_SAN_THREAD);
  DC_ASSERT_STREQ(r.kind, "data race");
  DC_ASSERT_STREQ(r.function, "bump");
  DC_ASSERT_EQ(r.line, 24);
}

DC_TEST(asan_default_format_matches_the_source_named_like_the_driver) {
  dc__san_report r;
  /* no module in symbolized frames: only overflow_drv.c counts as the
   * driver overflow_drv.so, not host.c */
  DC_ASSERT_EQ(dc_test_san_parse_fixture("asan_default_format.txt",
                                         "overflow_drv.so", &r),
               DC__SAN_DRIVER);
  DC_ASSERT_STREQ(r.kind, "heap-buffer-overflow");
  DC_ASSERT_STREQ(r.function, "drv_overflow");
  DC_ASSERT_EQ(r.line, 7);
  DC_ASSERT_EQ(
      dc_test_san_parse_fixture("asan_default_format.txt", "host.so", &r),
      DC__SAN_DRIVER); /* the same rule for any file stem */
  DC_ASSERT_STREQ(r.function, "main");
  DC_ASSERT_EQ(
      dc_test_san_parse_fixture("asan_default_format.txt", "other_drv.so", &r),
      DC__SAN_FOREIGN);
}

DC_TEST(ubsan_without_stack_uses_its_source_prefix) {
  dc__san_report r;
  /* print_stacktrace=0: "drv_ub.c:13:12: runtime error: ..." only */
  DC_ASSERT_EQ(dc_test_san_parse_fixture("ubsan_no_stack.txt", "drv_ub.so", &r),
               DC__SAN_DRIVER);
  DC_ASSERT_EQ(r.rule, DC_RULE_SAN_UNDEFINED);
  DC_ASSERT_STREQ(r.kind, "signed-integer-overflow");
  DC_ASSERT_EQ(r.line, 13);
  DC_ASSERT_EQ(
      dc_test_san_parse_fixture("ubsan_no_stack.txt", "drv_other.so", &r),
      DC__SAN_FOREIGN);
}

/* ------------------------------------------------------------------------ */
/* Not the driver's                                                          */

DC_TEST(report_without_driver_frame_is_not_a_driver_finding) {
  dc__san_report r;
  /* the same real ASan report, but the driver under test is another one */
  DC_ASSERT_EQ(
      dc_test_san_parse_fixture("asan_heap_overflow.txt", "echo_drv.so", &r),
      DC__SAN_FOREIGN);
  DC_ASSERT_EQ(r.rule, DC_RULE_SAN_ADDRESS); /* still classified */
  DC_ASSERT_STREQ(r.kind, "heap-buffer-overflow");
  DC_ASSERT_STREQ(r.location, "");
  DC_ASSERT_STREQ(r.function, "");
}

DC_TEST(tsan_race_on_harness_memory_is_not_blamed_on_the_driver) {
  dc__san_report r;
  /* a real race inside drvcheck (trace list, since fixed): the driver's
   * race_output is in the stack, below driver_output2, but the racing
   * access is the harness's own */
  DC_ASSERT_EQ(
      dc_test_san_parse_fixture("tsan_harness_race.txt", "san_race_drv.so", &r),
      DC__SAN_FOREIGN);
  DC_ASSERT_EQ(r.rule, DC_RULE_SAN_THREAD);
  DC_ASSERT_STREQ(r.kind, "data race");
}

DC_TEST(harness_only_leak_is_not_a_driver_finding) {
  dc__san_report r;
  /* a leak of drvcheck's own (before its suppression existed) */
  DC_ASSERT_EQ(
      dc_test_san_parse_fixture("lsan_harness_only.txt", "san_leak_drv.so", &r),
      DC__SAN_FOREIGN);
  DC_ASSERT_EQ(r.rule, DC_RULE_SAN_LEAK);
}

DC_TEST(unsymbolized_unloaded_driver_frame_is_not_blamed) {
  dc__san_report r;
  /* "(<unknown module>)" frames: the driver was unmapped; nothing names
   * it, so no finding (never guess) */
  DC_ASSERT_EQ(dc_test_san_parse_fixture("lsan_unknown_module.txt",
                                         "san_leak_drv.so", &r),
               DC__SAN_FOREIGN);
}

/* A lock-order inversion among erl_drv mutexes is thread.lock_order's
 * finding (named locks, found in every build): TSan's report of the same
 * cycle must not add a san.thread duplicate. */
DC_TEST(tsan_lock_order_of_erl_drv_mutexes_is_left_to_lockdep) {
  dc__san_report r;
  DC_ASSERT_EQ(dc_test_san_parse_fixture("tsan_lock_order_erl_drv.txt",
                                         "thread_lock_order_drv.so", &r),
               DC__SAN_NONE);
  DC_ASSERT_EQ(r.nreports, 0);
}

/* The same cycle on the driver's own pthread mutexes is invisible to the
 * emulator's lockdep: TSan's report is the finding. */
DC_TEST(tsan_lock_order_of_pthread_mutexes_is_san_thread) {
  dc__san_report r;
  DC_ASSERT_EQ(dc_test_san_parse_fixture("tsan_lock_order_pthread.txt",
                                         "/tmp/lk/raw_lock_order_drv.so", &r),
               DC__SAN_DRIVER);
  DC_ASSERT_EQ(r.rule, DC_RULE_SAN_THREAD);
  DC_ASSERT(strstr(r.kind, "lock-order-inversion") == r.kind);
  DC_ASSERT_STREQ(r.function, "lo_output");
  DC_ASSERT_EQ(r.line, 72);
  DC_ASSERT_EQ(r.nreports, 1);
}

DC_TEST(no_report_in_plain_text) {
  dc__san_report r;
  const char *t = "sequences: 1 smoke\n#0 is not a frame here\n";
  DC_ASSERT_EQ(dc__san_parse(t, strlen(t), "x_drv.so", &r), DC__SAN_NONE);
  DC_ASSERT_EQ(dc__san_parse("", 0, "x_drv.so", &r), DC__SAN_NONE);
  DC_ASSERT_EQ(r.nreports, 0);
}

DC_TEST(first_report_with_a_driver_frame_wins) {
  size_t a, b;
  char *harness = dc_test_san_fixture("lsan_harness_only.txt", &a);
  char *race = dc_test_san_fixture("tsan_race.txt", &b);
  char *both = malloc(a + b);
  memcpy(both, harness, a);
  memcpy(both + a, race, b);
  dc__san_report r;
  DC_ASSERT_EQ(dc__san_parse(both, a + b, "san_race_drv.so", &r),
               DC__SAN_DRIVER);
  DC_ASSERT_EQ(r.rule, DC_RULE_SAN_THREAD);
  DC_ASSERT_STREQ(r.function, "race_output");
  DC_ASSERT_EQ(r.nreports, 2);
  free(both), free(harness), free(race);
}

DC_TEST(truncated_text_is_parsed_up_to_len) {
  size_t len;
  char *text = dc_test_san_fixture("asan_heap_overflow.txt", &len);
  /* cut inside the first frame line: no complete driver frame */
  const char *f0 = strstr(text, "#0 ");
  DC_ASSERT(f0);
  size_t cut = (size_t)(f0 - text) + 6;
  dc__san_report r;
  DC_ASSERT_EQ(dc__san_parse(text, cut, "san_address_drv.so", &r),
               DC__SAN_FOREIGN);
  DC_ASSERT_EQ(r.rule, DC_RULE_SAN_ADDRESS);
  free(text);
}

/* ------------------------------------------------------------------------ */
/* Collecting from the child's log file, and the finding                     */

DC_TEST(collect_reads_and_removes_the_child_log) {
  char prefix[128], path[160];
  size_t len;
  char *text = dc_test_san_fixture("tsan_race.txt", &len);
  snprintf(prefix, sizeof prefix, "/tmp/dc-san-test.%ld", (long)getpid());
  snprintf(path, sizeof path, "%s.%ld", prefix, 4242L);
  FILE *f = fopen(path, "wb");
  DC_ASSERT(f);
  fwrite(text, 1, len, f);
  fclose(f);
  unsetenv("DRVCHECK_SAN_KEEP");
  dc__san_report r;
  char *got = NULL;
  DC_ASSERT_EQ(dc__san_collect(prefix, 4242, "/x/san_race_drv.so", &r, &got),
               DC__SAN_DRIVER);
  DC_ASSERT(got && strcmp(got, text) == 0);
  DC_ASSERT(access(path, F_OK) != 0); /* consumed */
  DC_ASSERT_EQ(dc__san_collect(prefix, 4242, "/x/san_race_drv.so", &r, NULL),
               DC__SAN_NONE);
  free(got);
  free(text);
}

DC_TEST(finding_carries_rule_kind_and_driver_location) {
  dc__san_report r;
  dc__finding f;
  DC_ASSERT_EQ(
      dc_test_san_parse_fixture("tsan_race.txt", "san_race_drv.so", &r),
      DC__SAN_DRIVER);
  memset(&f, 0, sizeof f);
  dc__san_finding(&r, &f);
  DC_ASSERT_EQ(f.rule, DC_RULE_SAN_THREAD);
  DC_ASSERT_EQ(f.count, 1);
  DC_ASSERT_STREQ(f.location, r.location);
  DC_ASSERT(strstr(f.message, "data race"));
  DC_ASSERT(strstr(f.message, "san_race_drv.c:43"));
}

/* ------------------------------------------------------------------------ */
/* End to end (sanitizer builds only)                                        */

#if defined(DC_TEST_ASAN) || defined(DC_TEST_TSAN)
/* Builds corpus source `src` with scripts/build-driver `flag` into /tmp
 * and runs one unit of it through the executor: the smoke scenario for
 * seed 0, else a generated sequence of that seed. */
static void run_sanitized(const char *src, const char *flag, uint64_t seed,
                          dc__exec_result *res, char *so, size_t cap) {
  char cmd[1024], dir[64];
  /* the file name must be the driver's name (erl_ddll checks it) */
  snprintf(dir, sizeof dir, "/tmp/dc-san-e2e.%ld", (long)getpid());
  mkdir(dir, 0700);
  snprintf(so, cap, "%s/%s", dir, strrchr(src, '/') + 1);
  memcpy(so + strlen(so) - 2, ".so", 4);
  snprintf(cmd, sizeof cmd,
           DC_SOURCE_DIR "/scripts/build-driver %s " DC_SOURCE_DIR
                         "/%s -o %s 2>/dev/null",
           flag, src, so);
  DC_ASSERT_EQ(system(cmd), 0);
  dc__exec_config cfg = {.driver_path = so, .async_threads = 2};
  dc__exec *ex;
  DC_ASSERT_EQ(dc__exec_open(&ex, &cfg), 0);
  dc__exec_unit u = {.smoke = seed == 0, .seed = 1};
  dc__source *gen = malloc(sizeof *gen);
  DC_ASSERT(gen);
  if (seed) {
    dc__source_gen(gen, seed, 0, 300);
    u.src = gen;
  }
  DC_ASSERT_EQ(dc__exec_run(ex, &u, res), 0);
  dc__exec_close(ex);
  free(gen);
}

/* Removes the driver built by run_sanitized and its directory. */
static void drop(char *so) {
  unlink(so);
  *strrchr(so, '/') = '\0';
  rmdir(so);
}

static const dc__finding *find_rule(const dc__exec_result *res, dc_rule rule) {
  for (size_t i = 0; i < res->nfindings; i++)
    if (res->findings[i].rule == rule)
      return &res->findings[i];
  return NULL;
}
#endif

DC_TEST_T(asan_driver_error_becomes_san_address_not_cb_crash, 120) {
#if defined(DC_TEST_ASAN)
  dc__exec_result res;
  char so[256];
  run_sanitized("corpus/zoo/bad/san_address_drv.c", "--asan", 0, &res, so,
                sizeof so);
  const dc__finding *f = find_rule(&res, DC_RULE_SAN_ADDRESS);
  for (size_t i = 0; !f && i < res.nfindings; i++)
    fprintf(stderr, "finding: %s %s %s\n", dc__rule_id(res.findings[i].rule),
            res.findings[i].location, res.findings[i].message);
  DC_ASSERT(f);
  DC_ASSERT(strstr(f->location, "san_address_drv.c:30"));
  DC_ASSERT_STREQ(f->callback, "output");
  DC_ASSERT(!find_rule(&res, DC_RULE_CB_CRASH));
  dc__exec_result_free(&res);
  drop(so);
#endif
}

DC_TEST_T(tsan_flags_the_racy_driver_and_not_its_twin, 240) {
#if defined(DC_TEST_TSAN)
  dc__exec_result res;
  char so[256];
  int racy = 0;
  /* generated sequences open several ports and command them; with port
   * locking their output callbacks run on per-port threads (conc.c), so
   * the race shows within a few seeds */
  for (uint64_t seed = 1; seed <= 20 && !racy; seed++) {
    run_sanitized("corpus/drivers/bad/san_race_drv.c", "--tsan", seed, &res, so,
                  sizeof so);
    const dc__finding *f = find_rule(&res, DC_RULE_SAN_THREAD);
    if (f) {
      DC_ASSERT(strstr(f->location, "race_output "));
      DC_ASSERT(strstr(f->location, "san_race_drv.c:43"));
      racy = 1;
    }
    dc__exec_result_free(&res);
    drop(so);
  }
  DC_ASSERT(racy);
  for (uint64_t seed = 1; seed <= 5; seed++) {
    run_sanitized("corpus/drivers/bad/san_norace_drv.c", "--tsan", seed, &res,
                  so, sizeof so);
    DC_ASSERT(!find_rule(&res, DC_RULE_SAN_THREAD));
    for (size_t i = 0; i < res.nfindings; i++)
      DC_ASSERT(dc__rule_severity(res.findings[i].rule) != DC_SEV_ERROR);
    dc__exec_result_free(&res);
    drop(so);
  }
#endif
}
