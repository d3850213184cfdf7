/* Sanitizer options set from code, so every drvcheck binary built with a
 * sanitizer (sanitizers/ configurations) reports in the form
 * harness/src/sequencer/sanitizer.c parses, without the user exporting
 * ASAN_OPTIONS & co. The runtimes call these hooks once at start-up, before
 * main; options in the environment still override them.
 *
 * Common to all: symbolized frames that always carry the module path
 * (stack_trace_format ... (%m+%o)), because a report is blamed on the
 * driver only through a frame whose module is the driver .so. Where the
 * reports go (a file per child) is set at run time by the executor with
 * __sanitizer_set_report_path (dc__san_child_begin), since the log prefix
 * is only known then.
 *
 * In a build without sanitizers these functions are never called: plain
 * functions with no effect (no runtime looks them up). */
#include <stddef.h>
#include <unistd.h>

/* The hooks run while the runtime initialises: before the shadow memory
 * exists and before its interceptors (strlen, memcpy...) are ready. So
 * this file is not instrumented and calls no libc string function; clang
 * must not turn the copy loops back into library calls either. */
#if defined(__clang__) && __has_attribute(disable_sanitizer_instrumentation)
/* clang 14 needs both: no_sanitize("thread") alone still emits TSan's
 * function entry/exit hooks, and disable_sanitizer_instrumentation alone
 * still lets ASan check the accesses (the shadow does not exist yet) */
#define NOSAN                                                                  \
  __attribute__((disable_sanitizer_instrumentation,                            \
                 no_sanitize("address", "thread", "memory", "undefined"),      \
                 no_builtin, noinline))
#elif defined(__clang__)
#define NOSAN                                                                  \
  __attribute__((no_sanitize("address", "thread", "memory", "undefined"),      \
                 no_builtin, noinline))
#else
#define NOSAN                                                                  \
  __attribute__((no_sanitize_address, no_sanitize_thread,                      \
                 no_sanitize_undefined, noinline))
#endif

/* The runtimes look these up by name; declared here to keep prototypes. */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__lsan_default_options(void);
const char *__tsan_default_options(void);
const char *__msan_default_options(void);

#define FRAME_FORMAT "stack_trace_format='    #%n %p %F %L (%m+%o)'"

NOSAN static size_t length(const char *s) {
  size_t n = 0;
  while (s[n])
    n++;
  return n;
}

/* Appends s to buf (cap bytes), or nothing when it does not fit. */
NOSAN static void append(char *buf, size_t cap, const char *s) {
  size_t n = length(buf), k = length(s);
  if (n + k + 1 > cap)
    return;
  for (size_t i = 0; i <= k; i++)
    buf[n + i] = s[i];
}

/* "<source dir>/sanitizers/<name>", when the source tree this file was
 * compiled from still exists (CMake passes absolute paths, so __FILE__
 * locates it). The suppressions there cover the harness's own known benign
 * reports only; a missing file would make the runtime abort, so the option
 * is added only when it is readable. */
NOSAN static void add_suppressions(char *buf, size_t cap, const char *name) {
  static const char self[] = __FILE__;
  static const char tail[] = "harness/src/core/sanopts.c";
  char path[512];
  size_t n = sizeof self - 1, t = sizeof tail - 1;
  if (n < t || n - t + sizeof "sanitizers/" + length(name) >= sizeof path ||
      self[0] != '/')
    return;
  for (size_t i = 0; i < t; i++)
    if (self[n - t + i] != tail[i])
      return;
  for (size_t i = 0; i < n - t; i++)
    path[i] = self[i];
  path[n - t] = '\0';
  append(path, sizeof path, "sanitizers/");
  append(path, sizeof path, name);
  if (access(path, R_OK) != 0)
    return;
  append(buf, cap, ":suppressions=");
  append(buf, cap, path);
}

NOSAN const char *__asan_default_options(void) {
  static char opts[1024];
  if (!opts[0]) {
    /* halt at the first error: one report per child, and it is the cause.
     * detect_leaks: the parent checks at exit; a child's leaks are checked
     * by dc__san_child_end before _exit. */
    append(opts, sizeof opts,
           "symbolize=1:halt_on_error=1:detect_leaks=1:print_summary=1:"
           "detect_stack_use_after_return=0:" FRAME_FORMAT);
    add_suppressions(opts, sizeof opts, "asan.supp");
  }
  return opts;
}

NOSAN const char *__lsan_default_options(void) {
  static char opts[1024];
  if (!opts[0]) {
    append(opts, sizeof opts, "symbolize=1:print_summary=1:" FRAME_FORMAT);
    add_suppressions(opts, sizeof opts, "lsan.supp");
  }
  return opts;
}

NOSAN const char *__ubsan_default_options(void) {
  static char opts[1024];
  if (!opts[0]) {
    /* UBSan prints no stack by default; the driver frame needs one.
     * report_error_type names the check (signed-integer-overflow) in the
     * summary line, which becomes the finding's kind. */
    append(opts, sizeof opts,
           "symbolize=1:print_stacktrace=1:report_error_type=1:"
           "halt_on_error=1:print_summary=1:" FRAME_FORMAT);
    add_suppressions(opts, sizeof opts, "ubsan.supp");
  }
  return opts;
}

NOSAN const char *__tsan_default_options(void) {
  static char opts[1024];
  if (!opts[0]) {
    /* Keep running after a race: the unit finishes and the parent reads
     * every report (the first one with a driver frame is the finding).
     * report_signal_unsafe=0: the executor's crash handler deliberately
     * calls dladdr/backtrace in the signal handler of a dying child.
     * die_after_fork=0: the async pool outlives emulator resets, so a run
     * unit may be forked while its (idle) workers exist; the child forgets
     * them (async.c, at fork) and starts its own.
     * atexit_sleep_ms=50: TSan's _exit waits (1 s by default) for other
     * threads to report races; every run unit ends in _exit with the
     * async workers alive, so each unit (every shrink candidate too) took
     * a second longer. Driver threads still get 50 ms to report. */
    append(opts, sizeof opts,
           "symbolize=1:halt_on_error=0:second_deadlock_stack=1:"
           "report_signal_unsafe=0:die_after_fork=0:atexit_sleep_ms=50:"
           "print_summary=1:" FRAME_FORMAT);
    add_suppressions(opts, sizeof opts, "tsan.supp");
  }
  return opts;
}

NOSAN const char *__msan_default_options(void) {
  static char opts[1024];
  if (!opts[0]) {
    append(opts, sizeof opts,
           "symbolize=1:halt_on_error=1:print_summary=1:" FRAME_FORMAT);
    add_suppressions(opts, sizeof opts, "msan.supp");
  }
  return opts;
}
