/* Helpers shared by the harness tests: load corpus drivers, read the trace. */
#ifndef DC_TEST_SUPPORT_H
#define DC_TEST_SUPPORT_H

#include "core/internal.h"
#include "loader/internal.h"
#include "runner.h"

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

#endif
