/* Scenario text: the one-line form of every operation, its parser, and
 * scenario files (docs/scenario.md).
 *
 * The format is the contract between a run and its replay, so the
 * formatter writes every field that differs from its default and the parser
 * accepts exactly what the formatter writes (plus comments, blank lines,
 * CRLF, quoted payloads and options in any order). The parser will be fuzzed:
 * it works on (pointer, length) tokens, never on NUL-terminated text, and
 * validates every token against the limits in internal.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PAYLOAD_MAX (1u << 20) /* bytes of one payload */
#define RLEN_MAX (1u << 20)
#define MS_MAX 1000000000000ull /* advance: 10^12 ms, no clock overflow */
#define ASYNC_K_MAX 65535
#define TERM_COMMENT_MAX 200 /* printed call term in the trailing comment */
#define HEADER "drvcheck-scenario"

static const char *const op_names[DC__OP_COUNT] = {
    "open",        "command", "control", "call",  "event",
    "poll",        "advance", "async",   "exit",  "stop_select",
    "stop_select", "settle",  "close",   "unload"};

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

/* ------------------------------------------------------------------------ */
/* Formatting                                                                */

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

static int put_char(char *buf, size_t cap, size_t *off, char c) {
  if (*off + 1 >= cap)
    return -1;
  buf[(*off)++] = c;
  buf[*off] = '\0';
  return 0;
}

/* Text payloads (printable ASCII plus \n \t \r) are written quoted so a
 * reader sees "hello\n"; anything else as hex, which is exact. */
static int is_text(const unsigned char *d, size_t len) {
  for (size_t i = 0; i < len; i++)
    if ((d[i] < 0x20 || d[i] > 0x7e) && d[i] != '\n' && d[i] != '\t' &&
        d[i] != '\r')
      return 0;
  return len > 0;
}

static int put_payload(char *buf, size_t cap, size_t *off,
                       const unsigned char *d, size_t len, int allow_text) {
  static const char hexd[] = "0123456789abcdef";
  if (put_char(buf, cap, off, ' '))
    return -1;
  if (len == 0)
    return put_char(buf, cap, off, '-');
  if (!allow_text || !is_text(d, len)) {
    for (size_t i = 0; i < len; i++)
      if (put_char(buf, cap, off, hexd[d[i] >> 4]) ||
          put_char(buf, cap, off, hexd[d[i] & 15]))
        return -1;
    return 0;
  }
  int rc = put_char(buf, cap, off, '"');
  for (size_t i = 0; i < len && !rc; i++) {
    char e = d[i] == '\n'                    ? 'n'
             : d[i] == '\t'                  ? 't'
             : d[i] == '\r'                  ? 'r'
             : (d[i] == '"' || d[i] == '\\') ? (char)d[i]
                                             : 0;
    if (e)
      rc = put_char(buf, cap, off, '\\') || put_char(buf, cap, off, e);
    else
      rc = put_char(buf, cap, off, (char)d[i]);
  }
  return rc || put_char(buf, cap, off, '"');
}

static int put_proc(char *buf, size_t cap, size_t *off, const char *key,
                    int proc) {
  return proc >= 0 ? put(buf, cap, off, " %s=p%d", key, proc) : 0;
}

/* " # <term>" after a call: the argument as Erlang prints it. The parser
 * ignores it; control characters are masked so it stays on one line. */
static int put_term_comment(char *buf, size_t cap, size_t *off,
                            const dc__op *op) {
  char term[TERM_COMMENT_MAX];
  if (!op->len ||
      dc__etf_print((const char *)op->data, op->len, term, sizeof term) != 0)
    return 0;
  for (char *c = term; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f)
      *c = '?';
  return put(buf, cap, off, " # %s", term);
}

static int format_command(const dc__op *op, char *buf, size_t cap,
                          size_t *off) {
  if (op->nsegs < 0 || op->nsegs > DC__OP_MAX_SEGS)
    return -1;
  int rc = put(buf, cap, off, " %d", op->slot);
  rc |= put_payload(buf, cap, off, op->data, op->len, 1);
  for (int i = 0; i < op->nsegs; i++)
    rc |= put(buf, cap, off, "%s%zu", i ? "," : " split=", op->seg[i]);
  if (op->force)
    rc |= put(buf, cap, off, " force");
  return rc | put_proc(buf, cap, off, "from", op->proc);
}

