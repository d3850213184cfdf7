/* The protocol state model: which operations are legal now.
 *
 * The model keeps no state of its own. Everything it needs is read from the
 * runner (slots, scenario processes, stop_select mode, unloaded) and from the
 * core (port state, busy, init-ack, selected fds, async jobs), so it can never
 * drift from what the mock emulator really does. The rules follow
 * protocol.md §3: what an Erlang program, the poller, the async pool and the
 * timer wheel can make ERTS do to a driver in the current situation. */
#include <string.h>

#include "internal.h"

/* Scenario process names an opener/sender/exiting process (p0..p11). */
static int proc_in_range(int i) { return i >= 0 && i < DC__MAX_SPROCS; }

int dc__runner_proc_ok(const dc__runner *r, int i) {
  if (!proc_in_range(i))
    return 0;
  return !r->procs[i] || dc__proc_alive(r->procs[i]);
}

int dc__runner_events(const dc__runner *r, int slot, int *fds, int *modes) {
  dc__port *p = dc__runner_port(r, slot);
  if (!p)
    return 0;
  return dc__select_port_fds(p, fds, modes, DC__MAX_SLOT_EVENTS);
}

static int deny(const char **why, const char *reason) {
  if (why)
    *why = reason;
  return 0;
}

/* Port of the slot as the Erlang side sees it: open_port returned it (no
 * init-ack outstanding) and it is OPEN. A CLOSING port is invisible to
 * Erlang (commands, control and call would be badarg). */
static dc__port *visible_port(const dc__runner *r, int slot, const char **why) {
  dc__port *p = dc__runner_port(r, slot);
  if (!p) {
    deny(why, "no live port in that slot");
    return NULL;
  }
  if (p->state != DC__PORT_OPEN) {
    deny(why, "the port is not open (closing)");
    return NULL;
  }
  if (p->init_ack_pending) {
    deny(why, "open_port has not returned yet (init-ack pending)");
    return NULL;
  }
  return p;
}

/* The acting process of a command/control/call must be alive: the port's
 * owner by default, else the named scenario process. */
static int actor_ok(const dc__runner *r, const dc__op *op, const dc__port *p,
                    const char **why) {
  if (op->proc < 0) {
    if (op->proc != -1)
      return deny(why, "bad process");
    if (!dc__proc_alive(p->owner))
      return deny(why, "the port owner is dead");
    return 1;
  }
  if (!dc__runner_proc_ok(r, op->proc))
    return deny(why, "the sending process has exited");
  return 1;
}

static int data_ok(const dc__op *op, const char **why) {
  if (op->len && !op->data)
    return deny(why, "payload missing");
  return 1;
}

static int legal_open(const dc__runner *r, const dc__op *op, const char **why) {
  if (op->slot < 0 || op->slot >= DC__MAX_SLOTS)
    return deny(why, "slot out of range");
  if (dc__runner_port(r, op->slot))
    return deny(why, "the slot's port is still alive");
  if (op->opts & ~(DC__OPT_BINARY | DC__OPT_EOF))
    return deny(why, "unknown open option");
  int opener = op->proc >= 0 ? op->proc : op->slot;
  if (op->proc < -1 || !dc__runner_proc_ok(r, opener))
    return deny(why, "the opening process has exited");
  return 1;
}

/* port_command: only into an OPEN port; while busy only with [force] and
 * only when the driver declares soft-busy (§3.8) — anything else would
 * suspend the sender (or raise notsup) and never reach the driver. */
static int legal_command(const dc__runner *r, const dc__op *op,
                         const char **why) {
  dc__port *p = visible_port(r, op->slot, why);
  if (!p || !actor_ok(r, op, p, why) || !data_ok(op, why))
    return 0;
  if (op->nsegs < 0 || op->nsegs > DC__OP_MAX_SEGS)
    return deny(why, "too many segments");
  size_t sum = 0;
  for (int i = 0; i < op->nsegs; i++) {
    if (op->seg[i] > op->len - sum)
      return deny(why, "segments longer than the payload");
    sum += op->seg[i];
  }
  int soft = dc__g.entry->driver_flags & ERL_DRV_FLAG_SOFT_BUSY;
  if (op->force && !soft)
    return deny(why, "[force] without ERL_DRV_FLAG_SOFT_BUSY (notsup)");
  if (p->busy && !op->force)
    return deny(why, "the port is busy: the sender would be suspended");
  return 1;
}

