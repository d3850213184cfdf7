/* Calling-context checks: which erl_driver function may be called from
 * where (protocol.md §1 Thread column, §3.13, §3.15, §4 rows 6, 7, 18, 24)
 * and the callback timing behind cb.lengthy.
 *
 * Every API entry starts with DC__API(name) or DC__API_PORT(name, port).
 * The hot path (an emulator thread outside stop_select) is inline in
 * internal.h and costs two thread-local loads; everything here runs only
 * off that path, for port handles, or once per outermost callback.
 *
 * Memory: nothing is allocated; the per-thread state below is fixed-size. */
#include <time.h>

#include "internal.h"

const unsigned char dc__api_class_of[DC__API_COUNT] = {
#define DC__API_CLS(name, cls) DC__APICLS_##cls,
    DC__API_MAP(DC__API_CLS)
#undef DC__API_CLS
};

static const char *const api_names[DC__API_COUNT] = {
#define DC__API_STR(name, cls) #name,
    DC__API_MAP(DC__API_STR)
#undef DC__API_STR
};

/* The header declares exactly 111 EXTERN functions (protocol.md §1). */
_Static_assert(DC__API_COUNT == 111, "one table row per erl_driver function");

const char *dc__api_name(dc__api api) {
  return (unsigned)api < DC__API_COUNT ? api_names[api] : "?";
}

/* ------------------------------------------------------------------------ */
/* ctx.api_in_stop_select and ctx.thread_unsafe_api                         */

/* stop_select invocation (dc__g.cb_count[STOP_SELECT] value) in which this
 * thread last reported: only the first API call of one stop_select is
 * reported. That first call is always the driver's own; later ones may be
 * the harness's implementation of it calling other entries (driver_enq
 * copies into driver_alloc_binary), which would be noise. */
static _Thread_local unsigned long ss_reported = (unsigned long)-1;
static _Thread_local unsigned ss_reported_gen;
/* Bumped by every emulator reset, which restarts cb_count from 0. */
static _Atomic unsigned generation;

void dc__ctx_reset(void) { atomic_fetch_add(&generation, 1); }

static void report_stop_select(dc__api api, const void *site) {
  unsigned long n = atomic_load_explicit(&dc__g.cb_count[DC__CB_STOP_SELECT],
                                         memory_order_relaxed);
  unsigned gen = atomic_load_explicit(&generation, memory_order_relaxed);
  if (n == ss_reported && gen == ss_reported_gen)
    return;
  ss_reported = n;
  ss_reported_gen = gen;
  dc__flag_at(DC_RULE_CTX_API_IN_STOP_SELECT, dc__api_name(api), site,
              "%s called from stop_select, which runs without port or driver "
              "lock, possibly after the port is gone",
              dc__api_name(api));
}

static const char *thread_kind_name(dc__thr_kind k) {
  switch (k) {
  case DC__THR_ASYNC:
    return "an async worker (async_invoke)";
  case DC__THR_DRIVER:
    return "a thread made by erl_drv_thread_create";
  case DC__THR_POLL:
    return "a poll thread";
  default:
    return "a thread the emulator does not know";
  }
}

void dc__api_slow(dc__api api, const void *site) {
  unsigned cls = dc__api_class_of[api];
  /* The docs forbid every driver API function in stop_select. PURE ones are
   * exempt: they read only their arguments and constants, so nothing about
   * stop_select's context (no lock, port maybe gone) can affect them, and a
   * report could never point at a failure. */
  if (dc__tls.cb == DC__CB_STOP_SELECT) {
    if (cls != DC__APICLS_PURE)
      report_stop_select(api, site);
    return;
  }
  if (dc__tls.kind == DC__THR_EMU || cls != DC__APICLS_EMU)
    return; /* TS_PDL: queue.c's queue.no_pdl; SCHED: ERTS-defined error */
  dc__flag_at(DC_RULE_CTX_THREAD_UNSAFE_API, dc__api_name(api), site,
              "%s is not documented thread-safe but was called from %s",
              dc__api_name(api), thread_kind_name(dc__tls.kind));
}

/* ------------------------------------------------------------------------ */
/* Ports: ctx.dead_port and ctx.foreign_port                                */

/* Ports this thread made with driver_create_port in the running outermost
 * callback. More than fit disables the foreign check until the callback
 * returns (never a false report). */
#define MAX_CREATED 8
static _Thread_local dc__port *created[MAX_CREATED];
static _Thread_local int ncreated;

void dc__ctx_port_created(dc__port *p) {
  if (dc__tls.depth == 0)
    return; /* not inside a callback: nothing to scope */
  if (ncreated < MAX_CREATED)
    created[ncreated] = p;
  ncreated++;
}

static int created_here(const dc__port *p) {
  if (ncreated > MAX_CREATED)
    return 1;
  for (int i = 0; i < ncreated; i++)
    if (created[i] == p)
      return 1;
  return 0;
}

/* With port-level locking a callback holds only its own port's lock. A
 * non-thread-safe function on another port races with that port's own
 * callbacks on other schedulers. Queue functions are safe under the other
 * port's PDL (queue.c checks it is held), so they count only when that
 * port has no PDL. */
