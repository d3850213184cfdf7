/* Sources of operations: the generator (fed by a seeded PRNG or by fuzz
 * bytes — the same code serves both, so any byte string decodes into a
 * legal sequence) and the scenario walker.
 *
 * The generator looks at the current state (the same view the model in
 * model.c judges by), weighs the operation kinds that are legal now, and
 * then draws the arguments. Targeted stimuli only change weights: they make
 * rare-but-legal situations (false events, forced sends while busy, late
 * stop_select, close with queued data...) frequent. Every choice is a draw
 * among candidates that exist, where draw 0 is always valid, so exhausted
 * fuzz input (all zeros) still yields legal operations. Choices depend only
 * on the entropy and on the emulator state, never on addresses or time, so
 * one seed gives one sequence (in single-port-lock mode). */
#include <ei.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

_Atomic unsigned dc__stimuli_applied;

static const char *const stim_names[DC__STIM_COUNT] = {
#define DC__STIM_NAME(e, s) s,
    DC__STIMULUS_MAP(DC__STIM_NAME)
#undef DC__STIM_NAME
};

const char *dc__stimulus_name(dc__stimulus s) {
  return (unsigned)s < DC__STIM_COUNT ? stim_names[s] : "?";
}

static int favours(const dc__source *src, dc__stimulus s) {
  return (src->stimuli >> s) & 1u;
}

/* ------------------------------------------------------------------------ */
/* The state as the generator sees it                                       */

/* The view is rebuilt before every generated operation (a callback, an
 * async worker or another port's thread may have changed anything since
 * the last one), so it is kept to what the weights and the chosen
 * operation read: per-slot facts are bits of slot masks (counts are
 * popcounts, the n-th candidate slot is the n-th set bit, in slot order as
 * before), the queue size (a lock) and fd readiness (a poll() per selected
 * fd) are only read when the stimulus that looks at them is favoured, and
 * the per-slot fd lists only when some fd is selected at all. */
typedef struct view {
  const ErlDrvEntry *e;
  int soft_busy, has_output;
  dc__port *p[DC__MAX_SLOTS]; /* live port of each slot, or NULL */
  unsigned live;              /* slots with a live port */
  unsigned visible;   /* OPEN and known to Erlang: command/control/call/close */
  unsigned cmd_ok;    /* a command is legal now (not busy, or force possible) */
  unsigned busy;      /* live ports marked busy */
  unsigned queued;    /* visible, driver queue non-empty (CLOSE_QUEUED only) */
  unsigned selecting; /* visible, with selected fds */
  int nevents;        /* selected (fd, port) pairs over all live slots */
  int nnotready;      /* (fd, direction) pairs that would be false events
                       * (FALSE_EVENT only) */
  int async_total, deferred, deferred_dead, timers;
  int nprocs_ok, nexitable, nmonitored;
  unsigned procs_ok; /* bit i: scenario process i can act */
  /* Selected fds of slot i (events addressable by k): [0, nev[i]). */
  int nev[DC__MAX_SLOTS];
  int fds[DC__MAX_SLOTS][DC__MAX_SLOT_EVENTS];
  int modes[DC__MAX_SLOTS][DC__MAX_SLOT_EVENTS];
} view;

/* Bits set in m, a slot or process mask (12 bits at most): two lookups.
 * __builtin_popcount is a libgcc call without -mpopcnt. */
#define PC2(n) n, n + 1, n + 1, n + 2
#define PC4(n) PC2(n), PC2(n + 1), PC2(n + 1), PC2(n + 2)
#define PC6(n) PC4(n), PC4(n + 1), PC4(n + 1), PC4(n + 2)
static const unsigned char bits_in[256] = {PC6(0), PC6(1), PC6(1), PC6(2)};
_Static_assert(DC__MAX_SLOTS <= 16 && DC__MAX_SPROCS <= 16, "masks fit");

static int popcount(unsigned m) { return bits_in[m & 0xff] + bits_in[m >> 8]; }

/* Index of the pick-th set bit of mask (0-based, from bit 0); -1 if none. */
static int nth_bit(unsigned mask, uint64_t pick) {
  for (; mask; mask &= mask - 1)
    if (pick-- == 0)
      return __builtin_ctz(mask);
  return -1;
}

