/* External term format: checking bytes that drivers and scenarios hand in
 * without trusting their length fields (ei decoders do no bounds checks),
 * and printing terms the way io:format("~w") does, for reports and trace
 * lines (erl.c). */
#define USE_EI_UNDOCUMENTED /* ei_decode_big / ei_alloc_big for bignums */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Validating external format without trusting it                           */
/* ei decoders do no bounds checks, so the walk below checks every length   */
/* against the buffer before ei touches the bytes, on a zero-padded copy    */
/* (a tag byte of 0 is invalid, so reads running into the pad fail).        */

#define ETF_PAD 2048 /* > longest fixed part + node atom (255*4 bytes) */

/* Number of direct subterms a container header announces, after checking
 * that they can possibly fit in the bytes left. */
static int etf_container(const char *b, int *i, int tag, long *kids,
                         size_t left) {
  int n = 0;
  switch (tag) {
  case ERL_SMALL_TUPLE_EXT:
  case ERL_LARGE_TUPLE_EXT:
    if (ei_decode_tuple_header(b, i, &n) < 0)
      return -1;
    *kids = n;
    break;
  case ERL_LIST_EXT:
    if (ei_decode_list_header(b, i, &n) < 0)
      return -1;
    *kids = (long)n + 1; /* elements and the tail */
    break;
  case ERL_MAP_EXT:
    if (ei_decode_map_header(b, i, &n) < 0)
      return -1;
    *kids = 2L * n;
    break;
  default:
    return -1;
  }
  return (n < 0 || (size_t)*kids > left) ? -1 : 0;
}

int dc__etf_decode_double(const char *b, int *i, double *d) {
  if ((unsigned char)b[*i] != ERL_FLOAT_EXT)
    return ei_decode_double(b, i, d);
  char txt[32]; /* the text, NUL-padded in the format; terminate it here */
  memcpy(txt, b + *i + 1, 31);
  txt[31] = '\0';
  double v;
  if (sscanf(txt, "%lf", &v) != 1)
    return -1;
  if (d)
    *d = v;
  *i += 1 + 31;
  return 0;
}

/* Skips one scalar at *i; 0, -1 invalid, -2 valid but unsupported here. */
static int etf_scalar(const char *b, int *i, int tag, int size, size_t len) {
  double d;
  erlang_pid pid;
  erlang_port port;
  erlang_ref ref;
  if ((size_t)*i + (size_t)(size < 0 ? 0 : size) > len || size < 0)
    return -1; /* a length field pointing past the end */
  switch (tag) {
  case ERL_SMALL_INTEGER_EXT:
  case ERL_INTEGER_EXT:
    return ei_decode_long(b, i, NULL);
  case ERL_SMALL_BIG_EXT:
  case ERL_LARGE_BIG_EXT:
    return ei_decode_big(b, i, NULL);
  case ERL_FLOAT_EXT:
  case NEW_FLOAT_EXT:
    if ((size_t)*i + (tag == ERL_FLOAT_EXT ? 32 : 9) > len)
      return -1; /* tag and 31 text or 8 IEEE bytes */
    if (dc__etf_decode_double(b, i, &d) < 0 || !isfinite(d))
      return -1; /* the emulator never decodes a non-finite float */
    return 0;
  case ERL_ATOM_EXT:
  case ERL_SMALL_ATOM_EXT:
  case ERL_ATOM_UTF8_EXT:
  case ERL_SMALL_ATOM_UTF8_EXT:
    return ei_decode_atom_as(b, i, NULL, MAXATOMLEN_UTF8,
                             ERLANG_LATIN1 | ERLANG_UTF8, NULL, NULL);
  case ERL_STRING_EXT:
    return ei_decode_string(b, i, NULL);
  case ERL_BINARY_EXT:
  case ERL_BIT_BINARY_EXT:
    return ei_decode_bitstring(b, i, NULL, NULL, NULL);
  case ERL_PID_EXT:
  case ERL_NEW_PID_EXT:
    return ei_decode_pid(b, i, &pid);
  case ERL_PORT_EXT:
  case ERL_NEW_PORT_EXT:
  case ERL_V4_PORT_EXT:
    return ei_decode_port(b, i, &port);
  case ERL_REFERENCE_EXT:
  case ERL_NEW_REFERENCE_EXT:
  case ERL_NEWER_REFERENCE_EXT:
    return ei_decode_ref(b, i, &ref) < 0 || ref.len > 5 ? -1 : 0;
  case ERL_NIL_EXT:
    return ei_decode_list_header(b, i, &size);
  case ERL_NEW_FUN_EXT:
  case ERL_FUN_EXT:
  case ERL_EXPORT_EXT:
  case 'P': /* compressed term_to_binary output (needs zlib) */
    return -2;
  default:
    return -1;
  }
}

