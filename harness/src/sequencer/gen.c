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

/* ------------------------------------------------------------------------ */
/* Entropy                                                                   */

void dc__entropy_seed(dc__entropy *e, uint64_t seed) {
  memset(e, 0, sizeof *e);
  e->rng = seed;
}

void dc__entropy_bytes(dc__entropy *e, const void *bytes, size_t len) {
  memset(e, 0, sizeof *e);
  e->bytes = bytes;
  e->len = bytes ? len : 0;
  e->is_bytes = 1;
}

/* A choice among n consumes no entropy when n <= 1 (there is no choice), so
 * fuzz bytes are spent only on real decisions. Bytes are read big-endian,
 * as few as n needs, so short inputs still steer the early choices. */
uint64_t dc__entropy_below(dc__entropy *e, uint64_t n) {
  if (n <= 1)
    return 0;
  if (!e->is_bytes)
    return (uint64_t)(((unsigned __int128)dc__rand(&e->rng) * n) >> 64);
  uint64_t v = 0;
  for (uint64_t m = n - 1; m; m >>= 8) {
    if (e->pos >= e->len)
      return 0;
    v = (v << 8) | e->bytes[e->pos++];
  }
  return v % n;
}

int dc__entropy_done(const dc__entropy *e) {
  return e->is_bytes && e->pos >= e->len;
}

static uint64_t below(dc__source *src, uint64_t n) {
  return dc__entropy_below(&src->ent, n);
}

/* 1 with probability pct/100. */
static int chance(dc__source *src, unsigned pct) {
  return below(src, 100) < pct;
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
  int queued;   /* driver queue non-empty */
  int nev;      /* selected fds (events addressable by k) */
  int fds[DC__MAX_SLOT_EVENTS], modes[DC__MAX_SLOT_EVENTS];
  int notready; /* (fd, direction) pairs that would be false events */
} slot_view;

typedef struct view {
  const ErlDrvEntry *e;
  int soft_busy, has_output;
  slot_view s[DC__MAX_SLOTS];
  int nfree, nlive, nvisible, ncmd, nbusy, nqueued, nevents, nnotready, nsel;
  int async_total, deferred, deferred_dead, timers;
  int nprocs_ok, nexitable, nmonitored;
} view;

static int fd_ready(int fd, int dir) {
  struct pollfd pf = {fd, dir == ERL_DRV_READ ? POLLIN : POLLOUT, 0};
  return poll(&pf, 1, 0) > 0 && (pf.revents & (pf.events | POLLERR | POLLHUP));
}

static void view_slot(const dc__runner *r, int i, view *v) {
  slot_view *sv = &v->s[i];
  memset(sv, 0, sizeof *sv);
  sv->p = dc__runner_port(r, i);
  if (!sv->p) {
    v->nfree++;
    return;
  }
  dc__port *p = sv->p;
  v->nlive++;
  sv->visible = p->state == DC__PORT_OPEN && !p->init_ack_pending;
  sv->busy = p->busy;
  sv->queued = dc__queue_size(p) > 0;
  sv->cmd_ok = sv->visible && (!p->busy || v->soft_busy);
  sv->nev = dc__runner_events(r, i, sv->fds, sv->modes);
  for (int k = 0; k < sv->nev; k++)
    for (int dir = ERL_DRV_READ; dir <= ERL_DRV_WRITE; dir <<= 1)
      if ((sv->modes[k] & dir) && !fd_ready(sv->fds[k], dir))
        sv->notready++;
  v->nvisible += sv->visible;
  v->ncmd += sv->cmd_ok;
  v->nbusy += sv->visible && sv->busy;
  v->nqueued += sv->visible && sv->queued;
  v->nsel += sv->visible && sv->nev > 0;
  v->nevents += sv->nev;
  v->nnotready += sv->notready;
}

