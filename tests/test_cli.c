/* The drvcheck command: exit statuses, one-line errors, reports. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/msan_shim.h" /* MSan: cJSON hooks for report parsing */
#include "runner.h"

#define BIN DC_DRVCHECK_BIN
#define DRV DC_DRIVER_DIR

/* Runs a shell command; captures stdout and stderr separately (caller-owned
 * buffers) and returns the exit status. */
static int run(const char *cmd, char *out, size_t ocap, char *err,
               size_t ecap) {
  char full[2048], errfile[] = "/tmp/dc_cli_err_XXXXXX";
  int fd = mkstemp(errfile);
  if (fd < 0)
    DC_FAIL("mkstemp");
  close(fd);
  snprintf(full, sizeof full, "%s 2>%s", cmd, errfile);
  FILE *p = popen(full, "r");
  if (!p)
    DC_FAIL("popen %s", cmd);
  size_t n = fread(out, 1, ocap - 1, p);
  out[n] = '\0';
  while (fgetc(p) != EOF)
    ;
  int st = pclose(p);
  FILE *e = fopen(errfile, "r");
  n = e ? fread(err, 1, ecap - 1, e) : 0;
  err[n] = '\0';
  if (e)
    fclose(e);
  unlink(errfile);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char out[1 << 20], err[8192];

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

/* A load problem: exit 2 and exactly one line on stderr containing want. */
static void expect_load_error(const char *args, const char *want) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s %s", BIN, args);
  int rc = run(cmd, out, sizeof out, err, sizeof err);
  if (rc != 2 || !strstr(err, want) || count_lines(err) != 1)
    DC_FAIL("`%s`: exit %d, stderr \"%s\" (want 2 and \"%s\")", args, rc, err,
            want);
}

