/* Callback framing: what ERTS does around every driver callback (§3.15,
 * §3.16) — the driver or port lock of the locking mode, prt->caller for the
 * callbacks that set it, the calling context and timing of ctx.c, the
 * watchdog record, and the checks that run when the callback returns. */
#include <stdlib.h>

#include "internal.h"

/* Locks this thread took through dc__cb_enter: a callback nested in another
 * (stop inside driver_failure, flush inside an exit) must not relock a
 * non-recursive mutex. Nesting is LIFO, so a tiny stack suffices. */
#define MAX_HELD 8
static _Thread_local pthread_mutex_t *held[MAX_HELD];
static _Thread_local int nheld;

static int holds(pthread_mutex_t *m) {
  for (int i = 0; i < nheld; i++)
    if (held[i] == m)
      return 1;
  return 0;
}

int dc__port_lock_held(const dc__port *p) {
  return holds(dc__g.port_locking ? (pthread_mutex_t *)&p->lock
                                  : &dc__g.drv_lock);
}

/* The lock ERTS holds around callback cb (§3.15): none for init/finish (the
 * driver-list lock there), stop_select, emergency_close and async_invoke. */
static pthread_mutex_t *cb_mutex(dc__port *p, dc__cb cb) {
  switch (cb) {
  case DC__CB_INIT:
  case DC__CB_FINISH:
  case DC__CB_STOP_SELECT:
  case DC__CB_EMERGENCY_CLOSE:
  case DC__CB_ASYNC_INVOKE:
    return NULL;
  default:
    break;
  }
  if (!p)
    return NULL;
  return dc__g.port_locking ? &p->lock : &dc__g.drv_lock;
}

/* prt->caller is only set around these five callbacks (§3.16). */
static int sets_caller(dc__cb cb) {
  return cb == DC__CB_START || cb == DC__CB_OUTPUT || cb == DC__CB_OUTPUTV ||
         cb == DC__CB_CONTROL || cb == DC__CB_CALL;
}

dc__watch *volatile dc__cb_watch;

/* Records callback entry/exit for the watchdog; recorded before taking the
 * lock so a callback stuck waiting for a lock also shows as hung. */
static inline void watch_cb(dc__cb cb, dc__port *p) {
  dc__watch *w = dc__cb_watch;
  if (!w)
    return;
  if (dc__tls.kind == DC__THR_EMU) {
    w->emu_cb = cb;
    w->port = p ? (int)DC__IDX(p->id) : -1;
  }
  if (cb != DC__CB_NONE)
    w->any_cb = cb;
  w->beat++;
}

void dc__cb_enter(dc__port *p, dc__cb cb, ErlDrvTermData caller,
                  dc__cbframe *f) {
  pthread_mutex_t *m = cb_mutex(p, cb);
  watch_cb(cb, p);
  f->took_lock = 0;
  if (m && !holds(m)) {
    pthread_mutex_lock(m);
    if (nheld < MAX_HELD)
      held[nheld++] = m;
    f->took_lock = 1;
  }
  /* Nested in a callback of the same port: stop inside driver_failure called
   * from control still sees the control caller (protocol row 90). */
  int nested = p && dc__tls.port == p && dc__tls.depth > 0;
  f->prev_port = dc__tls.port;
  f->prev_cb = dc__tls.cb;
  f->prev_caller = p ? p->caller : DC__NIL;
  if (p) {
    if (sets_caller(cb))
      p->caller = caller;
    else if (!nested)
      p->caller = DC__NIL;
    if (!nested)
      p->timeslice_used = 0;
    p->callbacks++;
  }
  /* Under the driver lock every callback of this kind is serialised: a
   * plain increment (no locked instruction) counts exactly. */
  if (m == &dc__g.drv_lock)
    atomic_store_explicit(
        &dc__g.cb_count[cb],
        atomic_load_explicit(&dc__g.cb_count[cb], memory_order_relaxed) + 1,
        memory_order_relaxed);
  else
    atomic_fetch_add_explicit(&dc__g.cb_count[cb], 1, memory_order_relaxed);
  if (dc__tls.depth == 0 && dc__tls.kind == DC__THR_EMU)
    dc__ctx_cb_outer_enter(); /* cb.lengthy timing starts under the lock */
  if (dc__tls.depth == 0)
    dc__lockdep_cb_enter();
  dc__tls.port = p;
  dc__tls.cb = cb;
  dc__tls.depth++;
}

void dc__cb_leave(dc__port *p, dc__cbframe *f) {
  pthread_mutex_t *m = cb_mutex(p, dc__tls.cb);
  if (dc__tls.depth == 1 && dc__tls.kind == DC__THR_EMU)
    dc__ctx_cb_outer_leave(p, dc__tls.cb); /* context still the callback's */
  if (dc__tls.depth == 1) { /* outermost: findings still name the callback */
    dc__dlv_after_callback();
    dc__lockdep_cb_leave();
  }
  dc__tls.port = f->prev_port;
  dc__tls.cb = f->prev_cb;
  dc__tls.depth--;
  watch_cb(f->prev_cb, f->prev_port);
  if (p) {
    p->caller = f->prev_caller;
    /* The ERTS callback epilogue, after the outermost callback of p, still
     * under its lock: a CLOSING port whose queue drained terminates. */
    if (f->prev_port != p && m)
      dc__port_epilogue(p);
  }
  if (f->took_lock) {
    for (int i = nheld - 1; i >= 0; i--)
      if (held[i] == m) {
        held[i] = held[--nheld];
        break;
      }
    pthread_mutex_unlock(m);
  }
}
