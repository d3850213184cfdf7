/* Fuzzing support (issue 5): the fuzz loop (dc__fuzz_run / dc__fuzz_next),
 * the fuzz-input -> scenario converter, the regression inputs of bad
 * drivers, and the plain replay executables built from the fuzz targets.
 * The seed corpora themselves are replayed by ctest entries defined in
 * fuzz/CMakeLists.txt (fuzz_replay_*). */
#include <dirent.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sequencer/internal.h"
#include "support.h"

#define DRV DC_DRIVER_DIR "/"
#define BUILD DC_DRIVER_DIR "/.."
#define SEEDS DC_SOURCE_DIR "/corpus/fuzz/drvcheck_fuzz_driver/"
#define MAGIC_REGRESS                                                          \
  DC_SOURCE_DIR "/corpus/regress/drvcheck_fuzz_driver/fuzz_magic_drv"

static size_t read_file(const char *path, unsigned char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (!f)
    DC_FAIL("cannot open %s", path);
  size_t n = fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

/* Scenario lines of the operations a run executed. */
typedef struct lines {
  char text[1 << 18];
  size_t len;
  unsigned n;
} lines;

static void add_line(void *arg, const dc__op *op) {
  lines *l = arg;
  char buf[1 << 17];
  DC_ASSERT(dc__op_format(op, buf, sizeof buf) == 0);
  size_t n = strlen(buf);
  DC_ASSERT(l->len + n + 1 < sizeof l->text);
  memcpy(l->text + l->len, buf, n);
  l->len += n;
  l->text[l->len++] = '\n';
  l->text[l->len] = '\0';
  l->n++;
}

static void run_in_process(const char *drv, const unsigned char *b, size_t n,
                           lines *out) {
  char err[256];
  memset(out, 0, sizeof *out);
  dc__emu_reset(1);
  dc__findings_reset();
  DC_ASSERT(dc__load_driver(drv, err, sizeof err) == 0);
  DC_ASSERT_EQ(dc__fuzz_run(b, n, add_line, out), out->n);
  DC_ASSERT(!dc__g.loaded); /* every run ends unloaded */
}

/* Where the payloads of one run lie in its input. */
typedef struct windows {
  uintptr_t lo, hi; /* the input bytes [lo, hi) */
  uintptr_t next;   /* the next payload starts at or after this */
  unsigned payloads, at_end;
} windows;

static void check_window(void *arg, const dc__op *op) {
  windows *w = arg;
  if ((op->kind != DC__OP_COMMAND && op->kind != DC__OP_CONTROL) ||
      op->len == 0)
    return;
  uintptr_t at = (uintptr_t)op->data;
  DC_ASSERT(at >= w->next && at + op->len <= w->hi);
  w->next = at + op->len;
  w->payloads++;
  w->at_end += w->next == w->hi;
  size_t sum = 0;
  for (int i = 0; i < op->nsegs; i++)
    sum += op->seg[i];
  DC_ASSERT(sum <= op->len); /* the split still fits the (cut) payload */
}

static void run_windows(const unsigned char *in, size_t n, windows *w) {
  char err[256];
  memset(w, 0, sizeof *w);
  w->lo = w->next = (uintptr_t)in;
  w->hi = (uintptr_t)in + n;
  dc__emu_reset(1);
  dc__findings_reset();
  DC_ASSERT(dc__load_driver(DRV "echo_drv.so", err, sizeof err) == 0);
  dc__fuzz_run(in, n, check_window, w);
}

/* The payload bytes of commands and controls are the input bytes verbatim
 * (not PRNG output seeded by them, nor filler): each payload is a window
 * of the input, the windows follow each other in input order, and a
 * payload the generator drew longer than what is left of the input is cut
 * to the rest (issue 5 point 1: every payload byte comes from the input).
 * The seeds, then random inputs, many of which end inside a payload. */
DC_TEST(fuzz_payloads_are_input_bytes) {
  static unsigned char in[4096];
  static const char *const seeds[] = {"command_binary", "command_split_bang",
                                      "control_list"};
  windows w;
  unsigned payloads = 0, at_end = 0;
  for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s%s", SEEDS, seeds[i]);
    size_t n = read_file(path, in, sizeof in);
    run_windows(in, n, &w);
    payloads += w.payloads;
  }
  DC_ASSERT(payloads >= 3);
  uint64_t rng = 42;
  for (int k = 0; k < 300; k++) {
    size_t n = 1 + dc__rand(&rng) % 300;
    /* An exact-size copy: a read past the input is a sanitizer report. */
    unsigned char *buf = malloc(n);
    DC_ASSERT(buf != NULL);
    for (size_t i = 0; i < n; i++)
      buf[i] = (unsigned char)dc__rand(&rng);
    run_windows(buf, n, &w);
    payloads += w.payloads;
    at_end += w.at_end;
    free(buf);
  }
  /* Payloads that run exactly to the end of the input: almost all of them
   * were drawn longer and cut (drawn sizes rarely match the rest). */
  DC_ASSERT(at_end >= 10);
}