static void foreign_check(unsigned cls, const char *api, dc__port *p,
                          const void *site) {
  if (!dc__g.port_locking || !dc__tls.port || p == dc__tls.port ||
      dc__tls.cb == DC__CB_NONE || dc__tls.cb == DC__CB_STOP_SELECT ||
      dc__tls.kind != DC__THR_EMU)
    return;
  if (cls == DC__APICLS_TS_PDL) {
    if (__atomic_load_n(&p->pdl, __ATOMIC_ACQUIRE))
      return;
  } else if (cls != DC__APICLS_EMU) {
    return;
  }
  if (created_here(p) || dc__port_lock_held(p))
    return;
  dc__flag_at(DC_RULE_CTX_FOREIGN_PORT, api, site,
              "%s on #Port<0.%u> from a callback of #Port<0.%u>; with "
              "ERL_DRV_FLAG_USE_PORT_LOCKING only the callback's own port "
              "is locked",
              api, p->idx, dc__tls.port->idx);
}

void dc__ctx_foreign_queue(dc__port *p, const char *api, const void *site) {
  if (p)
    foreign_check(DC__APICLS_TS_PDL, api, p, site);
}

dc__port *dc__api_port(dc__api api, ErlDrvPort h, const void *site) {
  dc__api_check(api, site);
  dc__port *p = dc__port_api(h, dc__api_name(api), site);
  if (p)
    foreign_check(dc__api_class_of[api], dc__api_name(api), p, site);
  return p;
}

/* ------------------------------------------------------------------------ */
/* cb.lengthy                                                               */

/* Measured in thread CPU time, not wall time: a preempted scheduler thread
 * on a loaded machine does not make a callback lengthy, and only CPU the
 * callback burnt says the driver did too much work. The harness's own cheap
 * API implementations are included (microseconds, far below the budget);
 * its heavy ones (DC__API_HEAVY) are excluded.
 *
 * Reading the thread CPU clock is a system call (~1 us, more than a whole
 * echo callback), so the common case avoids it. A thread's CPU time grows
 * at most as fast as wall time, hence:
 * - wall time (CLOCK_MONOTONIC, a vDSO read) is an UPPER bound of the CPU
 *   time: a callback whose wall time is within the limit is certainly not
 *   lengthy, and nothing else is done;
 * - for the rare callback that is over the limit in wall time, the CPU time
 *   at its start is bounded from above by a per-thread sample (wall w, cpu
 *   c, read in that order) taken at most SAMPLE_NS of wall time earlier:
 *   cpu(start) <= c + (start - w). The callback's CPU time is then at least
 *   cpu(end) - that bound: a LOWER bound, so a report is never a false
 *   positive. It undercounts only CPU time the thread did not get between
 *   the sample and the callback start (under SAMPLE_NS).
 * The harness work excluded from the callback is measured in wall time,
 * which is at least its CPU time: subtracting more can only hide a report.
 * - cheaper still, a callback that ends in the same tick of the coarse
 *   clock it started in ran for less than that clock's resolution (4 ms at
 *   HZ=250), below the limit whenever the resolution is.
 * Cost per outermost callback: three vDSO clock reads (two coarse ones),
 * plus one CPU clock read per SAMPLE_NS of running time; two vDSO reads
 * per heavy API. */
static _Atomic long budget_us = 1000;
/* Kernel work charged to the thread (page faults under memory pressure,
 * interrupts) inflated the CPU time of trivial callbacks to 1-2 ms while
 * other builds ran on a 2-core VM; only time beyond budget + this allowance
 * is clearly the driver's. */
#define NOISE_US 4000L
#define SAN_SLOWDOWN DC__SAN_SLOWDOWN
#define SAMPLE_NS 1000000LL /* CPU sample age limit: 1 ms */
/* CLOCK_MONOTONIC is NTP-slewed (at most 500 ppm) while the CPU clock is
 * not: wall intervals are widened by 1/1024 before serving as CPU bounds. */
#define SLEW(ns) ((ns) + (ns) / 1024 + 1000)
static _Thread_local long long cb_wall; /* wall ns at callback start */
static _Thread_local long long cb_tick; /* coarse clock then, or -1 */
static _Atomic long long tick_ns;       /* its resolution; -1 unusable */
static _Thread_local long long smp_wall = -1, smp_cpu; /* per-thread sample */
static _Thread_local long consumed_pct;     /* sum of reported percents */
static _Thread_local int timing;            /* cb_wall is valid */
static _Thread_local long long excluded_ns; /* harness-only work (wall) */
static _Thread_local long long ovh_start;   /* outermost bracket's start */
static _Thread_local int ovh_depth;

static long long clock_ns(clockid_t id) {
  struct timespec ts;
  if (clock_gettime(id, &ts) != 0)
    return -1;
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The harness's emulation of heavy entries (ei encoding into the trace,
 * checksums of delivered binaries over their whole length) costs far more
 * than ERTS's; counting it would call a good driver lengthy. Only the
 * outermost bracket reads the clock, and only while a callback is timed.
 * The token is 0 for that bracket, -1 for any other. */