static int fd_ready(int fd, int dir) {
  struct pollfd pf = {fd, dir == ERL_DRV_READ ? POLLIN : POLLOUT, 0};
  return poll(&pf, 1, 0) > 0 && (pf.revents & (pf.events | POLLERR | POLLHUP));
}

static int slot_notready(const view *v, int i) {
  int n = 0;
  for (int k = 0; k < v->nev[i]; k++)
    for (int dir = ERL_DRV_READ; dir <= ERL_DRV_WRITE; dir <<= 1)
      if ((v->modes[i][k] & dir) && !fd_ready(v->fds[i][k], dir))
        n++;
  return n;
}

/* The ports of the slots: liveness, visibility and busy as masks. */
static void view_ports(const dc__source *src, const dc__runner *r, view *v) {
  unsigned live = 0, visible = 0, busy = 0, queued = 0;
  int want_queued = favours(src, DC__STIM_CLOSE_QUEUED);
  for (int i = 0; i < DC__MAX_SLOTS; i++) {
    dc__port *p = v->p[i] = dc__runner_port(r, i);
    if (!p)
      continue;
    unsigned bit = 1u << i;
    live |= bit;
    busy |= p->busy ? bit : 0;
    if (p->state != DC__PORT_OPEN || p->init_ack_pending)
      continue;
    visible |= bit;
    if (want_queued && dc__queue_size(p) > 0)
      queued |= bit;
  }
  v->live = live;
  v->visible = visible;
  v->busy = busy;
  v->cmd_ok = visible & (v->soft_busy ? ~0u : ~busy);
  v->queued = queued;
}

/* The fds each live slot's port selected. One dc__select_next call tells
 * whether any fd is selected at all (most drivers never select); only
 * then is each port's list read. */
static void view_events(const dc__source *src, view *v) {
  int nevents = 0, nnotready = 0;
  unsigned selecting = 0;
  int want_notready = favours(src, DC__STIM_FALSE_EVENT);
  if (!v->live || dc__select_next(-1, NULL, NULL) < 0) {
    memset(v->nev, 0, sizeof v->nev);
    v->nevents = v->nnotready = 0;
    v->selecting = 0;
    return;
  }
  for (int i = 0; i < DC__MAX_SLOTS; i++) {
    int n = 0;
    if (v->p[i])
      n = dc__select_port_fds(v->p[i], v->fds[i], v->modes[i],
                              DC__MAX_SLOT_EVENTS);
    v->nev[i] = n;
    if (!n)
      continue;
    nevents += n;
    selecting |= 1u << i;
    if (want_notready)
      nnotready += slot_notready(v, i);
  }
  v->nevents = nevents;
  v->nnotready = nnotready;
  v->selecting = selecting & v->visible;
}

/* Scenario processes: those that can act, those spawned (may exit), and,
 * only when an exit can be weighed, whether a driver monitors one. Liveness
 * is asked only when a process was spawned or one died since last time (a
 * dead process never comes back: pids are not reused in a run). */
static void procs_refresh(dc__source *src, const dc__runner *r) {
  ErlDrvTermData diff = 0;
  unsigned long deaths = dc__proc_deaths(); /* before the answers */
  for (int i = 0; i < DC__MAX_SPROCS; i++)
    diff |= src->procs_pids[i] ^ r->procs[i];
  if (src->procs_valid && !diff && deaths == src->procs_deaths)
    return;
  unsigned ok = 0, spawned = 0;
  for (int i = 0; i < DC__MAX_SPROCS; i++) {
    src->procs_pids[i] = r->procs[i];
    /* dc__runner_proc_ok: not spawned yet, or alive */
    if (r->procs[i]) {
      if (!dc__proc_alive(r->procs[i]))
        continue;
      spawned |= 1u << i;
    }
    ok |= 1u << i;
  }
  src->procs_ok = ok;
  src->procs_spawned = spawned;
  src->procs_deaths = deaths;
  src->procs_valid = 1;
}

static void view_procs(dc__source *src, const dc__runner *r, view *v) {
  procs_refresh(src, r);
  v->procs_ok = src->procs_ok;
  v->nprocs_ok = popcount(src->procs_ok);
  v->nexitable = popcount(src->procs_spawned);
  v->nmonitored = 0;
  if (v->nexitable == 0 || v->nprocs_ok <= 4)
    return; /* weigh() gives EXIT no weight: nmonitored is never read */
  /* Only "any" matters to weigh() and gen_exit(). */
  for (unsigned m = src->procs_spawned; m && !v->nmonitored; m &= m - 1)
    v->nmonitored = dc__monitor_count_on(r->procs[__builtin_ctz(m)]) > 0;
}

