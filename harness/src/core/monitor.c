/* Driver monitors of processes (protocol.md §1 rows 24-27, §3.14):
 * driver_monitor_process & co, and the process-exit path that fires
 * process_exit callbacks and closes the ports a dying process owns.
 *
 * Each port has its own growable monitor array (touched only under that
 * port's lock, so no global lock is needed); the opaque ErlDrvMonitor holds a
 * unique 64-bit reference plus the port slot and array index, making every
 * lookup O(1) and a stale or copied-then-removed monitor detectable. Arrays
 * are owned by this file and freed when the port terminates or on reset. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SITE __builtin_return_address(0)

typedef struct mon {
  uint64_t ref; /* 0: free slot */
  ErlDrvTermData pid;
  uint32_t next_free; /* free list: slot + 1, 0 = end */
} mon;

typedef struct port_mons {
  mon *v;
  uint32_t cap, used; /* slots allocated / ever handed out */
  uint32_t free_head; /* slot + 1 of the first free slot, 0 = none */
  uint32_t live;
} port_mons;

/* What ErlDrvMonitor's opaque bytes hold (32 available, rest zero). */
typedef struct mon_data {
  uint64_t ref;
  uint32_t port;
  uint32_t slot;
} mon_data;

_Static_assert(sizeof(mon_data) <= sizeof(ErlDrvMonitor), "monitor data");

static port_mons pm[DC__MAX_PORTS];
/* Live driver monitors per monitored process, so the sequencer's question
 * "is p monitored?" is O(1) and needs no port lock while other ports' callbacks
 * run (concurrency mode). Pid numbers are consecutive and at most
 * DC__MAX_PROCS exist, so the number modulo DC__MAX_PROCS is unique. */
static _Atomic int on_pid[DC__MAX_PROCS];

static _Atomic int *pid_count(ErlDrvTermData pid) {
  return &on_pid[DC__IDX(pid) % DC__MAX_PROCS];
}
static _Atomic uint64_t ref_counter;
/* The process whose monitors are being fired: it counts as not alive for
 * new monitors although dc__proc_mark_dead has not run yet. */
static _Atomic ErlDrvTermData exiting_pid;

static void to_driver(ErlDrvMonitor *out, unsigned port, uint32_t slot,
                      uint64_t ref) {
  mon_data d = {ref, port, slot};
  memset(out, 0, sizeof *out);
  memcpy(out, &d, sizeof d);
}

/* The live monitor `m` denotes on port p, or NULL. */
static mon *find(const dc__port *p, const ErlDrvMonitor *m, uint32_t *slot) {
  mon_data d;
  if (!m)
    return NULL;
  memcpy(&d, m, sizeof d);
  port_mons *t = &pm[p->idx];
  if (d.ref == 0 || d.port != p->idx || d.slot >= t->used ||
      t->v[d.slot].ref != d.ref)
    return NULL;
  if (slot)
    *slot = d.slot;
  return &t->v[d.slot];
}

static void release(port_mons *t, uint32_t slot) {
  atomic_fetch_sub(pid_count(t->v[slot].pid), 1);
  t->v[slot].ref = 0;
  t->v[slot].pid = 0;
  t->v[slot].next_free = t->free_head;
  t->free_head = slot + 1;
  t->live--;
}

/* A free slot in t (growing the array), or -1 when out of memory. */
static long take_slot(port_mons *t) {
  if (t->free_head) {
    uint32_t s = t->free_head - 1;
    t->free_head = t->v[s].next_free;
    return s;
  }
  if (t->used == t->cap) {
    uint32_t cap = t->cap ? t->cap * 2 : 4;
    mon *v = realloc(t->v, cap * sizeof *v);
    if (!v)
      return -1;
    t->v = v;
    t->cap = cap;
  }
  return t->used++;
}

int driver_monitor_process(ErlDrvPort port, ErlDrvTermData process,
                           ErlDrvMonitor *monitor) {
  dc__port *p = DC__API_PORT(driver_monitor_process, port);
  if (!p || !dc__g.entry->process_exit)
    return -1;
  if (process == atomic_load(&exiting_pid) || !dc__proc_alive(process))
    return 1; /* noproc: no monitor, no callback */
  port_mons *t = &pm[p->idx];
  long s = take_slot(t);
  if (s < 0)
    return -1;
  uint64_t ref = atomic_fetch_add(&ref_counter, 1) + 1;
  t->v[s].ref = ref;
  t->v[s].pid = process;
  t->v[s].next_free = 0;
  t->live++;
  atomic_fetch_add(pid_count(process), 1);
  if (monitor)
    to_driver(monitor, p->idx, (uint32_t)s, ref);
  return 0;
}

int driver_demonitor_process(ErlDrvPort port, const ErlDrvMonitor *monitor) {
  dc__port *p = DC__API_PORT(driver_demonitor_process, port);
  if (!p)
    return -1;
  uint32_t slot;
  if (!find(p, monitor, &slot))
    return 1; /* already fired or removed, or another port's monitor */
  release(&pm[p->idx], slot);
  return 0;
}

