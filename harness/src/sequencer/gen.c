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

typedef struct slot_view {
  dc__port *p;  /* live port, or NULL */
  int visible;  /* OPEN and known to Erlang: command/control/call/close */
  int cmd_ok;   /* a command is legal now (not busy, or force possible) */
  int busy;
  int queued;   /* driver queue non-empty (only with CLOSE_QUEUED favoured) */
  int nev;      /* selected fds (events addressable by k) */
  int notready; /* (fd, direction) pairs that would be false events (only
                 * with FALSE_EVENT favoured) */
  int fds[DC__MAX_SLOT_EVENTS], modes[DC__MAX_SLOT_EVENTS]; /* [0, nev) */
} slot_view;

/* The view is rebuilt before every generated operation, so it reads only
 * what the weights and the chosen operation may use: the queue size (a
 * lock) and fd readiness (a poll() per selected fd) are only read when the
 * stimulus that looks at them is favoured, and nothing is cleared that is
 * then written anyway (the fd arrays are ~4 KB). */
typedef struct view {
  const ErlDrvEntry *e;
  int soft_busy, has_output;
  int want_queued, want_notready; /* the optional fields are filled */
  slot_view s[DC__MAX_SLOTS];
  int nfree, nlive, nvisible, ncmd, nbusy, nqueued, nevents, nnotready, nsel;
  int async_total, deferred, deferred_dead, timers;
  int nprocs_ok, nexitable, nmonitored;
  unsigned procs_ok; /* bit i: scenario process i can act */
} view;

static int fd_ready(int fd, int dir) {
  struct pollfd pf = {fd, dir == ERL_DRV_READ ? POLLIN : POLLOUT, 0};
  return poll(&pf, 1, 0) > 0 && (pf.revents & (pf.events | POLLERR | POLLHUP));
}

static int slot_notready(const slot_view *sv) {
  int n = 0;
  for (int k = 0; k < sv->nev; k++)
    for (int dir = ERL_DRV_READ; dir <= ERL_DRV_WRITE; dir <<= 1)
      if ((sv->modes[k] & dir) && !fd_ready(sv->fds[k], dir))
        n++;
  return n;
}

static void view_slot(const dc__runner *r, int i, view *v) {
  slot_view *sv = &v->s[i];
  dc__port *p = sv->p = r->slots[i] ? dc__runner_port(r, i) : NULL;
  if (!p) {
    sv->visible = sv->cmd_ok = sv->busy = sv->queued = 0;
    sv->nev = sv->notready = 0;
    return;
  }
  sv->visible = p->state == DC__PORT_OPEN && !p->init_ack_pending;
  sv->busy = p->busy;
  sv->queued = v->want_queued && dc__queue_size(p) > 0;
  sv->cmd_ok = sv->visible && (!p->busy || v->soft_busy);
  sv->nev = dc__select_port_fds(p, sv->fds, sv->modes, DC__MAX_SLOT_EVENTS);
  sv->notready = v->want_notready ? slot_notready(sv) : 0;
}

/* The per-slot counts, summed in locals (not in v: the compiler would
 * reload each just-stored counter). */
static void view_count(view *v) {
  int nfree = 0, nvisible = 0, ncmd = 0, nbusy = 0, nqueued = 0, nsel = 0;
  int nevents = 0, nnotready = 0;
  for (int i = 0; i < DC__MAX_SLOTS; i++) {
    const slot_view *sv = &v->s[i];
    nfree += !sv->p;
    nvisible += sv->visible;
    ncmd += sv->cmd_ok;
    nbusy += sv->visible && sv->busy;
    nqueued += sv->visible && sv->queued;
    nsel += sv->visible && sv->nev > 0;
    nevents += sv->nev;
    nnotready += sv->notready;
  }
  v->nfree = nfree;
  v->nlive = DC__MAX_SLOTS - nfree;
  v->nvisible = nvisible;
  v->ncmd = ncmd;
  v->nbusy = nbusy;
  v->nqueued = nqueued;
  v->nsel = nsel;
  v->nevents = nevents;
  v->nnotready = nnotready;
}

/* Scenario processes: those that can act, those spawned (may exit), and,
 * only when an exit can be weighed, those a driver monitors. */
static int spawned_alive(dc__source *src, const dc__runner *r, int i) {
  ErlDrvTermData pid = r->procs[i];
  /* A dead process never comes back (pids are not reused in a run), so
   * each one is asked about until it is seen dead, not at every op. */
  if (pid == src->dead_pid[i])
    return 0;
  if (dc__proc_alive(pid))
    return 1;
  src->dead_pid[i] = pid;
  return 0;
}

