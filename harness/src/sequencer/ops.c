/* Operations: storage in a scenario, their one-line text form, and the
 * runner that executes them against the mock emulator. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "../loader/internal.h"

static const char *const op_names[DC__OP_COUNT] = {
    "open", "command", "control", "call",  "advance",
    "poll", "async",   "settle",  "close", "unload"};

const char *dc__op_name(dc__op_kind k) {
  return (unsigned)k < DC__OP_COUNT ? op_names[k] : "?";
}

void dc__scenario_init(dc__scenario *s) { memset(s, 0, sizeof *s); }

void dc__scenario_free(dc__scenario *s) {
  for (size_t i = 0; i < s->nblobs; i++)
    free(s->blobs[i]);
  free(s->blobs);
  free(s->ops);
  memset(s, 0, sizeof *s);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap)
    return 0;
  size_t ncap = *cap ? *cap * 2 : 16;
  while (ncap < need)
    ncap *= 2;
  void *np = realloc(*p, ncap * elem);
  if (!np)
    return DC_ENOMEM;
  *p = np;
  *cap = ncap;
  return 0;
}

int dc__scenario_add(dc__scenario *s, const dc__op *op) {
  dc__op copy = *op;
  if (grow((void **)&s->ops, &s->cap, s->n + 1, sizeof *s->ops) ||
      grow((void **)&s->blobs, &s->capblobs, s->nblobs + 1, sizeof *s->blobs))
    return DC_ENOMEM;
  if (op->len) {
    unsigned char *b = malloc(op->len);
    if (!b)
      return DC_ENOMEM;
    memcpy(b, op->data, op->len);
    s->blobs[s->nblobs++] = b;
    copy.data = b;
  } else {
    copy.data = NULL;
  }
  s->ops[s->n++] = copy;
  return 0;
}

/* Appends printf output at *off; returns -1 once the buffer is full. */
static int put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put(char *buf, size_t cap, size_t *off, const char *fmt, ...) {
  va_list ap;
  if (*off >= cap)
    return -1;
  va_start(ap, fmt);
  int n = vsnprintf(buf + *off, cap - *off, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= cap - *off)
    return -1;
  *off += (size_t)n;
  return 0;
}

/* Payload as hex: exact, and readable enough next to the trace's terms. */
static int put_hex(char *buf, size_t cap, size_t *off, const dc__op *op) {
  if (put(buf, cap, off, " %s", op->len ? "" : "-"))
    return -1;
  for (size_t i = 0; i < op->len; i++)
    if (put(buf, cap, off, "%02x", op->data[i]))
      return -1;
  return 0;
}

int dc__op_format(const dc__op *op, char *buf, size_t cap) {
  size_t off = 0;
  int rc = put(buf, cap, &off, "%s", dc__op_name(op->kind));
  switch (op->kind) {
  case DC__OP_OPEN:
    rc |= put(buf, cap, &off, " %d %s%s", op->slot,
              (op->opts & DC__OPT_BINARY) ? "binary" : "list",
              (op->opts & DC__OPT_EOF) ? " eof" : "");
    break;
  case DC__OP_COMMAND:
    rc |= put(buf, cap, &off, " %d", op->slot);
    rc |= put_hex(buf, cap, &off, op);
    for (int i = 0; i < op->nsegs; i++)
      rc |= put(buf, cap, &off, "%s%zu", i ? "," : " split=", op->seg[i]);
    if (op->force)
      rc |= put(buf, cap, &off, " force");
    break;
  case DC__OP_CONTROL:
  case DC__OP_CALL:
    rc |= put(buf, cap, &off, " %d %u", op->slot, op->cmd);
    rc |= put_hex(buf, cap, &off, op);
    break;
  case DC__OP_ADVANCE:
    rc |= put(buf, cap, &off, " %llu", (unsigned long long)op->ms);
    break;
  case DC__OP_CLOSE:
    rc |= put(buf, cap, &off, " %d", op->slot);
    break;
  default:
    break;
  }
  return rc ? DC_EINVAL : 0;
}

void dc__runner_init(dc__runner *r) {
  memset(r, 0, sizeof *r);
  r->owner = dc__proc_spawn("owner");
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
  return dc__port_command(p, r->owner, segs, n, op->force);
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
    dc__open_result res = dc__port_open(dc__g.driver_name, op->opts, r->owner);
    r->slots[op->slot] = res.port;
    return 0;
  }
  case DC__OP_COMMAND:
    return exec_command(r, op);
  case DC__OP_CONTROL:
    if (!(p = slot_port(r, op->slot)))
      return DC_ESTATE;
    return dc__port_control(p, r->owner, op->cmd, (const char *)op->data,
                            op->len);
  case DC__OP_CALL:
    if (!(p = slot_port(r, op->slot)))
      return DC_ESTATE;
    return dc__port_call(p, r->owner, op->cmd, (const char *)op->data,
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
    return dc__port_exit(p, "normal", 0);
  case DC__OP_UNLOAD:
    return dc__unload_driver();
  default:
    return DC_EINVAL;
  }
}