static int proc_ok(const view *v, int i) {
  return i >= 0 && i < DC__MAX_SPROCS && ((v->procs_ok >> i) & 1u);
}

/* Deferred stop_selects still due; not asked while none can exist (sync
 * mode since one was seen to be none, see dc__ss_mode_changes). */
static void view_deferred(dc__source *src, const dc__runner *r, view *v) {
  unsigned long changes = atomic_load(&dc__ss_mode_changes);
  int sync = r->ssmode == DC__SS_SYNC;
  v->deferred_dead = 0;
  if (sync && src->ss_quiet == changes) {
    v->deferred = 0;
    return;
  }
  v->deferred = dc__select_deferred_pending(&v->deferred_dead);
  if (sync && v->deferred == 0)
    src->ss_quiet = changes;
}

static void view_build(dc__source *src, const dc__runner *r, view *v) {
  int done = 0;
  v->e = dc__g.entry;
  v->soft_busy = (v->e->driver_flags & ERL_DRV_FLAG_SOFT_BUSY) != 0;
  v->has_output = v->e->output || v->e->outputv;
  view_ports(src, r, v);
  view_events(src, v);
  v->async_total = dc__async_pending(&done) + done;
  view_deferred(src, r, v);
  v->timers = dc__timer_next() != UINT64_MAX;
  view_procs(src, r, v);
}

/* ------------------------------------------------------------------------ */
/* Choosing among candidates                                                 */

/* A slot of the `pred` mask, preferring (pct %) those of `pref` (0: no
 * preference). Candidates count in slot order, as every draw here. */
static int pick_slot(dc__source *src, unsigned pred, unsigned pref,
                     unsigned pct) {
  if (pref && dc__chance(src, pct))
    return nth_bit(pref, dc__below(src, (uint64_t)popcount(pref)));
  return nth_bit(pred, dc__below(src, (uint64_t)popcount(pred)));
}

/* A scenario process that can act; `spawned` restricts to spawned ones. */
static int pick_proc(dc__source *src, const dc__runner *r, const view *v,
                     int spawned) {
  unsigned ok = v->procs_ok;
  if (spawned)
    for (int i = 0; i < DC__MAX_SPROCS; i++)
      if (!r->procs[i])
        ok &= ~(1u << i);
  if (!ok)
    return -1;
  return nth_bit(ok, dc__below(src, (uint64_t)popcount(ok)));
}

/* Who sends a command/control/call: mostly the owner; with PROC_EXIT
 * favoured mostly other processes (which a driver may then monitor). */
static int pick_actor(dc__source *src, const dc__runner *r, const view *v,
                      const dc__port *p) {
  int owner_ok = dc__proc_alive(p->owner);
  unsigned other = favours(src, DC__STIM_PROC_EXIT) ? 60 : 15;
  if (owner_ok && !dc__chance(src, other))
    return -1;
  int i = pick_proc(src, r, v, 0);
  return i >= 0 || !owner_ok ? i : -1;
}

/* ------------------------------------------------------------------------ */
/* Building each kind of operation                                           */

static void gen_open(dc__source *src, const dc__runner *r, const view *v,
                     dc__op *op) {
  op->slot = pick_slot(src, ~v->live & ((1u << DC__MAX_SLOTS) - 1), 0, 0);
  if (!proc_ok(v, op->slot) || dc__chance(src, 15))
    op->proc = pick_proc(src, r, v, 0);
  op->opts = (dc__chance(src, 50) ? DC__OPT_BINARY : 0) |
             (dc__chance(src, 20) ? DC__OPT_EOF : 0);
}

static void gen_command(dc__source *src, const dc__runner *r, const view *v,
                        dc__op *op) {
  int soft = v->soft_busy;
  unsigned busy_cmd = v->cmd_ok & v->busy;
  op->slot = pick_slot(src, v->cmd_ok,
                       favours(src, DC__STIM_BUSY_SEND) ? busy_cmd : 0, 85);
  op->force = ((v->busy >> op->slot) & 1u) || (soft && dc__chance(src, 15));
  op->proc = pick_actor(src, r, v, v->p[op->slot]);
  op->len = dc__gen_size(src, sizeof src->buf);
  dc__gen_payload(src, op);
  dc__gen_split(src, op);
}

