/* Helpers shared by the harness tests: load corpus drivers, read the trace. */
#ifndef DC_TEST_SUPPORT_H
#define DC_TEST_SUPPORT_H

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h"
#include "loader/internal.h"
#include "runner.h"
#include "sequencer/internal.h"

/* Resets the emulator and loads corpus driver `name` (DC_DRIVER_DIR/name.so);
 * fails the test when it does not load. */
static inline void dc_test_load(const char *name) {
  char path[512], err[256] = "";
  snprintf(path, sizeof path, "%s/%s.so", DC_DRIVER_DIR, name);
  dc__emu_reset(1);
  dc__findings_reset();
  int rc = dc__load_driver(path, err, sizeof err);
  if (rc != 0)
    DC_FAIL("loading %s: %d %s", path, rc, err);
}

/* Resets the emulator and loads a driver entry compiled into the test. */
static inline void dc_test_load_static(ErlDrvEntry *(*init_fn)(void)) {
  char err[256] = "";
  dc__emu_reset(1);
  dc__findings_reset();
  int rc = dc__load_static(init_fn, err, sizeof err);
  if (rc != 0)
    DC_FAIL("loading static driver: %d %s", rc, err);
}

/* Opens a port of the loaded driver with command `cmd` and open options
 * `opts` (DC__OPT_*) for process `owner`; fails the test, naming the
 * open_port error, if it does not open. The port belongs to the emulator. */
static inline dc__port *dc_test_open_port(const char *cmd, int opts,
                                          ErlDrvTermData owner) {
  dc__open_result r = dc__port_open(cmd, opts, owner);
  if (!r.port)
    DC_FAIL("open_port of %s failed: %s", cmd, r.error ? r.error : "?");
  return r.port;
}

/* Loads a driver entry compiled into the test (dc_test_load_static), then
 * opens one port of it (dc_test_open_port) owned by a fresh process. */
static inline dc__port *dc_test_open_static(ErlDrvEntry *(*init_fn)(void),
                                            const char *cmd, int opts) {
  dc_test_load_static(init_fn);
  return dc_test_open_port(cmd, opts, dc__proc_spawn("owner"));
}

/* Reads the captured sanitizer report tests/fixtures/san/<name> into a
 * NUL-terminated buffer the caller frees; *len gets its size. Fails the
 * test when the fixture is missing. */
static inline char *dc_test_san_fixture(const char *name, size_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s/tests/fixtures/san/%s", DC_SOURCE_DIR, name);
  FILE *f = fopen(path, "rb");
  if (!f)
    DC_FAIL("cannot open fixture %s", path);
  char *buf = malloc(1 << 20);
  if (!buf)
    DC_FAIL("out of memory reading %s", path);
  *len = fread(buf, 1, (1 << 20) - 1, f);
  buf[*len] = '\0';
  fclose(f);
  return buf;
}

/* Parses fixture `name` with dc__san_parse as if `driver` were the driver
 * under test; r is caller-owned. Returns dc__san_parse's verdict. */
static inline int dc_test_san_parse_fixture(const char *name,
                                            const char *driver,
                                            dc__san_report *r) {
  size_t len;
  char *text = dc_test_san_fixture(name, &len);
  int rc = dc__san_parse(text, len, driver, r);
  free(text);
  return rc;
}

/* Runs fn in a forked grandchild, its stderr sent to /dev/null when quiet
 * (an expected fatal line would clutter the test log), and returns its
 * wait status. */
static inline int dc_test_child_status(void (*fn)(void), int quiet) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    DC_FAIL("fork failed");
  if (pid == 0) {
    if (quiet && !freopen("/dev/null", "w", stderr))
      _exit(3);
    fn();
    _exit(0);
  }
  int st = 0;
  if (waitpid(pid, &st, 0) != pid)
    DC_FAIL("waitpid failed");
  return st;
}

/* Asserts that fn, run in a grandchild, dies of SIGABRT (ERTS fatal_error
 * ends in erts_exit(ERTS_ABORT_EXIT) = abort()). */
static inline void dc_test_expect_abort(void (*fn)(void)) {
  int st = dc_test_child_status(fn, 1);
  DC_ASSERT(WIFSIGNALED(st));
  DC_ASSERT_EQ(WTERMSIG(st), SIGABRT);
}

/* The printed form of trace event number i (0 = oldest), or NULL. */
static inline const char *dc_test_event(size_t i, char *buf, size_t cap) {
  const dc__event *ev = dc__trace_first();
  while (ev && i--)
    ev = ev->next;
  if (!ev)
    return NULL;
  dc__event_print(ev, buf, cap);
  return buf;
}

/* Prints the last trace event's term (etf only, ~w style) into buf. */
static inline const char *dc_test_last_term(char *buf, size_t cap) {
  const dc__event *ev = dc__trace_first(), *last = NULL;
  for (; ev; ev = ev->next)
    last = ev;
  if (!last)
    return NULL;
  if (dc__etf_print(last->etf, last->len, buf, cap) != 0)
    return NULL;
  return buf;
}

/* 1 if some trace event prints exactly as `want`. */
static inline int dc_test_has_event(const char *want) {
  char buf[256];
  for (size_t i = 0; dc_test_event(i, buf, sizeof buf); i++)
    if (strcmp(buf, want) == 0)
      return 1;
  return 0;
}

/* Fails the test unless (DC_ASSERT_EVENT) or if (DC_ASSERT_NO_EVENT) some
 * trace event prints exactly as the printf-formatted arguments. */
#define DC_ASSERT_EVENT(...)                                                   \
  do {                                                                         \
    char want_[256];                                                           \
    snprintf(want_, sizeof want_, __VA_ARGS__);                                \
    if (!dc_test_has_event(want_))                                             \
      DC_FAIL("no trace event \"%s\"", want_);                                 \
  } while (0)
#define DC_ASSERT_NO_EVENT(...)                                                \
  do {                                                                         \
    char want_[256];                                                           \
    snprintf(want_, sizeof want_, __VA_ARGS__);                                \
    if (dc_test_has_event(want_))                                              \
      DC_FAIL("unexpected trace event \"%s\"", want_);                         \
  } while (0)

#endif