static cJSON *load_json(const char *path) {
  FILE *f = fopen(path, "r");
  static char buf[1 << 20];
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

static cJSON *get(cJSON *o, const char *path) {
  char key[64];
  const char *p = path;
  while (o && *p) {
    size_t k = strcspn(p, ".");
    snprintf(key, sizeof key, "%.*s", (int)k, p);
    o = cJSON_GetObjectItemCaseSensitive(o, key);
    p += k + (p[k] == '.');
  }
  if (!o)
    DC_FAIL("report lacks %s", path);
  return o;
}

/* Writes text to a new file named from the mkstemp template path (the
 * caller's buffer, completed in place). */
static void write_temp(char *path, const char *text) {
  int fd = mkstemp(path);
  DC_ASSERT(fd >= 0);
  DC_ASSERT(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
  close(fd);
}

/* Runs drvcheck on a driver, returns the exit code and the parsed report. */
static int run_report(const char *drv, const char *extra, cJSON **report) {
  char cmd[1024], path[] = "/tmp/dc_cli_report_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  snprintf(cmd, sizeof cmd, "%s run %s --report %s %s", BIN, drv, path,
           extra ? extra : "");
  int rc = run(cmd, out, sizeof out, err, sizeof err);
  *report = load_json(path);
  unlink(path);
  return rc;
}

DC_TEST(help_and_version) {
  DC_ASSERT_EQ(run(BIN " --help", out, sizeof out, err, sizeof err), 0);
  DC_ASSERT(strstr(out, "usage: drvcheck run DRIVER.so"));
  DC_ASSERT_EQ(run(BIN " --version", out, sizeof out, err, sizeof err), 0);
  DC_ASSERT(strncmp(out, "drvcheck 0.", 11) == 0);
}

DC_TEST(usage_errors_exit_2) {
  DC_ASSERT_EQ(run(BIN, out, sizeof out, err, sizeof err), 2);
  expect_load_error("frobnicate", "unknown command");
  expect_load_error("run", "run needs a driver");
  expect_load_error("run " DRV "/echo_drv.so --seed x", "--seed");
  expect_load_error("run " DRV "/echo_drv.so --bogus", "unknown option");
}

DC_TEST(load_problems_exit_2_with_one_line) {
  expect_load_error("run /nonexistent/x_drv.so", "No such file");
  expect_load_error("run " DC_SOURCE_DIR "/README.md", "not a shared object");
  expect_load_error("run " DRV "/bad/not_a_driver.so", "no driver_init");
  expect_load_error("run " DRV "/bad/unresolved_sym.so",
                    "unresolved symbol drvcheck_no_such_function");
}

DC_TEST(unwritable_report_exits_2) {
  expect_load_error("run " DRV
                    "/echo_drv.so --quiet --report /nonexistent/r.json",
                    "cannot write report");
}

DC_TEST(echo_report_has_the_contract_fields) {
  cJSON *r;
  DC_ASSERT_EQ(run_report(DRV "/echo_drv.so", "--sequences 5", &r), 0);
  DC_ASSERT_EQ(get(r, "schema_version")->valuedouble, 1);
  DC_ASSERT_STREQ(get(r, "tool.name")->valuestring, "drvcheck");
  DC_ASSERT(cJSON_IsString(get(r, "tool.version")));
  DC_ASSERT_STREQ(get(r, "driver.name")->valuestring, "echo_drv");
  DC_ASSERT_EQ(get(r, "driver.major_version")->valuedouble,
               3); /* ERL_DRV_EXTENDED_MAJOR_VERSION */
  DC_ASSERT(cJSON_IsArray(get(r, "driver.flags")));
  DC_ASSERT_EQ(cJSON_GetArraySize(get(r, "findings")), 0);
  DC_ASSERT_EQ(get(r, "summary.errors")->valuedouble, 0);
  /* smoke (2 ports) plus the targeted and random sequences: every port
   * that started also stopped */
  DC_ASSERT(get(r, "summary.callbacks.start")->valuedouble >= 2);
  DC_ASSERT(get(r, "summary.callbacks.stop")->valuedouble ==
            get(r, "summary.callbacks.start")->valuedouble);
  DC_ASSERT(cJSON_GetArraySize(get(r, "trace")) > 0);
  cJSON_Delete(r);
  DC_ASSERT(strstr(out, "echo_drv: 0 error(s)"));
}

/* Every example driver runs clean: exit 0 and no findings. */
DC_TEST_T(every_example_driver_runs_clean, 120) {
  DIR *d = opendir(DRV);
  struct dirent *de;
  int seen = 0;
  DC_ASSERT(d);
  while ((de = readdir(d))) {
    char path[512];
    size_t l = strlen(de->d_name);
    if (l < 4 || strcmp(de->d_name + l - 3, ".so") != 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", DRV, de->d_name);
    cJSON *r;
    int rc = run_report(path, "--quiet --time 1", &r);
    if (rc != 0 || cJSON_GetArraySize(get(r, "findings")) != 0)
      DC_FAIL("%s: exit %d\n%s", de->d_name, rc, out);
    cJSON_Delete(r);
    seen++;
  }
  closedir(d);
  DC_ASSERT(seen >= 8);
}

static void expect_rule(const char *drv, const char *rule, int exit_code) {
  cJSON *r, *f;
  int found = 0;
  DC_ASSERT_EQ(run_report(drv, "--quiet --time 1", &r), exit_code);
  cJSON_ArrayForEach(f, get(r, "findings")) {
    found += strcmp(get(f, "rule")->valuestring, rule) == 0;
    DC_ASSERT(cJSON_IsString(get(f, "severity")));
    DC_ASSERT(cJSON_IsString(get(f, "message")));
    DC_ASSERT(cJSON_IsString(get(f, "callback")));
    DC_ASSERT(cJSON_IsArray(get(f, "trace")));
  }
  if (found != 1 || cJSON_GetArraySize(get(r, "findings")) != 1)
    DC_FAIL("%s: expected exactly one %s finding\n%s", drv, rule, out);
  cJSON_Delete(r);
}

DC_TEST_T(bad_entries_are_reported_with_their_rule, 60) {
  expect_rule(DRV "/bad/bad_const_entry.so", "entry.const", 1);
  expect_rule(DRV "/bad/bad_version.so", "entry.version", 1);
  expect_rule(DRV "/bad/bad_marker.so", "entry.marker", 1);
  expect_rule(DRV "/bad/bad_name.so", "entry.name", 1);
  expect_rule(DRV "/bad/null_init.so", "entry.null", 1);
  expect_rule(DRV "/bad/static_only.so", "entry.null", 1);
  expect_rule(DRV "/bad/init_fails.so", "entry.init_failed", 1);
  expect_rule(DRV "/bad/bad_flags.so", "entry.flags", 0); /* a warning */
}

/* Under TSan one 20-sequence run takes ~30 s on a loaded 2-core machine
 * (forked run units are slow there), so three of them need more wall time
 * than the plain build's 60 s; the assertions are unchanged. */
#if defined(__SANITIZE_THREAD__)
#define SAME_SEED_TIMEOUT_S 300
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SAME_SEED_TIMEOUT_S 300
#endif
#endif
#ifndef SAME_SEED_TIMEOUT_S
#define SAME_SEED_TIMEOUT_S 60
#endif

/* Same seed, same report apart from the duration. */
DC_TEST_T(same_seed_same_report, SAME_SEED_TIMEOUT_S) {
  cJSON *a, *b;
  DC_ASSERT_EQ(
      run_report(DRV "/echo_drv.so", "--quiet --seed 7 --sequences 20", &a), 0);
  DC_ASSERT_EQ(
      run_report(DRV "/echo_drv.so", "--quiet --seed 7 --sequences 20", &b), 0);
  cJSON_DeleteItemFromObject(get(a, "run"), "duration_ms");
  cJSON_DeleteItemFromObject(get(b, "run"), "duration_ms");
  DC_ASSERT(cJSON_Compare(a, b, 1));
  cJSON_Delete(b);
  DC_ASSERT_EQ(
      run_report(DRV "/echo_drv.so", "--quiet --seed 8 --sequences 20", &b), 0);
  cJSON_DeleteItemFromObject(get(b, "run"), "duration_ms");
  DC_ASSERT(!cJSON_Compare(a, b, 1)); /* the seed changes payloads */
  cJSON_Delete(a);
  cJSON_Delete(b);
}

/* --disable silences exactly that rule; an unknown id is a usage error. */
DC_TEST_T(disable_and_suppress_rules, 60) {
  cJSON *r;
  DC_ASSERT_EQ(run_report(DRV "/bad/bad_flags.so", "--quiet --sequences 1", &r),
               0);
  DC_ASSERT_EQ(cJSON_GetArraySize(get(r, "findings")), 1);
  cJSON_Delete(r);
  DC_ASSERT_EQ(run_report(DRV "/bad/bad_flags.so",
                          "--quiet --sequences 1 --disable entry.flags", &r),
               0);
  DC_ASSERT_EQ(cJSON_GetArraySize(get(r, "findings")), 0);
  cJSON_Delete(r);
  expect_load_error("run " DRV "/echo_drv.so --disable no.such_rule",
                    "--disable");

  char supp[] = "/tmp/dc_supp_XXXXXX", args[256];
  write_temp(supp, "entry.flags # known: flag 0x100 is ours\n");
  snprintf(args, sizeof args, "--quiet --sequences 1 --suppressions %s", supp);
  DC_ASSERT_EQ(run_report(DRV "/bad/bad_flags.so", args, &r), 0);
  DC_ASSERT_EQ(cJSON_GetArraySize(get(r, "findings")), 0);
  cJSON_Delete(r);
  /* A suppression without a reason is refused with file:line. */
  FILE *f = fopen(supp, "w");
  fputs("entry.flags\n", f);
  fclose(f);
  snprintf(args, sizeof args, "run " DRV "/bad/bad_flags.so --suppressions %s",
           supp);
  expect_load_error(args, ":1:");
  unlink(supp);
}

/* A driver in the current directory, named without a '/': dlopen alone
 * would look for it in the library search path and not find it. */
DC_TEST_T(driver_in_the_current_directory_loads_by_its_bare_name, 60) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "cd %s && %s run echo_drv.so --quiet --sequences 2",
           DRV, BIN);
  int rc = run(cmd, out, sizeof out, err, sizeof err);
  if (rc != 0 || !strstr(out, "echo_drv: 0 error(s), 0 warning(s)"))
    DC_FAIL("exit %d, stdout \"%s\", stderr \"%s\"", rc, out, err);
}