/* Each input starts from a fresh emulator: A, then B, then A again gives
 * the same operations for A. */
DC_TEST(fuzz_runs_do_not_leak_state) {
  static unsigned char a[4096], b[4096];
  static lines l1, l2, l3;
  size_t na = read_file(SEEDS "two_ports_exit", a, sizeof a);
  size_t nb = read_file(SEEDS "command_split_bang", b, sizeof b);
  run_in_process(DRV "echo_drv.so", a, na, &l1);
  run_in_process(DRV "echo_drv.so", b, nb, &l2);
  run_in_process(DRV "echo_drv.so", a, na, &l3);
  DC_ASSERT(l1.n > 3);
  DC_ASSERT_STREQ(l1.text, l3.text);
}

/* The converter records exactly the operations the in-process loop runs. */
DC_TEST(fuzz_to_scenario_matches_the_fuzz_run) {
  static unsigned char in[4096];
  static lines direct;
  char note[256];
  size_t n = read_file(SEEDS "command_binary", in, sizeof in);
  run_in_process(DRV "echo_drv.so", in, n, &direct);
  dc__scenario s;
  dc__scenario_init(&s);
  DC_ASSERT_EQ(
      dc__fuzz_to_scenario(in, n, DRV "echo_drv.so", &s, note, sizeof note), 0);
  DC_ASSERT_EQ(s.n, direct.n);
  DC_ASSERT(strstr(note, "completed") != NULL);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  DC_ASSERT(dc__scenario_write(&s, f, NULL) == 0);
  fclose(f);
  /* The written file = header line + the same operation lines. */
  const char *body = strchr(text, '\n');
  DC_ASSERT(body != NULL);
  DC_ASSERT_STREQ(body + 1, direct.text);
  free(text);
  dc__scenario_free(&s);
}

DC_TEST(fuzz_to_scenario_reports_load_errors) {
  char note[256];
  dc__scenario s;
  dc__scenario_init(&s);
  int rc =
      dc__fuzz_to_scenario("x", 1, DRV "no_such_drv.so", &s, note, sizeof note);
  DC_ASSERT_EQ(rc, DC_ENOENT);
  DC_ASSERT(strstr(note, "no_such_drv.so") != NULL);
  DC_ASSERT_EQ(s.n, 0);
}

/* Regression inputs of fuzz_magic_drv, as libFuzzer wrote them. */
static int magic_inputs(char names[][512], int cap) {
  DIR *d = opendir(MAGIC_REGRESS);
  struct dirent *de;
  int n = 0;
  DC_ASSERT(d != NULL);
  while ((de = readdir(d)) && n < cap)
    if (de->d_name[0] != '.')
      snprintf(names[n++], 512, "%s/%s", MAGIC_REGRESS, de->d_name);
  closedir(d);
  return n;
}

/* Done-when of issue 5: the fuzzer's artifact converts into a short
 * scenario that ends in the magic record, and replaying that scenario
 * (isolated executor, as drvcheck replay does) reproduces cb.crash in
 * output. */
DC_TEST_T(fuzz_magic_artifact_converts_and_replays_as_crash, 120) {
  static char names[16][512];
  static unsigned char in[1 << 16];
  int nin = magic_inputs(names, 16);
  DC_ASSERT(nin >= 1);
  for (int i = 0; i < nin; i++) {
    char note[256];
    size_t n = read_file(names[i], in, sizeof in);
    dc__scenario s;
    dc__scenario_init(&s);
    DC_ASSERT_EQ(dc__fuzz_to_scenario(in, n, DRV "bad/fuzz_magic_drv.so", &s,
                                      note, sizeof note),
                 0);
    DC_ASSERT(strstr(note, "crashed") != NULL);
    DC_ASSERT(s.n >= 2 && s.n <= 64);
    const dc__op *last = &s.ops[s.n - 1];
    DC_ASSERT_EQ(last->kind, DC__OP_COMMAND);
    DC_ASSERT(last->len > 72 && memcmp(last->data, "DCFZ", 4) == 0);

    dc__exec *ex;
    dc__exec_config cfg = {DRV "bad/fuzz_magic_drv.so", 1, 0, 0};
    dc__source src;
    dc__exec_unit u = {.src = &src};
    dc__exec_result res;
    DC_ASSERT(dc__exec_open(&ex, &cfg) == 0);
    dc__source_scenario(&src, &s);
    DC_ASSERT(dc__exec_run(ex, &u, &res) == 0);
    DC_ASSERT(res.crashed);
    int found = 0;
    for (size_t k = 0; k < res.nfindings; k++)
      found |= res.findings[k].rule == DC_RULE_CB_CRASH &&
               strcmp(res.findings[k].callback, "output") == 0;
    DC_ASSERT(found);
    dc__exec_result_free(&res);
    dc__exec_close(ex);
    dc__scenario_free(&s);
  }
}