static void view_procs(dc__source *src, const dc__runner *r, view *v) {
  v->nprocs_ok = v->nexitable = v->nmonitored = 0;
  v->procs_ok = 0;
  for (int i = 0; i < DC__MAX_SPROCS; i++) {
    /* dc__runner_proc_ok, with a call only for live spawned processes */
    if (r->procs[i] && !spawned_alive(src, r, i))
      continue;
    v->procs_ok |= 1u << i;
    v->nprocs_ok++;
    v->nexitable += r->procs[i] != 0;
  }
  if (v->nexitable == 0 || v->nprocs_ok <= 4)
    return; /* weigh() gives EXIT no weight: nmonitored is never read */
  for (int i = 0; i < DC__MAX_SPROCS; i++)
    if (r->procs[i] && ((v->procs_ok >> i) & 1u))
      v->nmonitored += dc__monitor_count_on(r->procs[i]) > 0;
}

static int proc_ok(const view *v, int i) {
  return i >= 0 && i < DC__MAX_SPROCS && ((v->procs_ok >> i) & 1u);
}

static void view_build(dc__source *src, const dc__runner *r, view *v) {
  int done = 0;
  v->e = dc__g.entry;
  v->soft_busy = (v->e->driver_flags & ERL_DRV_FLAG_SOFT_BUSY) != 0;
  v->has_output = v->e->output || v->e->outputv;
  v->want_queued = favours(src, DC__STIM_CLOSE_QUEUED);
  v->want_notready = favours(src, DC__STIM_FALSE_EVENT);
  for (int i = 0; i < DC__MAX_SLOTS; i++)
    view_slot(r, i, v);
  view_count(v);
  v->async_total = dc__async_pending(&done) + done;
  v->deferred_dead = 0;
  v->deferred = dc__select_deferred_pending(&v->deferred_dead);
  v->timers = dc__timer_next() != UINT64_MAX;
  view_procs(src, r, v);
}

/* ------------------------------------------------------------------------ */
/* Choosing among candidates                                                 */

/* The pick-th slot (0-based) for which pred holds; -1 if none. */
typedef int (*slot_pred)(const slot_view *sv);
static int nth_slot(const view *v, slot_pred pred, uint64_t pick) {
  for (int i = 0; i < DC__MAX_SLOTS; i++)
    if (pred(&v->s[i]) && pick-- == 0)
      return i;
  return -1;
}

static int count_slots(const view *v, slot_pred pred) {
  int n = 0;
  for (int i = 0; i < DC__MAX_SLOTS; i++)
    n += pred(&v->s[i]) != 0;
  return n;
}

/* A slot where pred holds, preferring (pct %) those where also pref holds. */
static int pick_slot(dc__source *src, const view *v, slot_pred pred,
                     slot_pred pref, unsigned pct) {
  if (pref) {
    int n = count_slots(v, pref);
    if (n > 0 && dc__chance(src, pct))
      return nth_slot(v, pref, dc__below(src, (uint64_t)n));
  }
  return nth_slot(v, pred, dc__below(src, (uint64_t)count_slots(v, pred)));
}

static int is_free(const slot_view *sv) { return !sv->p; }
static int is_visible(const slot_view *sv) { return sv->visible; }
static int is_cmd_ok(const slot_view *sv) { return sv->cmd_ok; }
static int is_busy_cmd(const slot_view *sv) { return sv->cmd_ok && sv->busy; }
static int is_queued(const slot_view *sv) { return sv->visible && sv->queued; }
static int is_selecting(const slot_view *sv) {
  return sv->visible && sv->nev > 0;
}

/* A scenario process that can act; `spawned` restricts to spawned ones. */
static int pick_proc(dc__source *src, const dc__runner *r, const view *v,
                     int spawned) {
  int ok[DC__MAX_SPROCS], n = 0;
  for (int i = 0; i < DC__MAX_SPROCS; i++)
    if (proc_ok(v, i) && (!spawned || r->procs[i]))
      ok[n++] = i;
  return n ? ok[dc__below(src, (uint64_t)n)] : -1;
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
  op->slot = pick_slot(src, v, is_free, NULL, 0);
  if (!proc_ok(v, op->slot) || dc__chance(src, 15))
    op->proc = pick_proc(src, r, v, 0);
  op->opts = (dc__chance(src, 50) ? DC__OPT_BINARY : 0) |
             (dc__chance(src, 20) ? DC__OPT_EOF : 0);
}

static void gen_command(dc__source *src, const dc__runner *r, const view *v,
                        dc__op *op) {
  int soft = v->soft_busy;
  op->slot = pick_slot(src, v, is_cmd_ok,
                       favours(src, DC__STIM_BUSY_SEND) ? is_busy_cmd : NULL, 85);
  const slot_view *sv = &v->s[op->slot];
  op->force = sv->busy || (soft && dc__chance(src, 15));
  op->proc = pick_actor(src, r, v, sv->p);
  op->len = dc__gen_size(src, sizeof src->buf);
  dc__gen_payload(src, op);
  dc__gen_split(src, op);
}