/* --no-fork runs every unit (batches of random sequences too) in the one
 * process: the report must be the one the forked run writes. */
DC_TEST_T(no_fork_gives_the_forked_report, 120) {
  const char *drv = DRV "/echo_drv.so";
  cJSON *a, *b;
  DC_ASSERT_EQ(run_report(drv, "--quiet --sequences 200", &a), 0);
  DC_ASSERT_EQ(run_report(drv, "--quiet --sequences 200 --no-fork", &b), 0);
  cJSON_DeleteItemFromObject(get(a, "run"), "duration_ms");
  cJSON_DeleteItemFromObject(get(b, "run"), "duration_ms");
  DC_ASSERT(cJSON_Compare(a, b, 1));
  cJSON_Delete(a);
  cJSON_Delete(b);
}

/* Sum of the findings' occurrence counts in a report. */
static double occurrences(cJSON *r) {
  double n = 0;
  cJSON *f;
  cJSON_ArrayForEach(f, get(r, "findings")) n += get(f, "count")->valuedouble;
  return n;
}

/* Each suppression says how many findings it hid, counted in the forked
 * children that ran the sequences (the same as in one process with
 * --no-fork), and one that hid nothing is named as never matched. */
DC_TEST_T(suppressions_report_what_they_hid, 120) {
  const char *drv = DRV "/bad/ctx_dead_port_drv.so";
  const char *seq = "--quiet --sequences 3";
  cJSON *r;
  DC_ASSERT_EQ(run_report(drv, seq, &r), 1);
  double found = occurrences(r);
  DC_ASSERT(found > 0);
  cJSON_Delete(r);

  char supp[] = "/tmp/dc_supp_XXXXXX", args[256];
  write_temp(supp, "ctx.dead_port # known\nthread.lock_order # stale\n");
  for (int no_fork = 0; no_fork < 2; no_fork++) {
    snprintf(args, sizeof args, "%s --suppressions %s%s", seq, supp,
             no_fork ? " --no-fork" : "");
    DC_ASSERT_EQ(run_report(drv, args, &r), 0);
    DC_ASSERT_EQ(cJSON_GetArraySize(get(r, "findings")), 0);
    cJSON *sup = get(get(r, "summary"), "suppressions");
    DC_ASSERT_EQ(cJSON_GetArraySize(sup), 2);
    cJSON *hid = cJSON_GetArrayItem(sup, 0),
          *stale = cJSON_GetArrayItem(sup, 1);
    DC_ASSERT_STREQ(get(hid, "rule")->valuestring, "ctx.dead_port");
    DC_ASSERT(get(hid, "suppressed")->valuedouble == found);
    DC_ASSERT(get(stale, "suppressed")->valuedouble == 0);
    char origin[64];
    snprintf(origin, sizeof origin, "%s:2", supp);
    DC_ASSERT_STREQ(get(stale, "origin")->valuestring, origin);
    cJSON_Delete(r);
    DC_ASSERT(strstr(out, "never matched: ") && strstr(out, origin));
  }
  unlink(supp);
}

