/* The erl_driver functions that act on a port as a whole: failure/exit,
 * busy state and flags, busy message-queue limits, init_ack, os pid,
 * timeslice, driver_create_port and driver_lock_driver (protocol.md §1 rows
 * 1, 11, 13-17, 28-30, 92, 99, 110-111; §3.7-3.9, §3.12).
 *
 * Each entry is thin: validate the handle (dc__port_api reports
 * ctx.dead_port), then emulate. No memory is allocated or handed out here. */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define SITE __builtin_return_address(0)

/* io.c driver_failure_term: the common path of every driver_failure* and
 * driver_exit. atom NULL means the integer reason num. */
static int failure(dc__port *p, const char *atom, long num, int eof) {
  /* A pending USE_INIT_ACK open first succeeds, then sees the port die. */
  if (p->init_ack_pending) {
    p->init_ack_pending = 0;
    p->init_acked = 1;
    dc__port_open_reply(p, NULL);
  }
  int st = p->state;
  if (st == DC__PORT_CLOSING) {
    dc__port_terminate(p, NULL); /* stop now, the rest of the queue dropped */
    return 0;
  }
  if (eof && (p->opts & DC__OPT_EOF)) {
    dc__port_send_tag(p, "eof"); /* the port stays open */
    return 0;
  }
  if (st == DC__PORT_EXITING)
    return 0; /* inside stop: the exit is already under way */
  /* Queued data is discarded, so the exit terminates at once and stop runs
   * synchronously inside this call (OTP 25 run, §3.7). */
  dc__queue_clear(p);
  dc__port_exit_ex(p, eof ? "normal" : atom, num, 0);
  return 0;
}

int driver_failure_eof(ErlDrvPort port) {
  dc__port *p = DC__API_PORT(driver_failure_eof, port);
  return p ? failure(p, "normal", 0, 1) : -1;
}

int driver_failure_atom(ErlDrvPort port, char *string) {
  dc__port *p = DC__API_PORT(driver_failure_atom, port);
  return p ? failure(p, string ? string : "", 0, 0) : -1;
}

int driver_failure_posix(ErlDrvPort port, int error) {
  dc__port *p = DC__API_PORT(driver_failure_posix, port);
  return p ? failure(p, erl_errno_id(error), 0, 0) : -1;
}

int driver_failure(ErlDrvPort port, int error) {
  dc__port *p = DC__API_PORT(driver_failure, port);
  if (!p)
    return -1;
  /* driver_failure(port, 0) is driver_failure_eof. */
  return error == 0 ? failure(p, "normal", 0, 1) : failure(p, NULL, error, 0);
}

int driver_exit(ErlDrvPort port, int err) {
  dc__port *p = DC__API_PORT(driver_exit, port);
  if (!p)
    return -1;
  p->owner_linked = 0; /* unlinked first: the owner receives nothing */
  return failure(p, err == 0 ? "normal" : erl_errno_id(err), 0, 0);
}

void set_busy_port(ErlDrvPort port, int on) {
  dc__port *p = DC__API_PORT(set_busy_port, port);
  if (p)
    p->busy = on != 0;
}

void set_port_control_flags(ErlDrvPort port, int flags) {
  dc__port *p = DC__API_PORT(set_port_control_flags, port);
  if (p)
    p->control_flags = flags;
}

int get_port_flags(ErlDrvPort port) {
  dc__port *p = DC__API_PORT(get_port_flags, port);
  return p ? p->flags : 0; /* flags are 0 inside start (§3.2) */
}

/* erl_port_task.c erl_drv_busy_msgq_limits: 0 reads, DISABLED (either
 * value) switches the feature off for good and writes the inputs back. */
void erl_drv_busy_msgq_limits(ErlDrvPort port, ErlDrvSizeT *low,
                              ErlDrvSizeT *high) {
  dc__port *p = DC__API_PORT(erl_drv_busy_msgq_limits, port);
  if (!p || p->msgq_low == ERL_DRV_BUSY_MSGQ_DISABLED) {
    if (low)
      *low = ERL_DRV_BUSY_MSGQ_DISABLED;
    if (high)
      *high = ERL_DRV_BUSY_MSGQ_DISABLED;
    return;
  }
  ErlDrvSizeT lo = low ? *low : 0, hi = high ? *high : 0;
  if (lo == ERL_DRV_BUSY_MSGQ_DISABLED || hi == ERL_DRV_BUSY_MSGQ_DISABLED) {
    p->msgq_low = p->msgq_high = ERL_DRV_BUSY_MSGQ_DISABLED;
    return; /* the outputs keep the inputs; the documented both-DISABLED
               is not what ERTS writes back */
  }
  if (lo && hi && lo > hi)
    dc__flag(DC_RULE_BUSY_MSGQ_LIMITS, "erl_drv_busy_msgq_limits",
             "low limit %zu above high limit %zu (the emulator lowers low)",
             (size_t)lo, (size_t)hi);
  if (!lo)
    lo = p->msgq_low;
  else {
    if (p->msgq_high < lo)
      p->msgq_high = lo;
    p->msgq_low = lo;
  }
  if (!hi)
    hi = p->msgq_high;
  else {
    if (lo > hi)
      p->msgq_low = lo = hi;
    p->msgq_high = hi;
  }
  if (low)
    *low = lo;
  if (high)
    *high = hi;
}

