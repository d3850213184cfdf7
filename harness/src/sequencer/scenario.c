/* Scenario text: the one-line form of every operation and its parser. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const op_names[DC__OP_COUNT] = {
    "open", "command", "control", "call",  "event",   "poll",    "advance",
    "async", "exit", "stop_select", "stop_select", "settle", "close", "unload"};

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