static void view_build(const dc__runner *r, view *v) {
  int done = 0;
  memset(v, 0, sizeof *v);
  v->e = dc__g.entry;
  v->soft_busy = (v->e->driver_flags & ERL_DRV_FLAG_SOFT_BUSY) != 0;
  v->has_output = v->e->output || v->e->outputv;
  for (int i = 0; i < DC__MAX_SLOTS; i++)
    view_slot(r, i, v);
  v->async_total = dc__async_pending(&done) + done;
  v->deferred = dc__select_deferred_pending(&v->deferred_dead);
  v->timers = dc__timer_next() != UINT64_MAX;
  for (int i = 0; i < DC__MAX_SPROCS; i++) {
    if (!dc__runner_proc_ok(r, i))
      continue;
    v->nprocs_ok++;
    if (r->procs[i]) {
      v->nexitable++;
      v->nmonitored += dc__monitor_count_on(r->procs[i]) > 0;
    }
  }
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
    if (n > 0 && chance(src, pct))
      return nth_slot(v, pref, below(src, (uint64_t)n));
  }
  return nth_slot(v, pred, below(src, (uint64_t)count_slots(v, pred)));
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
static int pick_proc(dc__source *src, const dc__runner *r, int spawned) {
  int ok[DC__MAX_SPROCS], n = 0;
  for (int i = 0; i < DC__MAX_SPROCS; i++)
    if (dc__runner_proc_ok(r, i) && (!spawned || r->procs[i]))
      ok[n++] = i;
  return n ? ok[below(src, (uint64_t)n)] : -1;
}

/* Who sends a command/control/call: mostly the owner; with PROC_EXIT
 * favoured mostly other processes (which a driver may then monitor). */
static int pick_actor(dc__source *src, const dc__runner *r, const dc__port *p) {
  int owner_ok = dc__proc_alive(p->owner);
  unsigned other = favours(src, DC__STIM_PROC_EXIT) ? 60 : 15;
  if (owner_ok && !chance(src, other))
    return -1;
  int i = pick_proc(src, r, 0);
  return i >= 0 || !owner_ok ? i : -1;
}

/* ------------------------------------------------------------------------ */
/* Payloads                                                                  */

/* Sizes 0, 1, small, medium and large (up to max). */
static size_t pick_size(dc__source *src, size_t max) {
  uint64_t c = below(src, 100);
  size_t n;
  if (c < 8)
    n = 0;
  else if (c < 20)
    n = 1;
  else if (c < 35)
    n = 4; /* a 32-bit argument, as many control protocols take */
  else if (c < 60)
    n = 2 + below(src, 15);
  else if (c < 82)
    n = 17 + below(src, 240);
  else if (c < 94)
    n = 257 + below(src, 3840);
  else
    n = below(src, (uint64_t)max + 1);
  return n < max ? n : max;
}

/* Fills buf from one drawn seed: random bytes, text, one repeated byte, or
 * a small big-endian number (so "set timer N"-style commands get sane N). */
static void fill(dc__source *src, unsigned char *buf, size_t n) {
  uint64_t style = below(src, 4), rng = below(src, 1ull << 32);
  unsigned char b = (unsigned char)dc__rand(&rng);
  uint64_t x = 0;
  /* One PRNG draw serves eight bytes: payloads reach 64 KiB and this loop
   * sits in the fuzzing inner loop. */
  for (size_t i = 0; i < n; i++, x >>= 8) {
    if ((i & 7) == 0)
      x = dc__rand(&rng);
    switch (style) {
    case 0:
      buf[i] = (unsigned char)x;
      break;
    case 1:
      buf[i] = (unsigned char)(' ' + (x & 0xff) % 95);
      break;
    case 2:
      buf[i] = b;
      break;
    default:
      buf[i] = i + 2 < n ? 0 : (unsigned char)((x & 0xff) % 100);
      break;
    }
  }
}

/* Splits a command into several I/O vector pieces, with odd and empty
 * pieces; seg lengths add up to the payload. */