/* The same inputs on the correct echo driver run clean: the crash belongs
 * to the driver, not to the input. */
DC_TEST(fuzz_magic_inputs_are_harmless_to_a_good_driver) {
  static char names[16][512];
  static unsigned char in[1 << 16];
  static lines l;
  int nin = magic_inputs(names, 16);
  for (int i = 0; i < nin; i++) {
    size_t n = read_file(names[i], in, sizeof in);
    run_in_process(DRV "echo_drv.so", in, n, &l);
    DC_ASSERT(dc__fuzz_first_error() == NULL);
  }
}

/* Runs a command line; returns the wait status. */
static int run_cmd(const char *cmd) {
  fflush(NULL);
  return system(cmd);
}

/* In an ASan, TSan or MSan build the replay executable has the runtime's SEGV
 * handler, which reports the (uninstrumented) driver's NULL write and exits
 * with a plain error code, no signal: hand the fatal signals back to the
 * default disposition so the crash still ends the process by its signal,
 * as the assertion requires. */
#define SAN_SIGNALS_DEFAULT                                                    \
  "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0 "
#if defined(__SANITIZE_ADDRESS__)
#define REPLAY_ENV                                                             \
  "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}" SAN_SIGNALS_DEFAULT
#elif defined(__SANITIZE_THREAD__)
#define REPLAY_ENV                                                             \
  "TSAN_OPTIONS=${TSAN_OPTIONS:+$TSAN_OPTIONS:}" SAN_SIGNALS_DEFAULT
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REPLAY_ENV                                                             \
  "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}" SAN_SIGNALS_DEFAULT
#elif __has_feature(thread_sanitizer)
#define REPLAY_ENV                                                             \
  "TSAN_OPTIONS=${TSAN_OPTIONS:+$TSAN_OPTIONS:}" SAN_SIGNALS_DEFAULT
#elif __has_feature(memory_sanitizer)
#define REPLAY_ENV                                                             \
  "MSAN_OPTIONS=${MSAN_OPTIONS:+$MSAN_OPTIONS:}" SAN_SIGNALS_DEFAULT
#endif
#endif
#ifndef REPLAY_ENV
#define REPLAY_ENV ""
#endif

/* The plain (gcc-buildable) replay executable runs the seed corpus clean
 * and dies on the bad driver's regression inputs. */
DC_TEST_T(replay_executable_runs_seeds_and_reproduces_the_crash, 120) {
  char cmd[2048];
  snprintf(
      cmd, sizeof cmd,
      "%s/fuzz/drvcheck_fuzz_driver_replay --drvcheck-driver=%secho_drv.so "
      "%s >/dev/null 2>&1",
      BUILD, DRV, SEEDS);
  int st = run_cmd(cmd);
  DC_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  snprintf(cmd, sizeof cmd,
           "%sDRVCHECK_DRIVER=%sbad/fuzz_magic_drv.so "
           "%s/fuzz/drvcheck_fuzz_driver_replay %s >/dev/null 2>&1",
           REPLAY_ENV, DRV, BUILD, MAGIC_REGRESS);
  st = run_cmd(cmd);
  /* system() reports a child killed by a signal as status 128+sig from
   * sh, or as the signal itself. */
  DC_ASSERT((WIFEXITED(st) && WEXITSTATUS(st) > 128) || WIFSIGNALED(st));
}

DC_TEST(replay_executable_needs_a_driver) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "env -u DRVCHECK_DRIVER %s/fuzz/drvcheck_fuzz_driver_replay %s "
           ">/dev/null 2>&1",
           BUILD, SEEDS);
  int st = run_cmd(cmd);
  DC_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}

DC_TEST(finding_line_names_rule_callback_and_location) {
  dc__finding f;
  char buf[1024];
  memset(&f, 0, sizeof f);
  f.rule = DC_RULE_CB_CRASH;
  snprintf(f.message, sizeof f.message, "boom");
  snprintf(f.callback, sizeof f.callback, "output");
  snprintf(f.location, sizeof f.location, "x.so(f+0x1)");
  dc__fuzz_format_finding(&f, buf, sizeof buf);
  DC_ASSERT_STREQ(buf, "drvcheck: cb.crash: boom [output] at x.so(f+0x1)");
}
