/* Operations: storage in a scenario, their one-line text form, and the
 * runner that executes them against the mock emulator. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "../loader/internal.h"

void dc__runner_init(dc__runner *r) { memset(r, 0, sizeof *r); }

/* Scenario process i, spawned on first use. */
static ErlDrvTermData proc_of(dc__runner *r, int i) {
  char name[8];
  if (i < 0 || i >= DC__MAX_SPROCS)
    return 0;
  if (!r->procs[i]) {
    snprintf(name, sizeof name, "p%d", i);
    r->procs[i] = dc__proc_spawn(name);
  }
  return r->procs[i];
}

/* The acting process: the op's proc, else the port's owner. */
static ErlDrvTermData actor(dc__runner *r, const dc__op *op, dc__port *p) {
  return op->proc >= 0 ? proc_of(r, op->proc) : p->owner;
}

int dc__op_legal(const dc__runner *r, const dc__op *op, const char **why) {
  (void)r;
  (void)op;
  if (why)
    *why = "";
  return 1;
}

static dc__port *slot_port(dc__runner *r, int slot) {
  if (slot < 0 || slot >= DC__MAX_SLOTS || !r->slots[slot])
    return NULL;
  return dc__port_live(dc__port_handle(r->slots[slot]));
}

static int exec_command(dc__runner *r, const dc__op *op) {
  SysIOVec segs[DC__OP_MAX_SEGS + 1];
  int n = 0;
  size_t off = 0;
  dc__port *p = slot_port(r, op->slot);
  if (!p)
    return DC_ESTATE;
  for (int i = 0; i < op->nsegs && off < op->len; i++) {
    size_t l = op->seg[i] < op->len - off ? op->seg[i] : op->len - off;
    segs[n].iov_base = (char *)op->data + off;
    segs[n++].iov_len = l;
    off += l;
  }
  if (off < op->len || n == 0) {
    segs[n].iov_base = (char *)(op->data ? op->data + off : NULL);
    segs[n++].iov_len = op->len - off;
  }
  return dc__port_command(p, actor(r, op, p), segs, n, op->force);
}

/* Runs timers, real events and async completions until a round does
 * nothing (bounded: a driver may re-arm a timer forever). */
static void settle(void) {
  for (int round = 0; round < 64; round++) {
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

int dc__runner_exec(dc__runner *r, const dc__op *op) {
  dc__port *p;
  switch (op->kind) {
  case DC__OP_OPEN: {
    if (op->slot < 0 || op->slot >= DC__MAX_SLOTS || slot_port(r, op->slot))
      return DC_ESTATE;
    dc__open_result res = dc__port_open(
        dc__g.driver_name, op->opts,
        proc_of(r, op->proc >= 0 ? op->proc : op->slot));
    r->slots[op->slot] = res.port;
    return 0;
  }
  case DC__OP_COMMAND:
    return exec_command(r, op);
  case DC__OP_CONTROL:
    if (!(p = slot_port(r, op->slot)))
      return DC_ESTATE;
    return dc__port_control_rlen(p, actor(r, op, p), op->cmd,
                                 (const char *)op->data, op->len,
                                 op->rlen >= 0 ? (size_t)op->rlen : 64);
  case DC__OP_CALL:
    if (!(p = slot_port(r, op->slot)))
      return DC_ESTATE;
    return dc__port_call(p, actor(r, op, p), op->cmd, (const char *)op->data,
                         op->len);
  case DC__OP_ADVANCE:
    dc__timer_advance(op->ms);
    return 0;
  case DC__OP_POLL:
    dc__select_poll(0);
    return 0;
  case DC__OP_ASYNC:
    dc__async_wait_idle();
    dc__async_deliver(-1);
    return 0;
  case DC__OP_SETTLE:
    settle();
    return 0;
  case DC__OP_CLOSE:
    if (!(p = slot_port(r, op->slot)))
      return DC_ESTATE;
    return dc__port_exit(p, "normal", op->bang);
  case DC__OP_UNLOAD:
    return dc__unload_driver();
  default:
    return DC_EINVAL;
  }
}