static void split(dc__source *src, dc__op *op) {
  if (chance(src, 50))
    return; /* one piece */
  int n = 2 + (int)below(src, DC__OP_MAX_SEGS - 1);
  size_t rem = op->len;
  for (int i = 0; i < n; i++) {
    size_t l = rem;
    if (i < n - 1) {
      uint64_t c = below(src, 4);
      l = c == 0 ? 0 : c == 1 ? (rem > 0) : below(src, (uint64_t)rem + 1);
    }
    op->seg[i] = l;
    rem -= l;
  }
  op->nsegs = n;
}

static unsigned pick_cmd(dc__source *src) {
  uint64_t c = below(src, 100);
  if (c < 50)
    return (unsigned)below(src, 5); /* where most drivers' commands are */
  if (c < 70)
    return (unsigned)below(src, 16);
  if (c < 90)
    return (unsigned)below(src, 256);
  return (unsigned)below(src, 1ull << 32);
}

/* A random term built with ei_x: atoms, integers, binaries, strings,
 * tuples and lists, nested a few levels. */
static void rand_term(dc__source *src, ei_x_buff *x, int depth) {
  static const char *const atoms[] = {"ok",    "error", "true", "false",
                                      "undefined", "drvcheck", "x"};
  unsigned char bin[32];
  uint64_t kind = below(src, depth >= 3 ? 5 : 7);
  switch (kind) {
  case 0:
    ei_x_encode_atom(x, atoms[below(src, 7)]);
    break;
  case 1:
    ei_x_encode_long(x, (long)below(src, 256));
    break;
  case 2:
    ei_x_encode_longlong(x, (long long)below(src, UINT64_MAX));
    break;
  case 3: {
    size_t n = below(src, sizeof bin + 1);
    fill(src, bin, n);
    ei_x_encode_binary(x, bin, (long)n);
    break;
  }
  case 4:
    ei_x_encode_string(x, atoms[below(src, 7)]);
    break;
  default: {
    int n = (int)below(src, 5);
    if (kind == 5)
      ei_x_encode_tuple_header(x, n);
    else if (n)
      ei_x_encode_list_header(x, n);
    for (int i = 0; i < n; i++)
      rand_term(src, x, depth + 1);
    if (kind == 6)
      ei_x_encode_empty_list(x);
    break;
  }
  }
}

/* ------------------------------------------------------------------------ */
/* Building each kind of operation                                           */

static void gen_open(dc__source *src, const dc__runner *r, const view *v,
                     dc__op *op) {
  op->slot = pick_slot(src, v, is_free, NULL, 0);
  if (!dc__runner_proc_ok(r, op->slot) || chance(src, 15))
    op->proc = pick_proc(src, r, 0);
  op->opts = (chance(src, 50) ? DC__OPT_BINARY : 0) |
             (chance(src, 20) ? DC__OPT_EOF : 0);
}

static void gen_command(dc__source *src, const dc__runner *r, const view *v,
                        dc__op *op) {
  int soft = v->soft_busy;
  op->slot = pick_slot(src, v, is_cmd_ok,
                       favours(src, DC__STIM_BUSY_SEND) ? is_busy_cmd : NULL, 85);
  const slot_view *sv = &v->s[op->slot];
  op->force = sv->busy || (soft && chance(src, 15));
  op->proc = pick_actor(src, r, sv->p);
  op->len = pick_size(src, sizeof src->buf);
  fill(src, src->buf, op->len);
  op->data = src->buf;
  split(src, op);
}

static void gen_control(dc__source *src, const dc__runner *r, const view *v,
                        dc__op *op) {
  op->slot = pick_slot(src, v, is_visible, NULL, 0);
  op->proc = pick_actor(src, r, v->s[op->slot].p);
  op->cmd = pick_cmd(src);
  op->len = pick_size(src, 1024);
  fill(src, src->buf, op->len);
  op->data = src->buf;
  if (favours(src, DC__STIM_SMALL_RLEN) && chance(src, 70))
    op->rlen = (int)below(src, 9);
  else if (chance(src, 5))
    op->rlen = (int)below(src, 64);
}

