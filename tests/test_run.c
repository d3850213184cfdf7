/* `drvcheck run` with isolated sequences, shrinking, scenario files, and
 * `drvcheck replay`: through the real command line. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/msan_shim.h" /* MSan: cJSON hooks for report parsing */
#include "runner.h"

/* An ASan build of drvcheck runs LeakSanitizer's check at the end of every
 * run unit (dc__san_child_end), ~30 ms each: shrinking's 400 candidate runs
 * then approach its 15 s wall-time safety net (run.c SHRINK_MS), and under
 * a loaded machine the shrunk scenario depends on where the clock stopped
 * (same_seed_same_report) and slow units read as hangs. No test here is
 * about leaks (test_sanitizer.c is), so these runs skip the per-unit check;
 * every assertion stays as strict as in the plain build. */
#if defined(__SANITIZE_ADDRESS__)
#define RUN_NO_LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RUN_NO_LEAK_CHECK 1
#endif
#endif
#ifdef RUN_NO_LEAK_CHECK
#define BIN                                                                    \
  "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks="                  \
  "0 " DC_DRVCHECK_BIN
#else
#define BIN DC_DRVCHECK_BIN
#endif
#define BAD DC_DRIVER_DIR "/bad/"

static char out[1 << 20], err[8192];

/* Runs cmd; stdout into out, stderr into err; returns the exit status. */
static int run(const char *cmd) {
  char full[4096], errfile[] = "/tmp/dc_run_err_XXXXXX";
  int fd = mkstemp(errfile);
  DC_ASSERT(fd >= 0);
  close(fd);
  snprintf(full, sizeof full, "%s 2>%s", cmd, errfile);
  FILE *p = popen(full, "r");
  DC_ASSERT(p != NULL);
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = '\0';
  while (fgetc(p) != EOF)
    ;
  int st = pclose(p);
  FILE *e = fopen(errfile, "r");
  n = e ? fread(err, 1, sizeof err - 1, e) : 0;
  err[n] = '\0';
  if (e)
    fclose(e);
  unlink(errfile);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static cJSON *load_json(const char *path) {
  static char buf[1 << 22];
  FILE *f = fopen(path, "r");
  if (!f)
    DC_FAIL("no report at %s", path);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  cJSON *j = cJSON_Parse(buf);
  if (!j)
    DC_FAIL("report %s is not valid JSON", path);
  return j;
}

static cJSON *get(cJSON *o, const char *key) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!v)
    DC_FAIL("report lacks %s", key);
  return v;
}

/* drvcheck <sub> <args> --report tmp; returns the exit code, *report set. */
static int run_report(const char *sub, const char *args, cJSON **report) {
  char cmd[4096], path[] = "/tmp/dc_run_report_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  snprintf(cmd, sizeof cmd, "%s %s %s --report %s", BIN, sub, args, path);
  int rc = run(cmd);
  *report = load_json(path);
  unlink(path);
  return rc;
}

/* The finding of `rule` in a report (exactly one), or fails. */
static cJSON *finding(cJSON *r, const char *rule) {
  cJSON *f, *hit = NULL;
  cJSON_ArrayForEach(f, get(r, "findings")) {
    if (strcmp(get(f, "rule")->valuestring, rule) == 0) {
      if (hit)
        DC_FAIL("two %s findings (not deduplicated)\n%s", rule, out);
      hit = f;
    }
  }
  if (!hit)
    DC_FAIL("no %s finding\n%s", rule, out);
  return hit;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  DC_ASSERT(f != NULL);
  fputs(text, f);
  fclose(f);
}

/* Finds the legal-but-unusual order (control 1 then control 3) within the
 * default budget, shrinks it to a few lines, and keeps running. */
DC_TEST_T(run_finds_and_shrinks_an_unusual_control_order, 90) {
  cJSON *r;
  DC_ASSERT_EQ(run_report("run", BAD "exec_order_drv.so --quiet", &r), 1);
  cJSON *f = finding(r, "cb.crash");
  DC_ASSERT_STREQ(get(f, "callback")->valuestring, "control");
  DC_ASSERT(strstr(get(f, "location")->valuestring, "exec_order_drv.so"));
  int n = cJSON_GetArraySize(get(f, "shrunk_scenario"));
  DC_ASSERT(n >= 3 && n <= 4);
  DC_ASSERT(cJSON_GetArraySize(get(f, "scenario")) >= n);
  DC_ASSERT(cJSON_IsString(get(f, "sequence")));
  DC_ASSERT(cJSON_IsString(get(f, "seed")));
  /* the crash did not end the run: many sequences, one deduplicated finding */
  DC_ASSERT(get(get(get(r, "run"), "sequences"), "random")->valuedouble > 10);
  DC_ASSERT(get(f, "count")->valuedouble > 1);
  DC_ASSERT(strstr(out, "shrunk scenario"));
  cJSON_Delete(r);
}