static void gen_control(dc__source *src, const dc__runner *r, const view *v,
                        dc__op *op) {
  op->slot = pick_slot(src, v->visible, 0, 0);
  op->proc = pick_actor(src, r, v, v->p[op->slot]);
  op->cmd = dc__gen_cmd(src);
  op->len = dc__gen_size(src, 1024);
  dc__gen_payload(src, op);
  if (favours(src, DC__STIM_SMALL_RLEN) && dc__chance(src, 70))
    op->rlen = (int)dc__below(src, 9);
  else if (dc__chance(src, 5))
    op->rlen = (int)dc__below(src, 64);
}

static void gen_call(dc__source *src, const dc__runner *r, const view *v,
                     dc__op *op) {
  ei_x_buff x;
  op->slot = pick_slot(src, v->visible, 0, 0);
  op->proc = pick_actor(src, r, v, v->p[op->slot]);
  op->cmd = dc__gen_cmd(src);
  ei_x_new_with_version(&x);
  dc__gen_term(src, &x, 0);
  op->len = (size_t)x.index < sizeof src->buf ? (size_t)x.index : 0;
  memcpy(src->buf, x.buff, op->len);
  ei_x_free(&x);
  op->data = src->buf;
}

/* One of the (slot, k, direction) events that exist; with FALSE_EVENT
 * favoured mostly one whose fd is not ready. */
static void gen_event(dc__source *src, const view *v, dc__op *op) {
  int want_false = favours(src, DC__STIM_FALSE_EVENT) && v->nnotready > 0 &&
                   dc__chance(src, 85);
  uint64_t pick =
      dc__below(src, (uint64_t)(want_false ? v->nnotready : v->nevents * 2));
  for (int i = 0; i < DC__MAX_SLOTS; i++) {
    const int *fds = v->fds[i], *modes = v->modes[i];
    for (int k = 0; k < v->nev[i]; k++)
      for (int dir = ERL_DRV_READ; dir <= ERL_DRV_WRITE; dir <<= 1) {
        if (!(modes[k] & dir))
          continue;
        if (want_false && fd_ready(fds[k], dir))
          continue;
        /* Without a preference, a fd selected for one direction counts
         * twice, so the draw below nevents*2 always lands. */
        int weight =
            want_false || modes[k] == (ERL_DRV_READ | ERL_DRV_WRITE) ? 1 : 2;
        if (pick < (uint64_t)weight) {
          op->slot = i;
          op->k = k;
          op->mode = dir;
          return;
        }
        pick -= (uint64_t)weight;
      }
  }
  /* Not reached (the draw is below the total); keep the op legal anyway. */
  for (int i = 0; i < DC__MAX_SLOTS; i++)
    if (v->nev[i] > 0) {
      op->slot = i;
      op->k = 0;
      op->mode = v->modes[i][0] & ERL_DRV_READ ? ERL_DRV_READ : ERL_DRV_WRITE;
      return;
    }
}

static void gen_advance(dc__source *src, dc__op *op) {
  uint64_t next = dc__timer_next(), now = dc__g.now_ms;
  uint64_t c = dc__below(src, 100);
  if (next != UINT64_MAX && c < 45) {
    op->ms = next > now ? next - now : 0;
    if (c < 5 && op->ms > 0)
      op->ms--; /* just before the deadline: nothing may fire */
  } else if (c < 55) {
    op->ms = 0;
  } else if (c < 70) {
    op->ms = 1;
  } else if (c < 92) {
    op->ms = dc__below(src, 1000);
  } else {
    op->ms = 1000 + dc__below(src, 10000000);
  }
}

static void gen_async(dc__source *src, const view *v, dc__op *op) {
  op->k =
      dc__chance(src, 40) ? -1 : (int)dc__below(src, (uint64_t)v->async_total);
}

/* A spawned process exits; with PROC_EXIT favoured mostly one a driver
 * monitors. At least 4 processes are kept able to act. */