static int legal_control(const dc__runner *r, const dc__op *op,
                         const char **why) {
  dc__port *p = visible_port(r, op->slot, why);
  if (!p || !actor_ok(r, op, p, why) || !data_ok(op, why))
    return 0;
  if (op->rlen < -1 || op->rlen > 64)
    return deny(why, "rlen out of range (ERTS offers 64 bytes)");
  return 1;
}

/* port_call's argument is always term_to_binary output. */
static int legal_call(const dc__runner *r, const dc__op *op, const char **why) {
  size_t used = 0;
  dc__port *p = visible_port(r, op->slot, why);
  if (!p || !actor_ok(r, op, p, why) || !data_ok(op, why))
    return 0;
  if (!op->len || dc__etf_check((const char *)op->data, op->len, &used) != 0 ||
      used != op->len)
    return deny(why, "the argument is not one external-format term");
  return 1;
}

/* ready_input/ready_output only for an event the port selected, real or
 * false; also for a CLOSING port (it drains through events) and while
 * busy or waiting for its init-ack. */
static int legal_event(const dc__runner *r, const dc__op *op,
                       const char **why) {
  int fds[DC__MAX_SLOT_EVENTS], modes[DC__MAX_SLOT_EVENTS];
  dc__port *p = dc__runner_port(r, op->slot);
  if (!p || (p->state != DC__PORT_OPEN && p->state != DC__PORT_CLOSING))
    return deny(why, "no running port in that slot");
  if (op->mode != ERL_DRV_READ && op->mode != ERL_DRV_WRITE)
    return deny(why, "event mode must be in or out");
  int n = dc__runner_events(r, op->slot, fds, modes);
  if (op->k < 0 || op->k >= n)
    return deny(why, "the port did not select that many fds");
  if (!(modes[op->k] & op->mode))
    return deny(why, "the port did not select that fd for this direction");
  return 1;
}

static int legal_async(const dc__op *op, const char **why) {
  int done = 0, running = dc__async_pending(&done);
  /* The runner waits for running jobs first, so all of them count. */
  if (op->k < -1 || (op->k >= 0 && op->k >= running + done))
    return deny(why, "no such async job");
  return 1;
}

static int legal_exit(const dc__runner *r, const dc__op *op, const char **why) {
  if (!dc__runner_proc_ok(r, op->proc))
    return deny(why, "the process has already exited");
  if (!op->reason[0] || !memchr(op->reason, '\0', sizeof op->reason))
    return deny(why, "bad exit reason");
  return 1;
}

/* port_close / Port ! {Owner, close}: only an OPEN port the Erlang side
 * knows. A CLOSING port is already on its way out (ERTS ignores it). */
static int legal_close(const dc__runner *r, const dc__op *op,
                       const char **why) {
  return visible_port(r, op->slot, why) != NULL;
}

/* erl_ddll:unload_driver finishes the driver only once no port is left. */
static int legal_unload(const char **why) {
  if (dc__port_next_live(0))
    return deny(why, "ports are still alive (close them first)");
  return 1;
}

int dc__op_legal(const dc__runner *r, const dc__op *op, const char **why) {
  if (why)
    *why = "";
  if (r->unloaded || !dc__g.loaded || !dc__g.entry)
    return deny(why, "the driver is not loaded");
  switch (op->kind) {
  case DC__OP_OPEN:
    return legal_open(r, op, why);
  case DC__OP_COMMAND:
    return legal_command(r, op, why);
  case DC__OP_CONTROL:
    return legal_control(r, op, why);
  case DC__OP_CALL:
    return legal_call(r, op, why);
  case DC__OP_EVENT:
    return legal_event(r, op, why);
  case DC__OP_POLL:
  case DC__OP_ADVANCE:
  case DC__OP_SETTLE:
  case DC__OP_SSRUN:
    return 1;
  case DC__OP_ASYNC:
    return legal_async(op, why);
  case DC__OP_EXIT:
    return legal_exit(r, op, why);
  case DC__OP_SSMODE:
    if (op->mode != DC__SS_SYNC && op->mode != DC__SS_DEFERRED)
      return deny(why, "unknown stop_select mode");
    return 1;
  case DC__OP_CLOSE:
    return legal_close(r, op, why);
  case DC__OP_UNLOAD:
    return legal_unload(why);
  default:
    return deny(why, "unknown operation");
  }
}
