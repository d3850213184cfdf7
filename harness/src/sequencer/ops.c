/* The runner: executes one operation against the mock emulator, after the
 * state model (model.c) said it is legal now. While an operation realises a
 * targeted stimulus (a false event, a forced send while busy, a deferred
 * stop_select...), dc__tls.stimulus names it so findings carry it, and the
 * stimulus is recorded in dc__stimuli_applied for the run summary. */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "../loader/internal.h"
#include "internal.h"

#define CONTROL_RLEN 64 /* what ERTS offers port_control */
#define SETTLE_ROUNDS 256

_Atomic unsigned long dc__ss_mode_changes;

/* Every stop_select mode change goes through here (see internal.h). */
static void set_ss_mode(dc__runner *r, int mode) {
  r->ssmode = mode;
  dc__select_set_mode((dc__stop_select_mode)mode);
  atomic_fetch_add(&dc__ss_mode_changes, 1);
}

void dc__runner_init(dc__runner *r) {
  memset(r, 0, sizeof *r);
  /* The core starts every run in the usual synchronous mode; keep the
   * runner's view and the core in step even when a runner is reused. */
  set_ss_mode(r, DC__SS_SYNC);
}

/* Scenario process i, spawned on first use (so pid numbering follows the
 * order of first use and is reproducible). */