static void gen_exit(dc__source *src, const dc__runner *r, const view *v,
                     dc__op *op) {
  static const char *const reasons[] = {"normal", "shutdown", "killed",
                                        "crash"};
  int mon[DC__MAX_SPROCS], n = 0;
  for (int i = 0; v->nmonitored && i < DC__MAX_SPROCS; i++)
    if (proc_ok(v, i) && r->procs[i] && dc__monitor_count_on(r->procs[i]) > 0)
      mon[n++] = i;
  if (n > 0 && (favours(src, DC__STIM_PROC_EXIT) || dc__chance(src, 50)))
    op->proc = mon[dc__below(src, (uint64_t)n)];
  else
    op->proc = pick_proc(src, r, v, 1);
  snprintf(op->reason, sizeof op->reason, "%s", reasons[dc__below(src, 4)]);
}

static int any_ss(const dc__source *src) {
  return favours(src, DC__STIM_SS_SYNC) || favours(src, DC__STIM_SS_DEFERRED) ||
         favours(src, DC__STIM_SS_AFTER_STOP);
}

static void gen_ssmode(dc__source *src, dc__op *op) {
  unsigned deferred = 50;
  if (favours(src, DC__STIM_SS_DEFERRED) ||
      favours(src, DC__STIM_SS_AFTER_STOP))
    deferred = 80;
  else if (favours(src, DC__STIM_SS_SYNC))
    deferred = 20;
  op->mode = dc__chance(src, deferred) ? DC__SS_DEFERRED : DC__SS_SYNC;
}

static void gen_close(dc__source *src, const view *v, dc__op *op) {
  unsigned pref = 0;
  if (favours(src, DC__STIM_CLOSE_QUEUED))
    pref = v->queued;
  else if (any_ss(src))
    pref = v->selecting; /* a close makes stop deselect its fds */
  op->slot = pick_slot(src, v->visible, pref, 85);
  op->bang = dc__chance(src, 30);
}

/* ------------------------------------------------------------------------ */
/* Weights                                                                   */

static void weigh(const dc__source *src, const view *v, unsigned w[]) {
  const ErlDrvEntry *e = v->e;
  int nlive = popcount(v->live), nvisible = popcount(v->visible);
  int nbusy = popcount(v->visible & v->busy);
  memset(w, 0, DC__OP_COUNT * sizeof *w);
  if (nlive < DC__MAX_SLOTS)
    w[DC__OP_OPEN] = nlive == 0 ? 40 : nlive < 3 ? 5 : 1;
  if (v->cmd_ok && v->has_output) {
    w[DC__OP_COMMAND] = 30;
    if (favours(src, DC__STIM_BUSY_SEND) && v->soft_busy && nbusy > 0)
      w[DC__OP_COMMAND] += 60;
  }
  if (nvisible > 0 && e->control)
    w[DC__OP_CONTROL] = favours(src, DC__STIM_SMALL_RLEN) ? 30 : 14;
  if (nvisible > 0 && e->call)
    w[DC__OP_CALL] = 10;
  if (v->nevents > 0) {
    w[DC__OP_EVENT] = 10;
    if (favours(src, DC__STIM_FALSE_EVENT) && v->nnotready > 0)
      w[DC__OP_EVENT] += 50;
  }
  w[DC__OP_POLL] = v->nevents > 0 ? 5 : 1;
  w[DC__OP_ADVANCE] = v->timers ? 10 : 3;
  if (nbusy > 0 && !v->soft_busy)
    w[DC__OP_ADVANCE] += 10; /* busy ports are usually freed by a timer */
  if (v->async_total > 0)
    w[DC__OP_ASYNC] = 12;
  if (v->nexitable > 0 && v->nprocs_ok > 4) {
    w[DC__OP_EXIT] = 2;
    if (favours(src, DC__STIM_PROC_EXIT))
      w[DC__OP_EXIT] = v->nmonitored > 0 ? 40 : 6;
    else if (v->nmonitored > 0)
      w[DC__OP_EXIT] = 5;
  }
  w[DC__OP_SSMODE] = any_ss(src) && e->stop_select ? 5 : 1;
  if (v->deferred > 0) {
    w[DC__OP_SSRUN] = 6;
    if (favours(src, DC__STIM_SS_AFTER_STOP) && v->deferred_dead > 0)
      w[DC__OP_SSRUN] = 40;
  }
  w[DC__OP_SETTLE] = 2;
  if (nvisible > 0) {
    w[DC__OP_CLOSE] = 3;
    if (favours(src, DC__STIM_CLOSE_QUEUED) && v->queued)
      w[DC__OP_CLOSE] += 50;
    if (any_ss(src) && v->selecting)
      w[DC__OP_CLOSE] += 8;
  }
}