static int etf_walk(const char *b, size_t len, size_t *used) {
  int i = 1; /* after the version byte */
  long todo = 1;
  while (todo > 0) {
    int type, size;
    if ((size_t)i >= len)
      return -1;
    int tag = (unsigned char)b[i];
    ei_get_type(b, &i, &type, &size);
    todo--;
    if (tag == ERL_SMALL_TUPLE_EXT || tag == ERL_LARGE_TUPLE_EXT ||
        tag == ERL_LIST_EXT || tag == ERL_MAP_EXT) {
      long kids;
      if (etf_container(b, &i, tag, &kids, len - (size_t)i) < 0)
        return -1;
      todo += kids;
    } else {
      int r = etf_scalar(b, &i, tag, size, len);
      if (r < 0)
        return r;
    }
    if ((size_t)i > len)
      return -1;
  }
  *used = (size_t)i;
  return 0;
}

int dc__etf_check(const char *etf, size_t len, size_t *used) {
  size_t dummy;
  if (!used)
    used = &dummy;
  if (!etf || len < 2 || (unsigned char)etf[0] != 131 || len > (1u << 30))
    return -1;
  char small[1024 + ETF_PAD];
  char *b = len + ETF_PAD <= sizeof small ? small : malloc(len + ETF_PAD);
  if (!b)
    return -1;
  dc__ensure_ei();
  memcpy(b, etf, len);
  memset(b + len, 0, ETF_PAD);
  int r = etf_walk(b, len, used);
  if (b != small)
    free(b);
  return r;
}

/* ------------------------------------------------------------------------ */
/* Printing like io:format("~w")                                            */

void dc__put(dc__wr *w, const char *s, size_t n) {
  if (w->full)
    return;
  if (w->len + n + 1 <= w->cap) {
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    return;
  }
  /* Keep room for "..." (when the buffer allows it) and stop printing. */
  size_t keep = w->cap > 4 ? w->cap - 4 : 0;
  if (w->len > keep)
    w->len = keep;
  size_t fit = keep - w->len < n ? keep - w->len : n;
  memcpy(w->buf + w->len, s, fit);
  w->len += fit;
  for (int k = 0; k < 3 && w->len + 1 < w->cap; k++)
    w->buf[w->len++] = '.';
  w->full = 1;
}

void dc__puts(dc__wr *w, const char *s) { dc__put(w, s, strlen(s)); }