ErlDrvTermData driver_get_monitored_process(ErlDrvPort port,
                                            const ErlDrvMonitor *monitor) {
  dc__port *p = DC__API_PORT(driver_get_monitored_process, port);
  if (!p)
    return DC__NIL;
  mon *m = find(p, monitor, NULL);
  return m ? m->pid : DC__NIL;
}

/* io.c: a plain memcmp of the opaque bytes. */
int driver_compare_monitors(const ErlDrvMonitor *monitor1,
                            const ErlDrvMonitor *monitor2) {
  DC__API(driver_compare_monitors);
  return memcmp(monitor1, monitor2, sizeof(ErlDrvMonitor));
}

/* Monitors to fire, collected first: callbacks may add or remove monitors. */
typedef struct target {
  unsigned port;
  uint32_t slot;
  uint64_t ref;
} target;

static target *collect(ErlDrvTermData pid, size_t *count) {
  size_t n = 0, cap = 0;
  target *v = NULL;
  unsigned np = atomic_load(&dc__g.nports);
  for (unsigned i = 0; i < np; i++) {
    port_mons *t = &pm[i];
    for (uint32_t s = 0; t->live && s < t->used; s++) {
      if (!t->v[s].ref || t->v[s].pid != pid)
        continue;
      if (n == cap) {
        cap = cap ? cap * 2 : 8;
        target *nv = realloc(v, cap * sizeof *nv);
        if (!nv)
          break;
        v = nv;
      }
      v[n++] = (target){i, s, t->v[s].ref};
    }
  }
  *count = n;
  return v;
}

/* erts_fire_port_monitor: process_exit runs with the port locked while the
 * monitor still exists (driver_get_monitored_process works inside); the
 * monitor is removed only after the callback. */
static void fire(const target *tg) {
  dc__port *p = &dc__g.ports[tg->port];
  port_mons *t = &pm[tg->port];
  int st = p->state;
  if (st != DC__PORT_OPEN && st != DC__PORT_CLOSING)
    return;
  if (tg->slot >= t->used || t->v[tg->slot].ref != tg->ref)
    return; /* demonitored by an earlier callback */
  ErlDrvMonitor dm;
  to_driver(&dm, tg->port, tg->slot, tg->ref);
  dc__cbframe f;
  dc__cb_enter(p, DC__CB_PROCESS_EXIT, DC__NIL, &f);
  dc__g.entry->process_exit(p->drv_data, &dm);
  /* Still under the port lock; the array may have moved meanwhile. */
  if (tg->slot < t->used && t->v[tg->slot].ref == tg->ref)
    release(t, tg->slot);
  dc__cb_leave(p, &f);
}

void dc__proc_exit(ErlDrvTermData pid, const char *reason_atom) {
  if (!dc__proc_alive(pid))
    return;
  atomic_store(&exiting_pid, pid);
  size_t n = 0;
  target *v = collect(pid, &n);
  for (size_t i = 0; i < n; i++)
    fire(&v[i]);
  free(v);
  dc__proc_mark_dead(pid);
  atomic_store(&exiting_pid, 0);
  /* The link to each port it owns breaks: those ports exit (a dead owner
   * gets no messages). Normal exit of the owner closes its ports too. */
  for (dc__port *p = dc__port_next_live(0); p;
       p = dc__port_next_live(p->idx + 1))
    if (p->owner == pid && p->owner_linked)
      dc__port_exit(p, reason_atom ? reason_atom : "normal", 0);
}

int dc__monitor_count_on(ErlDrvTermData pid) {
  return DC__IS(pid, DC__TAG_PID) ? atomic_load(pid_count(pid)) : 0;
}

void dc__monitor_port_gone(dc__port *p) {
  if (!p)
    return;
  port_mons *t = &pm[p->idx];
  for (uint32_t s = 0; t->live && s < t->used; s++)
    if (t->v[s].ref)
      atomic_fetch_sub(pid_count(t->v[s].pid), 1);
  free(t->v);
  memset(t, 0, sizeof *t);
}

void dc__monitor_reset(void) {
  /* Monitors exist only on slots handed out since the last reset, and a
   * nonzero on_pid count only for the pid of a live monitor: clearing those
   * is the same as clearing everything (the fuzz targets reset per input). */
  unsigned used = atomic_load(&dc__g.nports);
  for (unsigned i = 0; i < used && i < DC__MAX_PORTS; i++) {
    port_mons *t = &pm[i];
    for (uint32_t s = 0; t->live && s < t->used; s++)
      if (t->v[s].ref)
        atomic_store(pid_count(t->v[s].pid), 0);
    free(t->v);
    memset(t, 0, sizeof *t);
  }
  atomic_store(&exiting_pid, 0);
}