/* The kind whose weight interval [end[k] - w[k], end[k]) holds the draw:
 * the number of kinds that end at or before it. Branch-free, since the
 * draw is random (a loop exiting at the pick mispredicts every time). */
static dc__op_kind pick_kind(dc__source *src, const unsigned w[]) {
  uint64_t total = 0, end[DC__OP_COUNT];
  for (int k = 0; k < DC__OP_COUNT; k++)
    end[k] = total += w[k];
  uint64_t pick = dc__below(src, total);
  int kind = 0;
  for (int k = 0; k < DC__OP_COUNT; k++)
    kind += end[k] <= pick;
  /* Not reached otherwise: total > 0 (settle always weighs). */
  return kind < DC__OP_COUNT ? (dc__op_kind)kind : DC__OP_SETTLE;
}

/* dc__op_make(k) into *op, field by field: the compiler turns a whole-struct
 * zeroing into a `rep stos`, whose start-up cost showed in the profile. */
static void blank_op(dc__op *op, dc__op_kind k) {
  op->kind = k;
  op->slot = op->opts = op->force = op->bang = op->mode = op->nsegs = 0;
  op->proc = op->rlen = op->k = -1;
  op->cmd = 0;
  op->ms = 0;
  op->data = NULL;
  op->len = 0;
  memset(op->seg, 0, sizeof op->seg);
  memset(op->reason, 0, sizeof op->reason);
}

static void generate(dc__source *src, const dc__runner *r, dc__op *op) {
  view v;
  unsigned w[DC__OP_COUNT];
  view_build(src, r, &v);
  weigh(src, &v, w);
  blank_op(op, pick_kind(src, w));
  switch (op->kind) {
  case DC__OP_OPEN:
    gen_open(src, r, &v, op);
    break;
  case DC__OP_COMMAND:
    gen_command(src, r, &v, op);
    break;
  case DC__OP_CONTROL:
    gen_control(src, r, &v, op);
    break;
  case DC__OP_CALL:
    gen_call(src, r, &v, op);
    break;
  case DC__OP_EVENT:
    gen_event(src, &v, op);
    break;
  case DC__OP_ADVANCE:
    gen_advance(src, op);
    break;
  case DC__OP_ASYNC:
    gen_async(src, &v, op);
    break;
  case DC__OP_EXIT:
    gen_exit(src, r, &v, op);
    break;
  case DC__OP_SSMODE:
    gen_ssmode(src, op);
    break;
  case DC__OP_CLOSE:
    gen_close(src, &v, op);
    break;
  default: /* poll, settle, stop_select run: no arguments */
    break;
  }
}

/* ------------------------------------------------------------------------ */
/* Closing down: close every port, let closing ports drain, run late        */
/* stop_selects, unload                                                      */

#define MAX_FINAL_SETTLES 8

static int proc_index(const dc__runner *r, ErlDrvTermData pid) {
  for (int i = 0; i < DC__MAX_SPROCS; i++)
    if (r->procs[i] && r->procs[i] == pid)
      return dc__proc_alive(pid) ? i : -1;
  return -1;
}

static int in_slots(const dc__runner *r, const dc__port *p) {
  for (int i = 0; i < DC__MAX_SLOTS; i++)
    if (r->slots[i] == p)
      return 1;
  return 0;
}

/* A port the Erlang side cannot close directly (init-ack outstanding, or
 * created by the driver) goes when its owner exits. */
static int owner_exit(const dc__runner *r, dc__op *op) {
  for (dc__port *p = dc__port_next_live(0); p;
       p = dc__port_next_live(p->idx + 1)) {
    int mine = in_slots(r, p);
    if (p->state != DC__PORT_OPEN || (mine && !p->init_ack_pending))
      continue;
    int i = proc_index(r, p->owner);
    if (i < 0 || !p->owner_linked)
      continue;
    *op = dc__op_make(DC__OP_EXIT);
    op->proc = i;
    snprintf(op->reason, sizeof op->reason, "normal");
    return 1;
  }
  return 0;
}