static void gen_control(dc__source *src, const dc__runner *r, const view *v,
                        dc__op *op) {
  op->slot = pick_slot(src, v, is_visible, NULL, 0);
  op->proc = pick_actor(src, r, v, v->s[op->slot].p);
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
  op->slot = pick_slot(src, v, is_visible, NULL, 0);
  op->proc = pick_actor(src, r, v, v->s[op->slot].p);
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
  uint64_t pick = dc__below(src, (uint64_t)(want_false ? v->nnotready : v->nevents * 2));
  for (int i = 0; i < DC__MAX_SLOTS; i++) {
    const slot_view *sv = &v->s[i];
    for (int k = 0; k < sv->nev; k++)
      for (int dir = ERL_DRV_READ; dir <= ERL_DRV_WRITE; dir <<= 1) {
        if (!(sv->modes[k] & dir))
          continue;
        if (want_false && fd_ready(sv->fds[k], dir))
          continue;
        /* Without a preference, a fd selected for one direction counts
         * twice, so the draw below nevents*2 always lands. */
        int weight = want_false || sv->modes[k] == (ERL_DRV_READ | ERL_DRV_WRITE) ? 1 : 2;
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
    if (v->s[i].nev > 0) {
      op->slot = i;
      op->k = 0;
      op->mode = v->s[i].modes[0] & ERL_DRV_READ ? ERL_DRV_READ : ERL_DRV_WRITE;
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
  op->k = dc__chance(src, 40) ? -1 : (int)dc__below(src, (uint64_t)v->async_total);
}

/* A spawned process exits; with PROC_EXIT favoured mostly one a driver
 * monitors. At least 4 processes are kept able to act. */
static void gen_exit(dc__source *src, const dc__runner *r, const view *v,
                     dc__op *op) {
  static const char *const reasons[] = {"normal", "shutdown", "killed",
                                        "crash"};
  int mon[DC__MAX_SPROCS], n = 0;
  for (int i = 0; v->nmonitored && i < DC__MAX_SPROCS; i++)
    if (proc_ok(v, i) && r->procs[i] &&
        dc__monitor_count_on(r->procs[i]) > 0)
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
  if (favours(src, DC__STIM_SS_DEFERRED) || favours(src, DC__STIM_SS_AFTER_STOP))
    deferred = 80;
  else if (favours(src, DC__STIM_SS_SYNC))
    deferred = 20;
  op->mode = dc__chance(src, deferred) ? DC__SS_DEFERRED : DC__SS_SYNC;
}

static void gen_close(dc__source *src, const view *v, dc__op *op) {
  slot_pred pref = NULL;
  if (favours(src, DC__STIM_CLOSE_QUEUED))
    pref = is_queued;
  else if (any_ss(src))
    pref = is_selecting; /* a close makes stop deselect its fds */
  op->slot = pick_slot(src, v, is_visible, pref, 85);
  op->bang = dc__chance(src, 30);
}

/* ------------------------------------------------------------------------ */
/* Weights                                                                   */

static void weigh(const dc__source *src, const view *v, unsigned w[]) {
  const ErlDrvEntry *e = v->e;
  memset(w, 0, DC__OP_COUNT * sizeof *w);
  if (v->nfree > 0)
    w[DC__OP_OPEN] = v->nlive == 0 ? 40 : v->nlive < 3 ? 5 : 1;
  if (v->ncmd > 0 && v->has_output) {
    w[DC__OP_COMMAND] = 30;
    if (favours(src, DC__STIM_BUSY_SEND) && v->soft_busy && v->nbusy > 0)
      w[DC__OP_COMMAND] += 60;
  }
  if (v->nvisible > 0 && e->control)
    w[DC__OP_CONTROL] = favours(src, DC__STIM_SMALL_RLEN) ? 30 : 14;
  if (v->nvisible > 0 && e->call)
    w[DC__OP_CALL] = 10;
  if (v->nevents > 0) {
    w[DC__OP_EVENT] = 10;
    if (favours(src, DC__STIM_FALSE_EVENT) && v->nnotready > 0)
      w[DC__OP_EVENT] += 50;
  }
  w[DC__OP_POLL] = v->nevents > 0 ? 5 : 1;
  w[DC__OP_ADVANCE] = v->timers ? 10 : 3;
  if (v->nbusy > 0 && !v->soft_busy)
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
  if (v->nvisible > 0) {
    w[DC__OP_CLOSE] = 3;
    if (favours(src, DC__STIM_CLOSE_QUEUED) && v->nqueued > 0)
      w[DC__OP_CLOSE] += 50;
    if (any_ss(src) && v->nsel > 0)
      w[DC__OP_CLOSE] += 8;
  }
}

static dc__op_kind pick_kind(dc__source *src, const unsigned w[]) {
  uint64_t total = 0;
  for (int k = 0; k < DC__OP_COUNT; k++)
    total += w[k];
  uint64_t pick = dc__below(src, total);
  for (int k = 0; k < DC__OP_COUNT; k++) {
    if (pick < w[k])
      return (dc__op_kind)k;
    pick -= w[k];
  }
  return DC__OP_SETTLE; /* not reached: total > 0 (settle always weighs) */
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
  for (dc__port *p = dc__port_next_live(0); p; p = dc__port_next_live(p->idx + 1)) {
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
  for (dc__port *p = dc__port_next_live(0); p; p = dc__port_next_live(p->idx + 1))
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
  memset(src->dead_pid, 0, sizeof src->dead_pid);
  src->pay_style = 0;
  src->pay_seed = 0;
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