static ErlDrvTermData proc_of(dc__runner *r, int i) {
  _Static_assert(DC__MAX_SPROCS == 12, "one name per scenario process");
  static const char *const names[DC__MAX_SPROCS] = {
      "p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "p10", "p11"};
  if (i < 0 || i >= DC__MAX_SPROCS)
    return 0;
  if (!r->procs[i])
    r->procs[i] = dc__proc_spawn(names[i]);
  return r->procs[i];
}

/* The acting process: the op's proc, else the port's owner. */
static ErlDrvTermData actor(dc__runner *r, const dc__op *op, dc__port *p) {
  return op->proc >= 0 ? proc_of(r, op->proc) : p->owner;
}

/* Names the stimulus this operation realises and records it. */
static void stimulus(dc__stimulus s) {
  dc__tls.stimulus = dc__stimulus_name(s);
  atomic_fetch_or(&dc__stimuli_applied, 1u << s);
}

static void mark(dc__stimulus s) {
  atomic_fetch_or(&dc__stimuli_applied, 1u << s);
}

/* Map of an op's result to the runner's: an Erlang-side error (badarg,
 * notsup) is an observable result recorded in the trace, not a runner error. */
static int result(int rc) { return rc == DC_ENOMEM ? DC_ENOMEM : 0; }

static int exec_open(dc__runner *r, const dc__op *op) {
  int opener = op->proc >= 0 ? op->proc : op->slot;
  dc__open_result res =
      dc__port_open(dc__g.driver_name, op->opts, proc_of(r, opener));
  r->slots[op->slot] = res.port; /* NULL when start failed */
  return 0;
}

/* The I/O vector of a command: seg[0..nsegs) as given (zero-length pieces
 * included), then whatever of the payload they leave as one more piece. */
static int exec_command(dc__runner *r, const dc__op *op) {
  SysIOVec segs[DC__OP_MAX_SEGS + 1];
  int n = 0;
  size_t off = 0;
  dc__port *p = dc__runner_port(r, op->slot);
  for (int i = 0; i < op->nsegs; i++) {
    segs[n].iov_base = (char *)(op->data ? op->data + off : NULL);
    segs[n++].iov_len = op->seg[i];
    off += op->seg[i];
  }
  if (off < op->len || n == 0) {
    segs[n].iov_base = (char *)(op->data ? op->data + off : NULL);
    segs[n++].iov_len = op->len - off;
  }
  if (op->force && p->busy)
    stimulus(DC__STIM_BUSY_SEND);
  return result(dc__port_command(p, actor(r, op, p), segs, n, op->force));
}

static int exec_control(dc__runner *r, const dc__op *op) {
  dc__port *p = dc__runner_port(r, op->slot);
  size_t rlen = op->rlen >= 0 ? (size_t)op->rlen : CONTROL_RLEN;
  if (rlen < CONTROL_RLEN)
    stimulus(DC__STIM_SMALL_RLEN);
  return result(dc__port_control_rlen(p, actor(r, op, p), op->cmd,
                                      (const char *)op->data, op->len, rlen));
}

static int exec_call(dc__runner *r, const dc__op *op) {
  dc__port *p = dc__runner_port(r, op->slot);
  return result(dc__port_call(p, actor(r, op, p), op->cmd,
                              (const char *)op->data, op->len));
}

/* The k-th selected fd of the slot's port. poll() tells whether the fd is
 * ready for the direction; if it is not, this is a false event. */
static int exec_event(dc__runner *r, const dc__op *op) {
  int fds[DC__MAX_SLOT_EVENTS], modes[DC__MAX_SLOT_EVENTS];
  dc__runner_events(r, op->slot, fds, modes);
  int fd = fds[op->k];
  struct pollfd pf = {fd, op->mode == ERL_DRV_READ ? POLLIN : POLLOUT, 0};
  int ready =
      poll(&pf, 1, 0) > 0 && (pf.revents & (pf.events | POLLERR | POLLHUP));
  if (!ready)
    stimulus(DC__STIM_FALSE_EVENT);
  dc__select_fire(fd, op->mode);
  return 0;
}

static int exec_async(const dc__op *op) {
  dc__async_wait_idle(); /* completion order is then a pure choice */
  if (op->k < 0)
    dc__async_deliver(-1);
  else
    dc__async_deliver_one((size_t)op->k);
  return 0;
}

static int exec_exit(dc__runner *r, const dc__op *op) {
  ErlDrvTermData pid = proc_of(r, op->proc);
  if (dc__monitor_count_on(pid) > 0)
    stimulus(DC__STIM_PROC_EXIT);
  dc__proc_exit(pid, op->reason);
  return 0;
}

/* Deferred stop_select calls run on another thread with no lock held; when
 * the port that asked for them has terminated meanwhile, this is the
 * "after the port stopped" timing. */
static int exec_ssrun(void) {
  int dead = 0, due = dc__select_deferred_pending(&dead);
  if (due > 0)
    stimulus(dead > 0 ? DC__STIM_SS_AFTER_STOP : DC__STIM_SS_DEFERRED);
  int ran = dc__select_run_deferred();
  if (ran > 0)
    mark(DC__STIM_SS_DEFERRED);
  return 0;
}

/* Runs timers, real events and async completions until a round does
 * nothing (bounded: a driver may re-arm a timer forever). */
static void settle(void) {
  for (int round = 0; round < SETTLE_ROUNDS; round++) {
    int did = dc__select_poll(0);
    dc__async_wait_idle();
    did += dc__async_deliver(-1);
    uint64_t next = dc__timer_next();
    if (next != UINT64_MAX) {
      uint64_t now = dc__g.now_ms;
      did += dc__timer_advance(next > now ? next - now : 0);
    }
    if (!did)
      return;
  }
}

static int exec_close(dc__runner *r, const dc__op *op) {
  dc__port *p = dc__runner_port(r, op->slot);
  /* A port left busy for good is only visible while it is still open:
   * closing clears busy. */
  dc__lifecycle_check_busy(p);
  if (dc__queue_size(p) > 0)
    stimulus(DC__STIM_CLOSE_QUEUED); /* flush, then drain, then stop */
  else if (r->ssmode == DC__SS_SYNC && dc__select_count(p) > 0)
    /* stop deselects now: stop_select runs inside driver_select. Only
     * named here; it counts as applied once a stop_select really ran. */
    dc__tls.stimulus = dc__stimulus_name(DC__STIM_SS_SYNC);
  return result(dc__port_exit(p, "normal", op->bang));
}

static int exec_unload(dc__runner *r) {
  r->unloaded = 1;
  return result(dc__unload_driver());
}

static int dispatch(dc__runner *r, const dc__op *op) {
  switch (op->kind) {
  case DC__OP_OPEN:
    return exec_open(r, op);
  case DC__OP_COMMAND:
    return exec_command(r, op);
  case DC__OP_CONTROL:
    return exec_control(r, op);
  case DC__OP_CALL:
    return exec_call(r, op);
  case DC__OP_EVENT:
    return exec_event(r, op);
  case DC__OP_POLL:
    dc__select_poll(0);
    return 0;
  case DC__OP_ADVANCE:
    dc__timer_advance(op->ms);
    return 0;
  case DC__OP_ASYNC:
    return exec_async(op);
  case DC__OP_EXIT:
    return exec_exit(r, op);
  case DC__OP_SSMODE:
    set_ss_mode(r, op->mode);
    return 0;
  case DC__OP_SSRUN:
    return exec_ssrun();
  case DC__OP_SETTLE:
    settle();
    return 0;
  case DC__OP_CLOSE:
    return exec_close(r, op);
  case DC__OP_UNLOAD:
    return exec_unload(r);
  default:
    return DC_EINVAL;
  }
}

int dc__runner_exec(dc__runner *r, const dc__op *op) {
  if (!dc__op_legal(r, op, NULL))
    return DC_ESTATE;
  const char *prev = dc__tls.stimulus;
  unsigned long ss = atomic_load(&dc__g.cb_count[DC__CB_STOP_SELECT]);
  int rc = dispatch(r, op);
  /* A stop_select that ran inside this operation (not from the deferred
   * queue) ran synchronously inside driver_select. */
  if (op->kind != DC__OP_SSRUN && op->kind != DC__OP_UNLOAD &&
      atomic_load(&dc__g.cb_count[DC__CB_STOP_SELECT]) != ss)
    mark(DC__STIM_SS_SYNC);
  dc__tls.stimulus = prev;
  r->ops_run++;
  return rc;
}