static int wind_down(dc__source *src, const dc__runner *r, dc__op *op) {
  if (src->phase == 2 || r->unloaded || !dc__g.loaded) {
    src->phase = 2;
    return 0;
  }
  for (int i = 0; i < DC__MAX_SLOTS; i++) {
    dc__port *p = dc__runner_port(r, i);
    if (p && p->state == DC__PORT_OPEN && !p->init_ack_pending) {
      *op = dc__op_make(DC__OP_CLOSE);
      op->slot = i;
      return 1;
    }
  }
  if (owner_exit(r, op))
    return 1;
  /* Closing ports drain at the driver's pace (queue_drv: 4 bytes per
   * 100 ms); settle while the backlog reaches new lows, and give up after
   * MAX_FINAL_SETTLES settles without progress (the minimum strictly
   * decreases at each reset, so this ends). */
  uint64_t backlog = 0;
  for (dc__port *p = dc__port_next_live(0); p;
       p = dc__port_next_live(p->idx + 1))
    backlog += 1 + dc__queue_size(p);
  if (backlog < src->min_backlog) {
    src->min_backlog = backlog;
    src->settles = 0;
  }
  if (backlog > 0 && src->settles < MAX_FINAL_SETTLES) {
    src->settles++;
    *op = dc__op_make(DC__OP_SETTLE);
    return 1;
  }
  if (dc__select_deferred_pending(NULL) > 0) {
    *op = dc__op_make(DC__OP_SSRUN);
    return 1;
  }
  src->phase = 2;
  if (dc__port_next_live(0))
    return 0; /* a port never drains: ERTS would never finish either */
  *op = dc__op_make(DC__OP_UNLOAD);
  return 1;
}

/* ------------------------------------------------------------------------ */
/* Sources                                                                   */

static void source_reset(dc__source *src, unsigned max_ops) {
  /* Built where a source starts (often before a fork), so children share
   * the pools and the generator's hot path needs no check. */
  dc__gen_pools();
  src->is_scenario = 0;
  src->stimuli = 0;
  src->max_ops = max_ops;
  src->produced = 0;
  src->phase = 0;
  src->settles = 0;
  src->min_backlog = UINT64_MAX;
  src->scn = NULL;
  src->pos = 0;
  src->defer_fill = 0;
  src->procs_valid = 0;
  src->ss_quiet = (unsigned long)-1;
}

void dc__source_gen(dc__source *src, uint64_t seed, unsigned stimuli,
                    unsigned max_ops) {
  source_reset(src, max_ops);
  dc__entropy_seed(&src->ent, seed);
  src->stimuli = stimuli;
}

void dc__source_fuzz(dc__source *src, const void *bytes, size_t len,
                     unsigned max_ops) {
  source_reset(src, max_ops);
  dc__entropy_bytes(&src->ent, bytes, len);
}

void dc__source_scenario(dc__source *src, const dc__scenario *s) {
  source_reset(src, 0);
  dc__entropy_seed(&src->ent, 0);
  src->is_scenario = 1;
  src->scn = s;
}

/* The runner's legality assertion: the generator must never leave the
 * model. A violation is a drvcheck bug, so it stops everything. */
static void assert_legal(const dc__runner *r, const dc__op *op) {
  const char *why = "";
  char line[512];
  if (dc__op_legal(r, op, &why))
    return;
  if (dc__op_format(op, line, sizeof line) != 0)
    snprintf(line, sizeof line, "%s ...", dc__op_name(op->kind));
  fprintf(stderr, "drvcheck: generated operation is illegal: '%s': %s\n", line,
          why);
  abort();
}

int dc__source_next(dc__source *src, dc__runner *r, dc__op *op) {
  if (src->is_scenario) {
    if (!src->scn || src->pos >= src->scn->n)
      return 0;
    *op = src->scn->ops[src->pos++];
    return 1;
  }
  if (src->phase == 0 &&
      (src->produced >= src->max_ops || dc__entropy_done(&src->ent) ||
       r->unloaded || !dc__g.loaded || !dc__g.entry))
    src->phase = 1;
  if (src->phase == 0)
    generate(src, r, op);
  else if (!wind_down(src, r, op))
    return 0;
  assert_legal(r, op);
  src->produced++;
  return 1;
}