long dc__overhead_begin(void) {
  if (!timing || ovh_depth++ > 0)
    return -1;
  ovh_start = clock_ns(CLOCK_MONOTONIC);
  return ovh_start < 0 ? -1 : 0;
}

void dc__overhead_end(long *token) {
  if (!timing) {
    ovh_depth = 0;
    return;
  }
  if (ovh_depth > 0)
    ovh_depth--;
  long long now;
  if (*token < 0 || (now = clock_ns(CLOCK_MONOTONIC)) < 0)
    return;
  excluded_ns += now - ovh_start;
}

void dc__set_lengthy_budget_us(long us) { atomic_store(&budget_us, us); }

void dc__ctx_consumed(int percent) { consumed_pct += percent; }

/* The coarse clock's resolution in ns (once per process), or -1. */
static long long coarse_res(void) {
  long long r = atomic_load_explicit(&tick_ns, memory_order_relaxed);
  if (r == 0) {
    struct timespec ts;
    r = clock_getres(CLOCK_MONOTONIC_COARSE, &ts) != 0
            ? -1
            : (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    atomic_store_explicit(&tick_ns, r > 0 ? r : -1, memory_order_relaxed);
  }
  return r > 0 ? r : -1;
}

void dc__ctx_cb_outer_enter(void) {
  consumed_pct = 0;
  excluded_ns = 0;
  ovh_depth = 0;
  ncreated = 0;
  timing = 0;
  if (atomic_load_explicit(&budget_us, memory_order_relaxed) <= 0)
    return;
  long long w = clock_ns(CLOCK_MONOTONIC);
  if (w < 0)
    return;
  if (smp_wall < 0 || w - smp_wall > SAMPLE_NS) {
    long long c = clock_ns(CLOCK_THREAD_CPUTIME_ID); /* after w: see above */
    if (c < 0)
      return;
    smp_wall = w;
    smp_cpu = c;
  }
  cb_wall = w;
  cb_tick = coarse_res() > 0 ? clock_ns(CLOCK_MONOTONIC_COARSE) : -1;
  timing = 1;
}

/* The driver's own function for cb, so the finding names its location. */
static const void *cb_site(dc__cb cb) {
  const ErlDrvEntry *e = dc__g.entry;
  if (!e)
    return NULL;
  switch (cb) {
  case DC__CB_START:
    return (const void *)e->start;
  case DC__CB_STOP:
    return (const void *)e->stop;
  case DC__CB_OUTPUT:
    return (const void *)e->output;
  case DC__CB_READY_INPUT:
    return (const void *)e->ready_input;
  case DC__CB_READY_OUTPUT:
    return (const void *)e->ready_output;
  case DC__CB_CONTROL:
    return (const void *)e->control;
  case DC__CB_TIMEOUT:
    return (const void *)e->timeout;
  case DC__CB_OUTPUTV:
    return (const void *)e->outputv;
  case DC__CB_READY_ASYNC:
    return (const void *)e->ready_async;
  case DC__CB_FLUSH:
    return (const void *)e->flush;
  case DC__CB_CALL:
    return (const void *)e->call;
  case DC__CB_PROCESS_EXIT:
    return (const void *)e->process_exit;
  default:
    return NULL;
  }
}

/* 1 when `used` us of driver time, minus `reported` us, is over the limit
 * (sanitizer builds run several times slower; the budget is about the
 * driver's own work, so the measured time is scaled back first). */
static int over(long used, long reported, long budget) {
  return (used - reported) / SAN_SLOWDOWN > budget + NOISE_US;
}

void dc__ctx_cb_outer_leave(dc__port *p, dc__cb cb) {
  (void)p;
  ncreated = 0; /* created ports are released when the callback returns */
  long budget = atomic_load_explicit(&budget_us, memory_order_relaxed);
  int timed = timing;
  timing = 0;
  if (!timed || budget <= 0)
    return;
  /* Same coarse tick: shorter than its resolution (the usual case). */
  if (cb_tick >= 0 && !over((long)(coarse_res() / 1000 + 1), 0, budget) &&
      clock_ns(CLOCK_MONOTONIC_COARSE) == cb_tick)
    return;
  long long w = clock_ns(CLOCK_MONOTONIC);
  if (w < 0)
    return;
  /* One percent of the 1 ms slice is 10 us of reported work. */
  long reported = consumed_pct * 10L;
  if (!over((long)(SLEW(w - cb_wall - excluded_ns) / 1000), reported, budget))
    return; /* the usual case: no CPU clock read */
  long long c = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  if (c < 0)
    return;
  long long start_max = smp_cpu + SLEW(cb_wall - smp_wall);
  smp_wall = w; /* (w, c) read in that order: a valid sample */
  smp_cpu = c;
  long used = (long)((c - start_max - excluded_ns) / 1000);
  if (!over(used, reported, budget))
    return;
  dc__flag_at(DC_RULE_CB_LENGTHY, "", cb_site(cb),
              "%s used at least %ld us of CPU time (%ld us reported with "
              "erl_drv_consume_timeslice; budget %ld us, reported beyond "
              "%ld us)",
              dc__cb_name(cb), used, reported, budget, budget + NOISE_US);
}