static void gen_call(dc__source *src, const dc__runner *r, const view *v,
                     dc__op *op) {
  ei_x_buff x;
  op->slot = pick_slot(src, v, is_visible, NULL, 0);
  op->proc = pick_actor(src, r, v->s[op->slot].p);
  op->cmd = pick_cmd(src);
  ei_x_new_with_version(&x);
  rand_term(src, &x, 0);
  op->len = (size_t)x.index < sizeof src->buf ? (size_t)x.index : 0;
  memcpy(src->buf, x.buff, op->len);
  ei_x_free(&x);
  op->data = src->buf;
}

/* One of the (slot, k, direction) events that exist; with FALSE_EVENT
 * favoured mostly one whose fd is not ready. */
static void gen_event(dc__source *src, const view *v, dc__op *op) {
  int want_false = favours(src, DC__STIM_FALSE_EVENT) && v->nnotready > 0 &&
                   chance(src, 85);
  uint64_t pick = below(src, (uint64_t)(want_false ? v->nnotready : v->nevents * 2));
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
  uint64_t c = below(src, 100);
  if (next != UINT64_MAX && c < 45) {
    op->ms = next > now ? next - now : 0;
    if (c < 5 && op->ms > 0)
      op->ms--; /* just before the deadline: nothing may fire */
  } else if (c < 55) {
    op->ms = 0;
  } else if (c < 70) {
    op->ms = 1;
  } else if (c < 92) {
    op->ms = below(src, 1000);
  } else {
    op->ms = 1000 + below(src, 10000000);
  }
}

static void gen_async(dc__source *src, const view *v, dc__op *op) {
  op->k = chance(src, 40) ? -1 : (int)below(src, (uint64_t)v->async_total);
}

/* A spawned process exits; with PROC_EXIT favoured mostly one a driver
 * monitors. At least 4 processes are kept able to act. */
static void gen_exit(dc__source *src, const dc__runner *r, const view *v,
                     dc__op *op) {
  static const char *const reasons[] = {"normal", "shutdown", "killed",
                                        "crash"};
  int mon[DC__MAX_SPROCS], n = 0;
  for (int i = 0; v->nmonitored && i < DC__MAX_SPROCS; i++)
    if (dc__runner_proc_ok(r, i) && r->procs[i] &&
        dc__monitor_count_on(r->procs[i]) > 0)
      mon[n++] = i;
  if (n > 0 && (favours(src, DC__STIM_PROC_EXIT) || chance(src, 50)))
    op->proc = mon[below(src, (uint64_t)n)];
  else
    op->proc = pick_proc(src, r, 1);
  snprintf(op->reason, sizeof op->reason, "%s", reasons[below(src, 4)]);
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
  op->mode = chance(src, deferred) ? DC__SS_DEFERRED : DC__SS_SYNC;
}

static void gen_close(dc__source *src, const view *v, dc__op *op) {
  slot_pred pref = NULL;
  if (favours(src, DC__STIM_CLOSE_QUEUED))
    pref = is_queued;
  else if (any_ss(src))
    pref = is_selecting; /* a close makes stop deselect its fds */
  op->slot = pick_slot(src, v, is_visible, pref, 85);
  op->bang = chance(src, 30);
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
  uint64_t pick = below(src, total);
  for (int k = 0; k < DC__OP_COUNT; k++) {
    if (pick < w[k])
      return (dc__op_kind)k;
    pick -= w[k];
  }
  return DC__OP_SETTLE; /* not reached: total > 0 (settle always weighs) */
}

static void generate(dc__source *src, const dc__runner *r, dc__op *op) {
  view v;
  unsigned w[DC__OP_COUNT];
  view_build(r, &v);
  weigh(src, &v, w);
  *op = dc__op_make(pick_kind(src, w));
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
  src->is_scenario = 0;
  src->stimuli = 0;
  src->max_ops = max_ops;
  src->produced = 0;
  src->phase = 0;
  src->settles = 0;
  src->min_backlog = UINT64_MAX;
  src->scn = NULL;
  src->pos = 0;
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