/* io.c erl_drv_init_ack (§3.12). */
void erl_drv_init_ack(ErlDrvPort port, ErlDrvData res) {
  dc__port *p = DC__API_PORT(erl_drv_init_ack, port);
  if (!p)
    return;
  ErlDrvEntry *e = dc__g.entry;
  if (!(e->driver_flags & ERL_DRV_FLAG_USE_INIT_ACK)) {
    dc__flag(DC_RULE_INIT_ACK_UNEXPECTED, "erl_drv_init_ack",
             "driver has no ERL_DRV_FLAG_USE_INIT_ACK; the call is ignored");
    return;
  }
  if (p->state == DC__PORT_STARTING) {
    dc__flag(DC_RULE_INIT_ACK_IN_START, "erl_drv_init_ack",
             "called inside start: ignored, open_port never returns");
    return;
  }
  if (!p->init_ack_pending) {
    dc__flag(DC_RULE_INIT_ACK_UNEXPECTED, "erl_drv_init_ack",
             "port already acknowledged; the call is ignored");
    return;
  }
  p->init_ack_pending = 0;
  p->init_acked = 1;
  const char *err = NULL;
  if (res == ERL_DRV_ERROR_GENERAL)
    err = "einval";
  else if (res == ERL_DRV_ERROR_ERRNO)
    err = erl_errno_id(errno);
  else if (res == ERL_DRV_ERROR_BADARG)
    err = "badarg";
  if (!err) {
    p->drv_data = res; /* replaces start()'s value for later callbacks */
    dc__port_open_reply(p, NULL);
    return;
  }
  /* open_port raises; the opener is unlinked and the port closes with
   * reason normal, stop running now with the old drv_data. */
  p->owner_linked = 0;
  dc__port_open_reply(p, err);
  failure(p, "normal", 0, 0);
}

void erl_drv_set_os_pid(ErlDrvPort port, ErlDrvSInt pid) {
  dc__port *p = DC__API_PORT(erl_drv_set_os_pid, port);
  if (p)
    p->os_pid = pid;
}

/* erl_port_task.c: usage accumulates per port task; 1 once a full slice is
 * used (and it stays used until the next callback). */
int erl_drv_consume_timeslice(ErlDrvPort port, int percent) {
  dc__port *p = DC__API_PORT(erl_drv_consume_timeslice, port);
  if (!p)
    return -1;
  if (percent < 1)
    percent = 1;
  else if (percent > 100)
    percent = 100;
  dc__ctx_consumed(percent); /* deducted from the cb.lengthy measurement */
  p->timeslice_used += percent;
  if (p->timeslice_used < 100)
    return 0;
  p->timeslice_used = 100;
  return 1;
}

/* A new port of the same driver, owned by and linked to `connected`, with
 * drv_data given directly: start is not called (§1 row 92). */
ErlDrvPort driver_create_port(ErlDrvPort creator, ErlDrvTermData connected,
                              char *name, ErlDrvData drv_data) {
  dc__port *p = DC__API_PORT(driver_create_port, creator);
  if (!p || dc__tls.kind != DC__THR_EMU || !dc__g.loaded ||
      !dc__proc_alive(connected))
    return (ErlDrvPort)-1;
  dc__port *np = dc__port_alloc(name, connected, 0);
  if (!np)
    return (ErlDrvPort)-1;
  np->drv_data = drv_data;
  np->state = DC__PORT_OPEN;
  dc__ctx_port_created(np); /* usable by this callback until it returns */
  return dc__port_handle(np);
}

int driver_lock_driver(ErlDrvPort port) {
  dc__port *p = DC__API_PORT(driver_lock_driver, port);
  if (!p || dc__g.is_static)
    return -1; /* a linked-in driver has no DE_Handle to pin */
  dc__g.locked_driver = 1;
  return 0;
}
