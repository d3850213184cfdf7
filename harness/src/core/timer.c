/* Driver timers on the emulator's virtual clock (protocol.md §1 rows 8-10,
 * §3.11): one timer per port, setting replaces, time 0 means "as soon as
 * possible" but always from a later port task, never inside driver_set_timer.
 *
 * The clock (dc__g.now_ms) only moves in dc__timer_advance, so scenarios are
 * reproducible. Arming and cancelling are O(1) writes to the port; advancing
 * scans the port table per timeout fired. No memory is allocated here. */
#include "internal.h"

#define SITE __builtin_return_address(0)

/* Arming sequence numbers: a timer armed with time 0 while dc__timer_advance
 * runs (typically re-armed inside timeout) must wait for the next advance,
 * as ERTS schedules it as a new port task rather than running it in the same
 * pass. Indexed by port slot; only read while the port's timer is armed, so
 * stale values from before an emulator reset never matter. */
static _Atomic uint64_t arm_counter;
static uint64_t arm_seq[DC__MAX_PORTS];
static unsigned char arm_zero[DC__MAX_PORTS];

/* Armed timers in the whole emulator, so dc__timer_next (asked before every
 * generated operation) is O(1) when none is armed instead of a scan of the
 * port table. Changed only on real 0<->1 transitions of a port's flag. */
static _Atomic int narmed;

static void arm(dc__port *p) {
  if (!atomic_exchange(&p->timer_armed, 1))
    atomic_fetch_add(&narmed, 1);
}

static void disarm(dc__port *p) {
  if (atomic_exchange(&p->timer_armed, 0))
    atomic_fetch_sub(&narmed, 1);
}

void dc__timer_reset(void) { atomic_store(&narmed, 0); }

static uint64_t add_sat(uint64_t a, uint64_t b) {
  /* UINT64_MAX is reserved for "no timer" in dc__timer_next. */
  return b >= UINT64_MAX - 1 - a ? UINT64_MAX - 1 : a + b;
}

int driver_set_timer(ErlDrvPort port, unsigned long time) {
  dc__port *p = DC__API_PORT(driver_set_timer, port);
  if (!p)
    return -1;
  /* A NULL timeout callback still returns 0: ERTS substitutes a no-op. */
  p->timer_deadline = add_sat(atomic_load(&dc__g.now_ms), time);
  arm_seq[p->idx] = atomic_fetch_add(&arm_counter, 1) + 1;
  arm_zero[p->idx] = time == 0;
  arm(p);
  return 0;
}

int driver_cancel_timer(ErlDrvPort port) {
  dc__port *p = DC__API_PORT(driver_cancel_timer, port);
  if (!p)
    return -1;
  disarm(p); /* idempotent */
  return 0;
}

int driver_read_timer(ErlDrvPort port, unsigned long *time_left) {
  dc__port *p = DC__API_PORT(driver_read_timer, port);
  if (!p)
    return -1;
  uint64_t now = atomic_load(&dc__g.now_ms);
  unsigned long left = 0;
  if (p->timer_armed && p->timer_deadline > now)
    left = (unsigned long)(p->timer_deadline - now);
  if (time_left)
    *time_left = left;
  return 0;
}

void dc__timer_cancel_port(dc__port *p) {
  if (p)
    disarm(p);
}

/* Timeouts run for open ports and for CLOSING ones (a timer armed in flush
 * keeps firing: driver_SUITE ioq_exit_timeout), never for dead ports. */
static int can_fire(const dc__port *p) {
  int st = p->state;
  return p->timer_armed && (st == DC__PORT_OPEN || st == DC__PORT_CLOSING);
}

uint64_t dc__timer_next(void) {
  uint64_t best = UINT64_MAX;
  if (atomic_load(&narmed) == 0)
    return best;
  unsigned n = atomic_load(&dc__g.nports);
  for (unsigned i = 0; i < n; i++) {
    const dc__port *p = &dc__g.ports[i];
    if (can_fire(p) && p->timer_deadline < best)
      best = p->timer_deadline;
  }
  return best;
}

/* The earliest timer due by `target` (ties: lowest port index), skipping
 * zero timers armed after the advance began (seq > limit). */
static dc__port *next_due(uint64_t target, uint64_t limit) {
  dc__port *best = NULL;
  if (atomic_load(&narmed) == 0)
    return NULL; /* advance without timers (most ops of most drivers): O(1) */
  unsigned n = atomic_load(&dc__g.nports);
  for (unsigned i = 0; i < n; i++) {
    dc__port *p = &dc__g.ports[i];
    if (!can_fire(p) || p->timer_deadline > target)
      continue;
    if (arm_zero[i] && arm_seq[i] > limit)
      continue;
    if (!best || p->timer_deadline < best->timer_deadline)
      best = p;
  }
  return best;
}

static void fire(dc__port *p) {
  ErlDrvEntry *e = dc__g.entry;
  disarm(p); /* read_timer inside timeout gives 0; re-arming works */
  if (!e || !e->timeout) {
    dc__port_epilogue(p); /* the substituted no-op still ends a port task */
    return;
  }
  dc__cbframe f;
  dc__cb_enter(p, DC__CB_TIMEOUT, DC__NIL, &f);
  e->timeout(p->drv_data);
  dc__cb_leave(p, &f);
}

int dc__timer_advance(uint64_t ms) {
  uint64_t now = atomic_load(&dc__g.now_ms);
  uint64_t target = add_sat(now, ms);
  uint64_t limit = atomic_load(&arm_counter);
  int fired = 0;
  dc__port *p;
  while ((p = next_due(target, limit)) != NULL) {
    /* The clock stands at the deadline while the timeout runs, so timers
     * armed inside it are measured from their real set time. */
    if (p->timer_deadline > now) {
      now = p->timer_deadline;
      atomic_store(&dc__g.now_ms, now);
    }
    fire(p);
    fired++;
  }
  atomic_store(&dc__g.now_ms, target);
  return fired;
}