DC_TEST_T(replay_of_a_written_shrunk_scenario_reproduces, 90) {
  char dir[] = "/tmp/dc_run_scn_XXXXXX", args[2048], file[256];
  cJSON *r, *again;
  DC_ASSERT(mkdtemp(dir) != NULL);
  snprintf(args, sizeof args,
           BAD "exec_order_drv.so --quiet --time 2 --write-scenarios %s", dir);
  DC_ASSERT_EQ(run_report("run", args, &r), 1);
  snprintf(file, sizeof file, "%s/cb.crash-1.scn", dir);
  snprintf(args, sizeof args, BAD "exec_order_drv.so %s", file);
  DC_ASSERT_EQ(run_report("replay", args, &again), 1);
  cJSON *a = finding(r, "cb.crash"), *b = finding(again, "cb.crash");
  DC_ASSERT_STREQ(get(a, "location")->valuestring,
                  get(b, "location")->valuestring);
  DC_ASSERT_STREQ(get(b, "callback")->valuestring, "control");
  DC_ASSERT(strstr(out, "> control 0 3")); /* replay prints its operations */
  unlink(file);
  rmdir(dir);
  cJSON_Delete(r);
  cJSON_Delete(again);
}

DC_TEST(replay_segv_scenario_reports_crash_in_output) {
  char path[] = "/tmp/dc_run_segv_XXXXXX", args[512];
  cJSON *r;
  close(mkstemp(path));
  write_file(path, "open 0 list\ncommand 0 68656c6c6f\ncommand 0 626f6f6d\n");
  snprintf(args, sizeof args, BAD "exec_segv_drv.so %s", path);
  DC_ASSERT_EQ(run_report("replay", args, &r), 1);
  cJSON *f = finding(r, "cb.crash");
  DC_ASSERT_STREQ(get(f, "callback")->valuestring, "output");
  DC_ASSERT(strstr(get(f, "location")->valuestring, "exec_segv_drv.so"));
  /* the Erlang-visible trace of the operations before the crash */
  DC_ASSERT(strstr(out, "{data,[104,101,108,108,111]}"));
  unlink(path);
  cJSON_Delete(r);
}

DC_TEST_T(run_reports_hang_and_continues, 90) {
  cJSON *r;
  DC_ASSERT_EQ(run_report("run",
                          BAD "exec_hang_drv.so --quiet --hang-ms 200 "
                              "--sequences 3",
                          &r),
               1);
  cJSON *f = finding(r, "cb.hang");
  DC_ASSERT_STREQ(get(f, "callback")->valuestring, "control");
  DC_ASSERT(cJSON_GetArraySize(get(f, "shrunk_scenario")) <= 3);
  DC_ASSERT_EQ(get(get(get(r, "run"), "sequences"), "random")->valuedouble, 3);
  cJSON_Delete(r);
}

DC_TEST_T(run_reports_abort_in_timeout, 90) {
  cJSON *r;
  DC_ASSERT_EQ(
      run_report("run", BAD "exec_abort_drv.so --quiet --sequences 5", &r), 1);
  cJSON *f = finding(r, "cb.crash");
  DC_ASSERT_STREQ(get(f, "callback")->valuestring, "timeout");
  DC_ASSERT(strstr(get(f, "message")->valuestring, "SIGABRT"));
  /* the timeout callback ran (fatally) and counts as covered */
  cJSON *never = get(get(r, "summary"), "never_ran"), *c;
  cJSON_ArrayForEach(c, never)
      DC_ASSERT(strcmp(c->valuestring, "timeout") != 0);
  cJSON_Delete(r);
}

/* Same seed, same report apart from the duration. */
DC_TEST_T(same_seed_same_report, 90) {
  cJSON *a, *b;
  const char *args = BAD "exec_order_drv.so --quiet --seed 5 --sequences 40";
  DC_ASSERT_EQ(run_report("run", args, &a), 1);
  DC_ASSERT_EQ(run_report("run", args, &b), 1);
  cJSON_DeleteItemFromObject(get(a, "run"), "duration_ms");
  cJSON_DeleteItemFromObject(get(b, "run"), "duration_ms");
  DC_ASSERT(cJSON_Compare(a, b, 1));
  cJSON_Delete(a);
  cJSON_Delete(b);
}

DC_TEST(replay_parse_error_exits_2_with_file_and_line) {
  char path[] = "/tmp/dc_run_bad_XXXXXX", cmd[1024], want[64];
  close(mkstemp(path));
  write_file(path, "# a comment\nopen 0 list\nfrobnicate 3\n");
  snprintf(cmd, sizeof cmd, "%s replay %s/echo_drv.so %s", BIN, DC_DRIVER_DIR,
           path);
  DC_ASSERT_EQ(run(cmd), 2);
  snprintf(want, sizeof want, "%s:3:", path);
  if (!strstr(err, want) || strchr(err, '\n') != err + strlen(err) - 1)
    DC_FAIL("stderr \"%s\" lacks %s on one line", err, want);
  unlink(path);
}

DC_TEST(summary_shows_coverage_and_stimuli) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s run %s/echo_drv.so --quiet --sequences 5", BIN,
           DC_DRIVER_DIR);
  DC_ASSERT_EQ(run(cmd), 0);
  DC_ASSERT(strstr(out, "sequences: 1 smoke, 8 targeted, 5 random"));
  DC_ASSERT(strstr(out, "callbacks: start="));
  /* echo has outputv, which ERTS always prefers: output never runs */
  DC_ASSERT(strstr(out, "never ran: output"));
  DC_ASSERT(strstr(out, "stimuli applied:"));
}