static int format_exit(const dc__op *op, char *buf, size_t cap, size_t *off) {
  size_t n = strnlen(op->reason, DC__REASON_MAX);
  if (n == DC__REASON_MAX || op->proc < 0 || op->proc >= DC__MAX_SPROCS)
    return -1; /* no text form */
  int rc = put(buf, cap, off, " p%d", op->proc);
  return rc | (n ? put(buf, cap, off, " %s", op->reason) : 0);
}

int dc__op_format(const dc__op *op, char *buf, size_t cap) {
  size_t off = 0;
  int rc;
  if (!buf || cap == 0 || (unsigned)op->kind >= DC__OP_COUNT)
    return DC_EINVAL;
  buf[0] = '\0';
  rc = put(buf, cap, &off, "%s", dc__op_name(op->kind));
  switch (op->kind) {
  case DC__OP_OPEN:
    rc |= put(buf, cap, &off, " %d %s%s", op->slot,
              (op->opts & DC__OPT_BINARY) ? "binary" : "list",
              (op->opts & DC__OPT_EOF) ? " eof" : "");
    rc |= put_proc(buf, cap, &off, "by", op->proc);
    break;
  case DC__OP_COMMAND:
    rc |= format_command(op, buf, cap, &off);
    break;
  case DC__OP_CONTROL:
    rc |= put(buf, cap, &off, " %d %u", op->slot, op->cmd);
    rc |= put_payload(buf, cap, &off, op->data, op->len, 1);
    if (op->rlen >= 0)
      rc |= put(buf, cap, &off, " rlen=%d", op->rlen);
    rc |= put_proc(buf, cap, &off, "from", op->proc);
    break;
  case DC__OP_CALL:
    rc |= put(buf, cap, &off, " %d %u", op->slot, op->cmd);
    rc |= put_payload(buf, cap, &off, op->data, op->len, 0);
    rc |= put_proc(buf, cap, &off, "from", op->proc);
    rc |= put_term_comment(buf, cap, &off, op);
    break;
  case DC__OP_EVENT:
    if (op->mode != ERL_DRV_READ && op->mode != ERL_DRV_WRITE)
      return DC_EINVAL;
    rc |= put(buf, cap, &off, " %d %d %s", op->slot, op->k,
              op->mode == ERL_DRV_READ ? "in" : "out");
    break;
  case DC__OP_ADVANCE:
    rc |= put(buf, cap, &off, " %llu", (unsigned long long)op->ms);
    break;
  case DC__OP_ASYNC:
    rc |= op->k < 0 ? put(buf, cap, &off, " all")
                    : put(buf, cap, &off, " %d", op->k);
    break;
  case DC__OP_EXIT:
    rc |= format_exit(op, buf, cap, &off);
    break;
  case DC__OP_SSMODE:
    if (op->mode != DC__SS_SYNC && op->mode != DC__SS_DEFERRED)
      return DC_EINVAL;
    rc |= put(buf, cap, &off, op->mode == DC__SS_SYNC ? " sync" : " deferred");
    break;
  case DC__OP_SSRUN:
    rc |= put(buf, cap, &off, " run");
    break;
  case DC__OP_CLOSE:
    rc |= put(buf, cap, &off, " %d%s", op->slot, op->bang ? " bang" : "");
    break;
  default: /* poll, settle, unload: no arguments */
    break;
  }
  return rc ? DC_EINVAL : 0;
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                   */

typedef struct tok {
  const char *p;
  size_t n;
} tok;

typedef struct pctx {
  const char *fname;
  size_t line;
  const char *p, *end; /* rest of the current line */
  char *err;
  size_t errcap;
  unsigned char *buf; /* decoded payload of the current line */
  size_t bufcap;
} pctx;

/* Writes "<fname>:<line>: expected <what>, got '<token>'" (the token
 * shortened and with unprintable bytes masked: it may be fuzz garbage). */
static int fail(pctx *c, const char *what, tok t) {
  char shown[48];
  size_t n = t.n < 40 ? t.n : 40, i;
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)t.p[i];
    shown[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
  }
  if (t.n > n)
    memcpy(shown + i, "...", 3), i += 3;
  shown[i] = '\0';
  if (c->err && c->errcap)
    snprintf(c->err, c->errcap, "%s:%zu: expected %s, got '%s'", c->fname,
             c->line, what, shown);
  return DC_EPARSE;
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t'; }

/* The next token of the line; n == 0 at the end of the line or at a '#'
 * comment. A token starting with '"' runs to its closing quote (a '#' or
 * blank inside is data), then on to the next blank. */
static tok next_tok(pctx *c) {
  tok t;
  while (c->p < c->end && is_blank(*c->p))
    c->p++;
  t.p = c->p;
  if (c->p < c->end && *c->p == '"') {
    for (c->p++; c->p < c->end && *c->p != '"'; c->p++)
      if (*c->p == '\\' && c->p + 1 < c->end)
        c->p++;
    if (c->p < c->end)
      c->p++;
  }
  while (c->p < c->end && !is_blank(*c->p) && *c->p != '#')
    c->p++;
  t.n = (size_t)(c->p - t.p);
  return t;
}

static int tok_is(tok t, const char *s) {
  return t.n == strlen(s) && memcmp(t.p, s, t.n) == 0;
}

/* Decimal without sign; 0 on success. */
static int to_u64(tok t, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  if (t.n == 0 || t.n > 20)
    return -1;
  for (size_t i = 0; i < t.n; i++) {
    unsigned d = (unsigned)(unsigned char)t.p[i] - '0';
    if (d > 9 || v > (UINT64_MAX - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  if (v > max)
    return -1;
  *out = v;
  return 0;
}

static int num(pctx *c, tok t, uint64_t max, const char *what, uint64_t *out) {
  return to_u64(t, max, out) ? fail(c, what, t) : 0;
}

static int slot_arg(pctx *c, dc__op *op) {
  uint64_t v = 0; /* set on success; 0 keeps -O3 quiet */
  int rc = num(c, next_tok(c), DC__MAX_SLOTS - 1, "slot 0..7", &v);
  op->slot = (int)v;
  return rc;
}

/* "p<N>" -> N, or -1. */
static int proc_of(tok t) {
  uint64_t v = 0; /* set on success; 0 keeps -O3 quiet */
  if (t.n < 2 || t.p[0] != 'p')
    return -1;
  tok d = {t.p + 1, t.n - 1};
  return to_u64(d, DC__MAX_SPROCS - 1, &v) ? -1 : (int)v;
}

static int payload_room(pctx *c, size_t need) {
  if (need <= c->bufcap)
    return 0;
  unsigned char *nb = realloc(c->buf, need);
  if (!nb)
    return DC_ENOMEM;
  c->buf = nb;
  c->bufcap = need;
  return 0;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* One C escape after the backslash at s[*i] (i < n-1 guaranteed by the
 * caller's loop); returns the byte or -1. */
static int unescape(const char *s, size_t n, size_t *i) {
  static const char from[] = "\\\"'?abfnrtve",
                    to[] = "\\\"'?\a\b\f\n\r\t\v\x1b";
  char ch = s[++*i];
  const char *m = ch ? strchr(from, ch) : NULL;
  if (m)
    return (unsigned char)to[m - from];
  if (ch == 'x') {
    int v = 0, k = 0;
    while (k < 2 && *i + 1 < n && hexval(s[*i + 1]) >= 0)
      v = v * 16 + hexval(s[++*i]), k++;
    return k ? v : -1;
  }
  if (ch >= '0' && ch <= '7') {
    int v = ch - '0';
    for (int k = 1; k < 3 && *i + 1 < n && s[*i + 1] >= '0' && s[*i + 1] <= '7';
         k++)
      v = v * 8 + (s[++*i] - '0');
    return v <= 255 ? v : -1;
  }
  return -1;
}

static int quoted_payload(pctx *c, tok t, dc__op *op) {
  const char *s = t.p + 1;
  size_t n = t.n - 1, i, len = 0;
  int rc = payload_room(c, n);
  if (rc)
    return rc;
  for (i = 0; i < n && s[i] != '"'; i++) {
    int b = (unsigned char)s[i];
    if (b == '\\' && (i + 1 >= n || (b = unescape(s, n, &i)) < 0))
      return fail(c, "string escape (\\n \\t \\r \\\\ \\\" \\xHH \\ooo)", t);
    if (len == PAYLOAD_MAX)
      return fail(c, "payload of at most 1048576 bytes", t);
    c->buf[len++] = (unsigned char)b;
  }
  if (i + 1 != n) /* no closing quote, or text after it */
    return fail(c, "string ending in '\"'", t);
  op->data = c->buf;
  op->len = len;
  return 0;
}

/* A payload: "-" (empty), "text" with C escapes, or an even number of hex
 * digits. Decoded into c->buf until the operation is added. */
static int payload_arg(pctx *c, dc__op *op) {
  static const char what[] = "payload (hex, - or \"text\")";
  tok t = next_tok(c);
  op->data = NULL;
  op->len = 0;
  if (tok_is(t, "-"))
    return 0;
  if (t.n && t.p[0] == '"')
    return quoted_payload(c, t, op);
  if (t.n == 0 || t.n % 2)
    return fail(c, what, t);
  if (t.n / 2 > PAYLOAD_MAX)
    return fail(c, "payload of at most 1048576 bytes", t);
  int rc = payload_room(c, t.n / 2);
  if (rc)
    return rc;
  for (size_t i = 0; i < t.n; i += 2) {
    int hi = hexval(t.p[i]), lo = hexval(t.p[i + 1]);
    if (hi < 0 || lo < 0)
      return fail(c, what, t);
    c->buf[i / 2] = (unsigned char)(hi * 16 + lo);
  }
  op->data = c->buf;
  op->len = t.n / 2;
  return 0;
}

/* split=a,b,..: 1..8 segment lengths whose sum fits in the payload. */
static int split_arg(pctx *c, tok t, dc__op *op) {
  tok v = {t.p + 6, t.n - 6};
  size_t sum = 0;
  op->nsegs = 0;
  while (1) {
    tok d = {v.p, 0};
    uint64_t x;
    while (d.n < v.n && v.p[d.n] != ',')
      d.n++;
    if (op->nsegs == DC__OP_MAX_SEGS)
      return fail(c, "at most 8 segment sizes", t);
    if (to_u64(d, PAYLOAD_MAX, &x))
      return fail(c, "split=<bytes>[,<bytes>...]", t);
    op->seg[op->nsegs++] = (size_t)x;
    sum += (size_t)x;
    if (d.n == v.n)
      break;
    v.p += d.n + 1;
    v.n -= d.n + 1;
  }
  if (sum > op->len)
    return fail(c, "segment sizes summing to at most the payload size", t);
  return 0;
}

enum {
  O_EOF = 1,
  O_BY = 2,
  O_SPLIT = 4,
  O_FORCE = 8,
  O_FROM = 16,
  O_RLEN = 32,
  O_BANG = 64
};

/* Trailing options (any order, each at most once) up to the end of line;
 * `allowed` is a mask of O_*, `what` lists them for the error message. */
static int options(pctx *c, dc__op *op, unsigned allowed, const char *what) {
  unsigned seen = 0;
  for (tok t = next_tok(c); t.n; t = next_tok(c)) {
    unsigned o = tok_is(t, "eof")                        ? O_EOF
                 : tok_is(t, "force")                    ? O_FORCE
                 : tok_is(t, "bang")                     ? O_BANG
                 : t.n >= 3 && !memcmp(t.p, "by=", 3)    ? O_BY
                 : t.n >= 5 && !memcmp(t.p, "from=", 5)  ? O_FROM
                 : t.n >= 5 && !memcmp(t.p, "rlen=", 5)  ? O_RLEN
                 : t.n >= 6 && !memcmp(t.p, "split=", 6) ? O_SPLIT
                                                         : 0;
    if (!(o & allowed))
      return fail(c, what, t);
    if (seen & o)
      return fail(c, "each option at most once", t);
    seen |= o;
    int rc = 0;
    uint64_t v = 0;
    tok val;
    switch (o) {
    case O_EOF:
      op->opts |= DC__OPT_EOF;
      break;
    case O_FORCE:
      op->force = 1;
      break;
    case O_BANG:
      op->bang = 1;
      break;
    case O_SPLIT:
      rc = split_arg(c, t, op);
      break;
    case O_RLEN:
      val = (tok){t.p + 5, t.n - 5};
      rc = to_u64(val, RLEN_MAX, &v) ? fail(c, "rlen=0..1048576", t) : 0;
      op->rlen = (int)v;
      break;
    default: /* by=, from= */
      val = o == O_BY ? (tok){t.p + 3, t.n - 3} : (tok){t.p + 5, t.n - 5};
      if ((op->proc = proc_of(val)) < 0)
        rc = fail(c, "process p0..p11", t);
      break;
    }
    if (rc)
      return rc;
  }
  return 0;
}

static int end_of_line(pctx *c) {
  tok t = next_tok(c);
  return t.n ? fail(c, "end of line", t) : 0;
}

/* Arguments of an operation whose name has been read. */
_Static_assert(DC__MAX_SLOT_EVENTS == 64, "update the event index message");

static int parse_args(pctx *c, dc__op *op) {
  uint64_t v = 0;
  int rc = 0;
  tok t;
  switch (op->kind) {
  case DC__OP_OPEN:
    if ((rc = slot_arg(c, op)))
      return rc;
    t = next_tok(c);
    if (!tok_is(t, "list") && !tok_is(t, "binary"))
      return fail(c, "list or binary", t);
    op->opts = tok_is(t, "binary") ? DC__OPT_BINARY : 0;
    return options(c, op, O_EOF | O_BY, "eof, by=<proc> or end of line");
  case DC__OP_COMMAND:
    if ((rc = slot_arg(c, op)) || (rc = payload_arg(c, op)))
      return rc;
    return options(c, op, O_SPLIT | O_FORCE | O_FROM,
                   "split=, force, from= or end of line");
  case DC__OP_CONTROL:
  case DC__OP_CALL:
    if ((rc = slot_arg(c, op)) ||
        (rc = num(c, next_tok(c), UINT32_MAX, "command 0..4294967295", &v)))
      return rc;
    op->cmd = (unsigned)v;
    if ((rc = payload_arg(c, op)))
      return rc;
    if (op->kind == DC__OP_CALL)
      return options(c, op, O_FROM, "from= or end of line");
    return options(c, op, O_RLEN | O_FROM, "rlen=, from= or end of line");
  case DC__OP_EVENT:
    if ((rc = slot_arg(c, op)) ||
        (rc = num(c, next_tok(c), DC__MAX_SLOT_EVENTS - 1, "event index 0..63",
                  &v)))
      return rc;
    op->k = (int)v;
    t = next_tok(c);
    if (!tok_is(t, "in") && !tok_is(t, "out"))
      return fail(c, "in or out", t);
    op->mode = tok_is(t, "in") ? ERL_DRV_READ : ERL_DRV_WRITE;
    break;
  case DC__OP_ADVANCE:
    if ((rc = num(c, next_tok(c), MS_MAX, "milliseconds 0..10^12", &v)))
      return rc;
    op->ms = v;
    break;
  case DC__OP_ASYNC:
    t = next_tok(c);
    if (!tok_is(t, "all") &&
        (rc = num(c, t, ASYNC_K_MAX, "completion index 0..65535 or all", &v)))
      return rc;
    op->k = tok_is(t, "all") ? -1 : (int)v;
    break;
  case DC__OP_CLOSE:
    if ((rc = slot_arg(c, op)))
      return rc;
    return options(c, op, O_BANG, "bang or end of line");
  default:
    break;
  }
  return end_of_line(c);
}

/* exit <proc> [<reason atom>] */
static int parse_exit(pctx *c, dc__op *op) {
  tok t = next_tok(c);
  if ((op->proc = proc_of(t)) < 0)
    return fail(c, "process p0..p11", t);
  t = next_tok(c);
  if (t.n) {
    int ok = t.n < DC__REASON_MAX && t.p[0] >= 'a' && t.p[0] <= 'z';
    for (size_t i = 1; ok && i < t.n; i++) {
      char ch = t.p[i];
      ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || ch == '@';
    }
    if (!ok)
      return fail(c, "reason atom ([a-z][a-zA-Z0-9_@]*, at most 23 chars)", t);
    memcpy(op->reason, t.p, t.n);
  }
  return end_of_line(c);
}

/* stop_select sync|deferred|run: two operation kinds share the name. */
static int parse_stop_select(pctx *c, dc__op *op) {
  tok t = next_tok(c);
  if (tok_is(t, "run"))
    *op = dc__op_make(DC__OP_SSRUN);
  else if (tok_is(t, "sync") || tok_is(t, "deferred"))
    op->mode = tok_is(t, "sync") ? DC__SS_SYNC : DC__SS_DEFERRED;
  else
    return fail(c, "sync, deferred or run", t);
  return end_of_line(c);
}

/* One non-blank line; *first: no operation or header seen yet. */
static int parse_line(pctx *c, dc__scenario *s, int *first) {
  tok name = next_tok(c);
  int was_first = *first, rc;
  if (!name.n)
    return 0; /* blank or comment-only */
  *first = 0;
  if (tok_is(name, HEADER) && was_first) {
    tok v = next_tok(c);
    return tok_is(v, "1") ? end_of_line(c)
                          : fail(c, "scenario format version 1", v);
  }
  int k = 0;
  while (k < DC__OP_COUNT && !tok_is(name, op_names[k]))
    k++;
  if (k == DC__OP_COUNT)
    return fail(c, "operation name", name);
  dc__op op = dc__op_make((dc__op_kind)k);
  if (k == DC__OP_EXIT)
    rc = parse_exit(c, &op);
  else if (k == DC__OP_SSMODE)
    rc = parse_stop_select(c, &op);
  else
    rc = parse_args(c, &op);
  return rc ? rc : dc__scenario_add(s, &op);
}

int dc__scenario_parse(dc__scenario *s, const char *text, size_t len,
                       const char *fname, char *errbuf, size_t cap) {
  pctx c = {.fname = fname ? fname : "scenario", .err = errbuf, .errcap = cap};
  size_t n0 = s->n, nblobs0 = s->nblobs;
  const char *p = text, *end = text ? text + len : text;
  int first = 1, rc = 0;
  if (errbuf && cap)
    errbuf[0] = '\0';
  while (p < end && !rc) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    c.line++;
    c.p = p;
    c.end = le > p && le[-1] == '\r' ? le - 1 : le; /* CRLF */
    rc = parse_line(&c, s, &first);
    p = nl ? nl + 1 : end;
  }
  free(c.buf);
  if (rc) { /* all or nothing: drop what this text added */
    while (s->nblobs > nblobs0)
      free(s->blobs[--s->nblobs]);
    s->n = n0;
    if (rc == DC_ENOMEM && errbuf && cap)
      snprintf(errbuf, cap, "%s:%zu: out of memory", c.fname, c.line);
  }
  return rc;
}

int dc__read_file(const char *path, char **out, size_t *outlen, char *errbuf,
                  size_t cap) {
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  size_t len = 0, tcap = 0;
  int rc = 0;
  if (!f) {
    int e = errno;
    if (errbuf && cap)
      snprintf(errbuf, cap, "%s: %s", path, strerror(e));
    return e == ENOENT ? DC_ENOENT : DC_EIO;
  }
  while (!rc) {
    if (len == tcap && grow((void **)&text, &tcap, len + 65536, 1) != 0) {
      rc = DC_ENOMEM;
      break;
    }
    size_t got = fread(text + len, 1, tcap - len, f);
    len += got;
    if (got == 0)
      break;
  }
  if (!rc && ferror(f)) {
    if (errbuf && cap)
      snprintf(errbuf, cap, "%s: %s", path, strerror(errno));
    rc = DC_EIO;
  }
  fclose(f);
  if (rc == DC_ENOMEM && errbuf && cap)
    snprintf(errbuf, cap, "%s: out of memory", path);
  if (rc) {
    free(text);
    return rc;
  }
  *out = text;
  *outlen = len;
  return 0;
}

int dc__scenario_load(dc__scenario *s, const char *path, char *errbuf,
                      size_t cap) {
  char *text = NULL;
  size_t len = 0;
  int rc = dc__read_file(path, &text, &len, errbuf, cap);
  if (!rc)
    rc = dc__scenario_parse(s, text ? text : "", len, path, errbuf, cap);
  free(text);
  return rc;
}

/* Upper bound of an operation's line: quoted or hex payload takes at most
 * two characters per byte. */
static size_t line_bound(const dc__op *op) {
  return 256 + 2 * op->len + DC__OP_MAX_SEGS * 24 + TERM_COMMENT_MAX;
}

int dc__scenario_write(const dc__scenario *s, FILE *f, const char *header) {
  char small[4096], *line = small;
  int rc = 0;
  for (const char *h = header; h && *h;) {
    const char *nl = strchr(h, '\n');
    int n = nl ? (int)(nl - h) : (int)strlen(h);
    fprintf(f, "# %.*s\n", n, h);
    h = nl ? nl + 1 : h + n;
  }
  fprintf(f, HEADER " 1\n");
  for (size_t i = 0; i < s->n && !rc; i++) {
    size_t need = line_bound(&s->ops[i]);
    if (need > sizeof small && !(line = malloc(need)))
      return DC_EIO;
    if (dc__op_format(&s->ops[i], line, need) == 0)
      fprintf(f, "%s\n", line);
    else
      rc = DC_EIO; /* an operation without a text form */
    if (line != small)
      free(line), line = small;
  }
  if (fflush(f) != 0 || ferror(f))
    rc = DC_EIO;
  return rc;
}