/* A raw fuzz input replays as the scenario the fuzzer executed, and
 * convert writes that scenario as a file that replays the same way. */
DC_TEST_T(raw_fuzz_input_replays_and_converts, 60) {
  char in[] = "/tmp/dc_fuzzin_XXXXXX", scn[64], cmd[1024];
  int fd = mkstemp(in);
  unsigned char bytes[256];
  for (size_t i = 0; i < sizeof bytes; i++)
    bytes[i] = (unsigned char)(i * 37 + 11);
  bytes[0] = 0; /* not text */
  DC_ASSERT(write(fd, bytes, sizeof bytes) == (ssize_t)sizeof bytes);
  close(fd);
  snprintf(cmd, sizeof cmd, "%s replay %s/echo_drv.so %s", BIN, DRV, in);
  DC_ASSERT_EQ(run(cmd, out, sizeof out, err, sizeof err), 0);
  DC_ASSERT(strstr(out, "raw fuzz input, converted to"));
  snprintf(scn, sizeof scn, "%s.scn", in);
  snprintf(cmd, sizeof cmd, "%s convert %s/echo_drv.so %s -o %s", BIN, DRV, in,
           scn);
  DC_ASSERT_EQ(run(cmd, out, sizeof out, err, sizeof err), 0);
  snprintf(cmd, sizeof cmd, "%s replay %s/echo_drv.so %s", BIN, DRV, scn);
  DC_ASSERT_EQ(run(cmd, out, sizeof out, err, sizeof err), 0);
  DC_ASSERT(strstr(out, "> open 0"));
  unlink(in);
  unlink(scn);
}