void dc__putf(dc__wr *w, const char *fmt, ...) {
  char tmp[64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0)
    dc__put(w, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Float text as float_to_list(F, [short]) gives it in OTP 25 (which ~w
 * uses): the shortest round-trip digits, fixed or scientific notation by
 * the rule of erts/emulator/ryu/to_chars.h (an adaptation of MS STL's). */
static void fmt_float(double d, char *out, size_t cap) {
  if (d == 0) {
    snprintf(out, cap, "%s", signbit(d) ? "-0.0" : "0.0");
    return;
  }
  char tmp[40], dig[24];
  int p, n = 0;
  for (p = 1; p <= 17; p++) {
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
    if (strtod(tmp, NULL) == d)
      break;
  }
  char *e = strchr(tmp, 'e');
  for (char *c = tmp; c < e; c++)
    if (*c >= '0' && *c <= '9')
      dig[n++] = *c;
  while (n > 1 && dig[n - 1] == '0')
    n--;
  dig[n] = '\0';
  int sci = atoi(e + 1), rexp = sci - (n - 1); /* value = dig * 10^rexp */
  unsigned long long m = strtoull(dig, NULL, 10);
  int lower = -(n + 2), upper = sci >= 10 ? 2 : 1;
  if (n == 1)
    lower = -4, upper = 2;
  int fixed = lower <= rexp && rexp <= upper;
  /* Above 2^53 not every integer is a double: print those scientific. */
  if ((m >= (1ull << 53) && rexp == 0) || (m > (1ull << 52) / 5 && rexp == 1) ||
      (m > (1ull << 51) / 25 && rexp == 2))
    fixed = 0;
  const char *sign = d < 0 ? "-" : "";
  int whole = n + rexp;
  if (!fixed)
    snprintf(out, cap, "%s%c.%se%d", sign, dig[0], n > 1 ? dig + 1 : "0", sci);
  else if (rexp >= 0)
    snprintf(out, cap, "%s%s%.*s.0", sign, dig, rexp, "0000");
  else if (whole > 0)
    snprintf(out, cap, "%s%.*s.%s", sign, whole, dig, dig + whole);
  else
    snprintf(out, cap, "%s0.%.*s%s", sign, -whole, "000000", dig);
}

static int reserved_word(const char *s) {
  static const char *const words[] = {
      "after",  "and",     "andalso", "band", "begin", "bnot", "bor",
      "bsl",    "bsr",     "bxor",    "case", "catch", "cond", "div",
      "end",    "fun",     "if",      "let",  "not",   "of",   "or",
      "orelse", "receive", "rem",     "try",  "when",  "xor"};
  for (size_t i = 0; i < sizeof words / sizeof *words; i++)
    if (strcmp(s, words[i]) == 0)
      return 1;
  return 0;
}

/* Next code point of UTF-8 text (ei gives valid UTF-8). */
static unsigned utf8_next(const unsigned char **s) {
  unsigned c = *(*s)++;
  int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
  c &= more == 3 ? 0x07 : more == 2 ? 0x0F : more == 1 ? 0x1F : 0x7F;
  while (more-- && **s)
    c = (c << 6) | (*(*s)++ & 0x3F);
  return c;
}

static int lower_start(unsigned c) {
  return (c >= 'a' && c <= 'z') || (c >= 0xDF && c <= 0xFF && c != 0xF7);
}
static int name_char(unsigned c) {
  return lower_start(c) || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '@' || (c >= 0xC0 && c <= 0xDE && c != 0xD7);
}

static void put_cp(dc__wr *w, unsigned c) {
  char u[4];
  int n = 0;
  if (c < 0x80)
    u[n++] = (char)c;
  else if (c < 0x800)
    u[n++] = (char)(0xC0 | (c >> 6)), u[n++] = (char)(0x80 | (c & 0x3F));
  else
    u[n++] = (char)(0xE0 | (c >> 12)),
    u[n++] = (char)(0x80 | ((c >> 6) & 0x3F)),
    u[n++] = (char)(0x80 | (c & 0x3F));
  dc__put(w, u, (size_t)n);
}

/* io_lib:write_atom: quoted unless a plain name; escapes as ~w writes them. */
void dc__put_atom(dc__wr *w, const char *utf8) {
  const unsigned char *s = (const unsigned char *)utf8;
  int plain = *s && !reserved_word(utf8);
  if (plain && !lower_start(utf8_next(&s)))
    plain = 0;
  while (plain && *s)
    plain = name_char(utf8_next(&s));
  if (plain) {
    dc__puts(w, utf8);
    return;
  }
  static const char named[] = "\b\t\n\v\f\r\x1b\x7f", names[] = "btnvfred";
  dc__put(w, "'", 1);
  for (s = (const unsigned char *)utf8; *s;) {
    unsigned c = utf8_next(&s);
    const char *nm = c && c < 0x80 ? strchr(named, (int)c) : NULL;
    if (c == '\'' || c == '\\')
      dc__putf(w, "\\%c", (char)c);
    else if (nm)
      dc__putf(w, "\\%c", names[nm - named]);
    else if (c < 0x20 || (c >= 0x80 && c < 0xA0))
      dc__putf(w, "\\%03o", c);
    else if (c > 0xFF)
      dc__putf(w, "\\x{%X}", c);
    else
      put_cp(w, c);
  }
  dc__put(w, "'", 1);
}

/* Decimal text of a bignum: repeated division of its 16-bit digits. */
static void put_big(dc__wr *w, const char *b, int *i, int nbytes) {
  if (nbytes > 2048) { /* printing would take long; say so */
    ei_decode_big(b, i, NULL);
    dc__puts(w, "<bignum>");
    return;
  }
  erlang_big *big = ei_alloc_big((unsigned)nbytes);
  unsigned nd = ((unsigned)nbytes + 1) / 2;
  char *txt = malloc(5u * nd + 8);
  if (!big || !txt || ei_decode_big(b, i, big) < 0) {
    ei_free_big(big);
    free(txt);
    return;
  }
  unsigned short *dg = big->digits;
  size_t t = 0;
  while (nd > 0 && dg[nd - 1] == 0)
    nd--;
  while (nd > 0) { /* divide by 10000, collect 4 decimal digits */
    unsigned long rem = 0;
    for (unsigned k = nd; k-- > 0;) {
      unsigned long cur = (rem << 16) | dg[k];
      dg[k] = (unsigned short)(cur / 10000);
      rem = cur % 10000;
    }
    while (nd > 0 && dg[nd - 1] == 0)
      nd--;
    for (int k = 0; k < 4 && (nd > 0 || rem); k++, rem /= 10)
      txt[t++] = (char)('0' + rem % 10);
  }
  if (t == 0)
    txt[t++] = '0';
  if (big->is_neg)
    txt[t++] = '-';
  for (size_t k = 0; k < t / 2; k++) {
    char c = txt[k];
    txt[k] = txt[t - 1 - k];
    txt[t - 1 - k] = c;
  }
  dc__put(w, txt, t);
  free(txt);
  ei_free_big(big);
}

static void put_bits(dc__wr *w, const char *b, int *i) {
  const char *p;
  unsigned int off;
  size_t nbits;
  ei_decode_bitstring(b, i, &p, &off, &nbits);
  const unsigned char *u = (const unsigned char *)p;
  dc__put(w, "<<", 2);
  size_t nbytes = nbits / 8, rest = nbits % 8;
  for (size_t k = 0; k < nbytes && !w->full; k++)
    dc__putf(w, k ? ",%u" : "%u", u[k]);
  if (rest)
    dc__putf(w, nbytes ? ",%u:%zu" : "%u:%zu", u[nbytes] >> (8 - rest), rest);
  dc__put(w, ">>", 2);
}

static void put_string_ext(dc__wr *w, const char *b, int *i, int n, int open) {
  char small[256];
  char *s = (size_t)n + 1 <= sizeof small ? small : malloc((size_t)n + 1);
  if (!s)
    return;
  ei_decode_string(b, i, s);
  if (open)
    dc__put(w, "[", 1);
  for (int k = 0; k < n && !w->full; k++)
    dc__putf(w, k ? ",%u" : "%u", (unsigned char)s[k]);
  if (s != small)
    free(s);
}

/* Prints one scalar (anything but tuple/list/map) at *i. */
static void put_scalar(dc__wr *w, const char *b, int *i, int tag, int size) {
  long l;
  double d;
  char txt[MAXATOMLEN_UTF8];
  erlang_pid pid;
  erlang_port port;
  erlang_ref ref;
  EI_LONGLONG ll;
  EI_ULONGLONG ull;
  switch (tag) {
  case ERL_SMALL_INTEGER_EXT:
  case ERL_INTEGER_EXT:
    ei_decode_long(b, i, &l);
    dc__putf(w, "%ld", l);
    break;
  case ERL_SMALL_BIG_EXT:
  case ERL_LARGE_BIG_EXT:
    if (ei_decode_longlong(b, &(int){*i}, &ll) == 0) {
      ei_decode_longlong(b, i, &ll);
      dc__putf(w, "%lld", ll);
    } else if (ei_decode_ulonglong(b, &(int){*i}, &ull) == 0) {
      ei_decode_ulonglong(b, i, &ull);
      dc__putf(w, "%llu", ull);
    } else {
      put_big(w, b, i, size);
    }
    break;
  case ERL_FLOAT_EXT:
  case NEW_FLOAT_EXT:
    dc__etf_decode_double(b, i, &d);
    fmt_float(d, txt, sizeof txt);
    dc__puts(w, txt);
    break;
  case ERL_ATOM_EXT:
  case ERL_SMALL_ATOM_EXT:
  case ERL_ATOM_UTF8_EXT:
  case ERL_SMALL_ATOM_UTF8_EXT:
    ei_decode_atom_as(b, i, txt, sizeof txt, ERLANG_UTF8, NULL, NULL);
    dc__put_atom(w, txt);
    break;
  case ERL_STRING_EXT:
    put_string_ext(w, b, i, size, 1);
    dc__put(w, "]", 1);
    break;
  case ERL_NIL_EXT:
    ei_decode_list_header(b, i, &size);
    dc__put(w, "[]", 2);
    break;
  case ERL_BINARY_EXT:
  case ERL_BIT_BINARY_EXT:
    put_bits(w, b, i);
    break;
  case ERL_PID_EXT:
  case ERL_NEW_PID_EXT:
    ei_decode_pid(b, i, &pid);
    dc__putf(w, "<0.%u.%u>", pid.num, pid.serial);
    break;
  case ERL_PORT_EXT:
  case ERL_NEW_PORT_EXT:
  case ERL_V4_PORT_EXT:
    ei_decode_port(b, i, &port);
    dc__putf(w, "#Port<0.%llu>", (unsigned long long)port.id);
    break;
  default: /* references: the last number of ~w is the first in ETF */
    ei_decode_ref(b, i, &ref);
    dc__put(w, "#Ref<0", 6);
    for (int k = ref.len; k-- > 0;)
      dc__putf(w, ".%u", ref.n[k]);
    dc__put(w, ">", 1);
    break;
  }
}

/* Open containers while printing iteratively (no recursion on depth). */
typedef struct frame {
  char kind; /* 't' tuple, 'l' list, 'm' map */
  char tail; /* list: the element now printing is the improper tail */
  long left; /* subterms still to print */
  long done; /* subterms printed */
} frame;

int dc__etf_print_walk(dc__wr *w, const char *b, int i) {
  frame stk_small[64], *stk = stk_small;
  size_t depth = 0, cap = 64;
  int top = 1; /* the root term is still to print */
  while (!w->full && (top || depth > 0)) {
    frame *f = depth ? &stk[depth - 1] : NULL;
    if (!top && f->left == 0) { /* container finished */
      dc__put(w, f->kind == 't' ? "}" : f->kind == 'm' ? "}" : "]", 1);
      depth--;
      continue;
    }
    int type, size, tag = (unsigned char)b[i];
    ei_get_type(b, &i, &type, &size);
    if (!top && f->kind == 'l' && f->left == 1 && !f->tail) {
      /* Reached a list's tail: [] ends it, a list continues it. */
      f->left = 0;
      if (tag == ERL_NIL_EXT) {
        ei_decode_list_header(b, &i, &size);
        continue;
      }
      if (tag == ERL_LIST_EXT) {
        ei_decode_list_header(b, &i, &size);
        f->left = size + 1;
        continue;
      }
      if (tag == ERL_STRING_EXT) {
        if (f->done > 0)
          dc__put(w, ",", 1);
        put_string_ext(w, b, &i, size, 0);
        continue;
      }
      dc__put(w, "|", 1);
      f->tail = 1;
      f->left = 1;
    } else if (!top && f->done > 0) {
      dc__put(w, f->kind == 'm' && f->done % 2 ? " => " : ",",
              f->kind == 'm' && f->done % 2 ? 4 : 1);
    }
    if (!top) {
      f->left--;
      f->done++;
    }
    top = 0;
    if (tag == ERL_SMALL_TUPLE_EXT || tag == ERL_LARGE_TUPLE_EXT ||
        tag == ERL_LIST_EXT || tag == ERL_MAP_EXT) {
      frame nf = {0, 0, 0, 0};
      int n = 0;
      if (tag == ERL_LIST_EXT) {
        ei_decode_list_header(b, &i, &n);
        nf.kind = 'l', nf.left = n + 1L, dc__put(w, "[", 1);
      } else if (tag == ERL_MAP_EXT) {
        ei_decode_map_header(b, &i, &n);
        nf.kind = 'm', nf.left = 2L * n, dc__put(w, "#{", 2);
      } else {
        ei_decode_tuple_header(b, &i, &n);
        nf.kind = 't', nf.left = n, dc__put(w, "{", 1);
      }
      if (depth == cap) {
        frame *g = malloc(2 * cap * sizeof *g);
        if (!g)
          break;
        memcpy(g, stk, cap * sizeof *g);
        if (stk != stk_small)
          free(stk);
        stk = g, cap *= 2;
      }
      stk[depth++] = nf;
    } else {
      put_scalar(w, b, &i, tag, size);
    }
  }
  if (stk != stk_small)
    free(stk);
  return 0;
}

int dc__etf_print(const char *etf, size_t len, char *buf, size_t cap) {
  if (!buf || cap == 0)
    return -1;
  buf[0] = '\0';
  if (dc__etf_check(etf, len, NULL) != 0)
    return -1;
  dc__wr w = {buf, cap, 0, 0};
  dc__etf_print_walk(&w, etf, 1);
  buf[w.len] = '\0';
  return 0;
}
