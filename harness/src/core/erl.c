/* The Erlang side of the mock: processes, atoms, and printing of
 * external-format terms (and trace events, see trace.c) the way
 * io:format("~w") does.
 *
 * Pids print as <0.N.0> where N = DC__IDX(pid); like a fresh `erl` shell the
 * first spawned process is <0.80.0>. Atoms live forever (drivers cache the
 * values driver_mk_atom returns, even across an emulator reset). */
#define USE_EI_UNDOCUMENTED /* ei_decode_big / ei_alloc_big for bignums */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PID_BASE 80
#define ATOM_LEN_MAX 255 /* MAX_ATOM_CHARACTERS; longer names are cut */
#define ATOM_HASH_SLOTS (2 * DC__MAX_ATOMS)

static pthread_once_t ei_once = PTHREAD_ONCE_INIT;
static void ei_init_once(void) { (void)ei_init(); }
static void ensure_ei(void) { pthread_once(&ei_once, ei_init_once); }

/* ------------------------------------------------------------------------ */
/* Processes                                                                 */

typedef struct proc {
  _Atomic int state; /* 0 never used, 1 alive, 2 dead */
  char name[32];
} proc;

static proc procs[DC__MAX_PROCS];
static _Atomic unsigned nprocs;

ErlDrvTermData dc__proc_spawn(const char *name) {
  unsigned i = atomic_fetch_add(&nprocs, 1);
  if (i >= DC__MAX_PROCS) {
    atomic_fetch_sub(&nprocs, 1);
    return DC__NIL;
  }
  snprintf(procs[i].name, sizeof procs[i].name, "%s", name ? name : "");
  atomic_store(&procs[i].state, 1); /* publishes the name */
  return DC__MK(DC__TAG_PID, PID_BASE + i);
}

/* Slot of a pid term, or NULL for non-pids and never-spawned numbers. */
static proc *proc_of(ErlDrvTermData pid) {
  if (!DC__IS(pid, DC__TAG_PID) || DC__IDX(pid) < PID_BASE)
    return NULL;
  ErlDrvTermData i = DC__IDX(pid) - PID_BASE;
  if (i >= DC__MAX_PROCS || atomic_load(&procs[i].state) == 0)
    return NULL;
  return &procs[i];
}

/* One load of the state (proc_of would load it twice): the sequencer's
 * state model asks this for several processes before every operation. */
int dc__proc_alive(ErlDrvTermData pid) {
  /* Below PID_BASE the unsigned difference wraps past DC__MAX_PROCS. */
  ErlDrvTermData i = DC__IDX(pid) - PID_BASE;
  return DC__IS(pid, DC__TAG_PID) && i < DC__MAX_PROCS &&
         atomic_load_explicit(&procs[i].state, memory_order_acquire) == 1;
}

/* Bumped after every death and reset (release, after the state store): a
 * reader that reads the count, then asks dc__proc_alive, may trust those
 * answers for as long as the count still reads the same. */
static _Atomic unsigned long deaths;

unsigned long dc__proc_deaths(void) {
  return atomic_load_explicit(&deaths, memory_order_acquire);
}

int dc__proc_known(ErlDrvTermData pid) { return proc_of(pid) != NULL; }

void dc__proc_mark_dead(ErlDrvTermData pid) {
  proc *p = proc_of(pid);
  if (p) {
    atomic_store(&p->state, 2);
    atomic_fetch_add_explicit(&deaths, 1, memory_order_release);
  }
}

void dc__proc_reset(void) {
  /* Only slots below nprocs were ever spawned into. */
  unsigned n = atomic_load(&nprocs);
  for (unsigned i = 0; i < n && i < DC__MAX_PROCS; i++)
    atomic_store(&procs[i].state, 0);
  atomic_store(&nprocs, 0);
  atomic_fetch_add_explicit(&deaths, 1, memory_order_release);
}

/* ------------------------------------------------------------------------ */
/* Atoms: open-addressing hash of slot numbers. Lookups are lock-free (a    */
/* slot, once published, never changes); inserts take a mutex.              */

static char *atom_names[DC__MAX_ATOMS];
static unsigned char atom_lens[DC__MAX_ATOMS];
static _Atomic int atom_hash[ATOM_HASH_SLOTS]; /* atom index + 1, 0 = empty */
static _Atomic unsigned natoms;
static pthread_mutex_t atom_mu = PTHREAD_MUTEX_INITIALIZER;

static uint32_t name_hash(const char *s, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

/* Probes for name; returns the atom index, or -1 with *slot = the empty
 * slot where it would go (or -1 when the table is full). */
static int atom_find(const char *s, size_t n, uint32_t h, int *slot) {
  for (unsigned k = 0; k < ATOM_HASH_SLOTS; k++) {
    unsigned at = (h + k) % ATOM_HASH_SLOTS;
    int v = atomic_load_explicit(&atom_hash[at], memory_order_acquire);
    if (v == 0) {
      *slot = (int)at;
      return -1;
    }
    if (atom_lens[v - 1] == n && memcmp(atom_names[v - 1], s, n) == 0)
      return v - 1;
  }
  *slot = -1;
  return -1;
}

ErlDrvTermData dc__atom(const char *name) {
  size_t n = strlen(name);
  if (n > ATOM_LEN_MAX)
    n = ATOM_LEN_MAX; /* erts_atom_put truncates driver atoms */
  uint32_t h = name_hash(name, n);
  int slot, idx = atom_find(name, n, h, &slot);
  if (idx >= 0)
    return DC__MK(DC__TAG_ATOM, idx);
  pthread_mutex_lock(&atom_mu);
  idx = atom_find(name, n, h, &slot); /* another thread may have won */
  if (idx < 0 && slot >= 0 && atomic_load(&natoms) < DC__MAX_ATOMS) {
    idx = (int)atomic_load(&natoms);
    atom_names[idx] = malloc(n + 1);
    if (atom_names[idx]) {
      memcpy(atom_names[idx], name, n);
      atom_names[idx][n] = '\0';
      atom_lens[idx] = (unsigned char)n;
      atomic_store(&natoms, (unsigned)idx + 1);
      atomic_store_explicit(&atom_hash[slot], idx + 1, memory_order_release);
    } else {
      idx = -1;
    }
  }
  pthread_mutex_unlock(&atom_mu);
  return idx < 0 ? (ErlDrvTermData)-1 : DC__MK(DC__TAG_ATOM, idx);
}

const char *dc__atom_text(ErlDrvTermData t) {
  if (!DC__IS(t, DC__TAG_ATOM) || DC__IDX(t) >= atomic_load(&natoms))
    return NULL;
  return atom_names[DC__IDX(t)];
}

/* ------------------------------------------------------------------------ */
/* Encoding the mock's term words                                            */

int dc__x_encode_pid(ei_x_buff *x, ErlDrvTermData pid) {
  if (!DC__IS(pid, DC__TAG_PID))
    return -1;
  ensure_ei();
  erlang_pid p;
  memset(&p, 0, sizeof p);
  strcpy(p.node, "nonode@nohost");
  p.num = (unsigned)DC__IDX(pid);
  return ei_x_encode_pid(x, &p);
}

int dc__x_encode_port(ei_x_buff *x, ErlDrvTermData port) {
  if (!DC__IS(port, DC__TAG_PORT))
    return -1;
  ensure_ei();
  erlang_port p;
  memset(&p, 0, sizeof p);
  strcpy(p.node, "nonode@nohost");
  p.id = DC__IDX(port);
  return ei_x_encode_port(x, &p);
}

int dc__x_encode_term_word(ei_x_buff *x, ErlDrvTermData t) {
  if (t == DC__NIL)
    return ei_x_encode_empty_list(x);
  if (DC__IS(t, DC__TAG_PID))
    return dc__x_encode_pid(x, t);
  if (DC__IS(t, DC__TAG_PORT))
    return dc__x_encode_port(x, t);
  const char *a = dc__atom_text(t);
  if (!a)
    return -1;
  ensure_ei();
  /* Driver atoms are Latin-1 (driver_mk_atom); OTP 25 sends them as UTF-8. */
  return ei_x_encode_atom_len_as(x, a, (int)strlen(a), ERLANG_LATIN1,
                                 ERLANG_UTF8);
}

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
  ensure_ei();
  memcpy(b, etf, len);
  memset(b + len, 0, ETF_PAD);
  int r = etf_walk(b, len, used);
  if (b != small)
    free(b);
  return r;
}

/* ------------------------------------------------------------------------ */
/* Printing like io:format("~w")                                            */

typedef struct wr {
  char *buf;
  size_t cap, len;
  int full; /* output was cut; "..." written */
} wr;

static void put(wr *w, const char *s, size_t n) {
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

static void puts_(wr *w, const char *s) { put(w, s, strlen(s)); }

static void putf(wr *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void putf(wr *w, const char *fmt, ...) {
  char tmp[64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0)
    put(w, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
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

static void put_cp(wr *w, unsigned c) {
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
  put(w, u, (size_t)n);
}

/* io_lib:write_atom: quoted unless a plain name; escapes as ~w writes them. */
static void put_atom(wr *w, const char *utf8) {
  const unsigned char *s = (const unsigned char *)utf8;
  int plain = *s && !reserved_word(utf8);
  if (plain && !lower_start(utf8_next(&s)))
    plain = 0;
  while (plain && *s)
    plain = name_char(utf8_next(&s));
  if (plain) {
    puts_(w, utf8);
    return;
  }
  static const char named[] = "\b\t\n\v\f\r\x1b\x7f", names[] = "btnvfred";
  put(w, "'", 1);
  for (s = (const unsigned char *)utf8; *s;) {
    unsigned c = utf8_next(&s);
    const char *nm = c && c < 0x80 ? strchr(named, (int)c) : NULL;
    if (c == '\'' || c == '\\')
      putf(w, "\\%c", (char)c);
    else if (nm)
      putf(w, "\\%c", names[nm - named]);
    else if (c < 0x20 || (c >= 0x80 && c < 0xA0))
      putf(w, "\\%03o", c);
    else if (c > 0xFF)
      putf(w, "\\x{%X}", c);
    else
      put_cp(w, c);
  }
  put(w, "'", 1);
}

/* Decimal text of a bignum: repeated division of its 16-bit digits. */
static void put_big(wr *w, const char *b, int *i, int nbytes) {
  if (nbytes > 2048) { /* printing would take long; say so */
    ei_decode_big(b, i, NULL);
    puts_(w, "<bignum>");
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
  put(w, txt, t);
  free(txt);
  ei_free_big(big);
}

static void put_bits(wr *w, const char *b, int *i) {
  const char *p;
  unsigned int off;
  size_t nbits;
  ei_decode_bitstring(b, i, &p, &off, &nbits);
  const unsigned char *u = (const unsigned char *)p;
  put(w, "<<", 2);
  size_t nbytes = nbits / 8, rest = nbits % 8;
  for (size_t k = 0; k < nbytes && !w->full; k++)
    putf(w, k ? ",%u" : "%u", u[k]);
  if (rest)
    putf(w, nbytes ? ",%u:%zu" : "%u:%zu", u[nbytes] >> (8 - rest), rest);
  put(w, ">>", 2);
}

static void put_string_ext(wr *w, const char *b, int *i, int n, int open) {
  char small[256];
  char *s = (size_t)n + 1 <= sizeof small ? small : malloc((size_t)n + 1);
  if (!s)
    return;
  ei_decode_string(b, i, s);
  if (open)
    put(w, "[", 1);
  for (int k = 0; k < n && !w->full; k++)
    putf(w, k ? ",%u" : "%u", (unsigned char)s[k]);
  if (s != small)
    free(s);
}

/* Prints one scalar (anything but tuple/list/map) at *i. */
static void put_scalar(wr *w, const char *b, int *i, int tag, int size) {
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
    putf(w, "%ld", l);
    break;
  case ERL_SMALL_BIG_EXT:
  case ERL_LARGE_BIG_EXT:
    if (ei_decode_longlong(b, &(int){*i}, &ll) == 0) {
      ei_decode_longlong(b, i, &ll);
      putf(w, "%lld", ll);
    } else if (ei_decode_ulonglong(b, &(int){*i}, &ull) == 0) {
      ei_decode_ulonglong(b, i, &ull);
      putf(w, "%llu", ull);
    } else {
      put_big(w, b, i, size);
    }
    break;
  case ERL_FLOAT_EXT:
  case NEW_FLOAT_EXT:
    dc__etf_decode_double(b, i, &d);
    fmt_float(d, txt, sizeof txt);
    puts_(w, txt);
    break;
  case ERL_ATOM_EXT:
  case ERL_SMALL_ATOM_EXT:
  case ERL_ATOM_UTF8_EXT:
  case ERL_SMALL_ATOM_UTF8_EXT:
    ei_decode_atom_as(b, i, txt, sizeof txt, ERLANG_UTF8, NULL, NULL);
    put_atom(w, txt);
    break;
  case ERL_STRING_EXT:
    put_string_ext(w, b, i, size, 1);
    put(w, "]", 1);
    break;
  case ERL_NIL_EXT:
    ei_decode_list_header(b, i, &size);
    put(w, "[]", 2);
    break;
  case ERL_BINARY_EXT:
  case ERL_BIT_BINARY_EXT:
    put_bits(w, b, i);
    break;
  case ERL_PID_EXT:
  case ERL_NEW_PID_EXT:
    ei_decode_pid(b, i, &pid);
    putf(w, "<0.%u.%u>", pid.num, pid.serial);
    break;
  case ERL_PORT_EXT:
  case ERL_NEW_PORT_EXT:
  case ERL_V4_PORT_EXT:
    ei_decode_port(b, i, &port);
    putf(w, "#Port<0.%llu>", (unsigned long long)port.id);
    break;
  default: /* references: the last number of ~w is the first in ETF */
    ei_decode_ref(b, i, &ref);
    put(w, "#Ref<0", 6);
    for (int k = ref.len; k-- > 0;)
      putf(w, ".%u", ref.n[k]);
    put(w, ">", 1);
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

static int print_walk(wr *w, const char *b, int i) {
  frame stk_small[64], *stk = stk_small;
  size_t depth = 0, cap = 64;
  int top = 1; /* the root term is still to print */
  while (!w->full && (top || depth > 0)) {
    frame *f = depth ? &stk[depth - 1] : NULL;
    if (!top && f->left == 0) { /* container finished */
      put(w, f->kind == 't' ? "}" : f->kind == 'm' ? "}" : "]", 1);
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
          put(w, ",", 1);
        put_string_ext(w, b, &i, size, 0);
        continue;
      }
      put(w, "|", 1);
      f->tail = 1;
      f->left = 1;
    } else if (!top && f->done > 0) {
      put(w, f->kind == 'm' && f->done % 2 ? " => " : ",",
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
        nf.kind = 'l', nf.left = n + 1L, put(w, "[", 1);
      } else if (tag == ERL_MAP_EXT) {
        ei_decode_map_header(b, &i, &n);
        nf.kind = 'm', nf.left = 2L * n, put(w, "#{", 2);
      } else {
        ei_decode_tuple_header(b, &i, &n);
        nf.kind = 't', nf.left = n, put(w, "{", 1);
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
  wr w = {buf, cap, 0, 0};
  print_walk(&w, etf, 1);
  buf[w.len] = '\0';
  return 0;
}

/* A term word as ~w prints it (pids, ports, atoms, []). */
static void put_word(wr *w, ErlDrvTermData t) {
  if (t == DC__NIL)
    put(w, "[]", 2);
  else if (DC__IS(t, DC__TAG_PID))
    putf(w, "<0.%lu.0>", (unsigned long)DC__IDX(t));
  else if (DC__IS(t, DC__TAG_PORT))
    putf(w, "#Port<0.%lu>", (unsigned long)DC__IDX(t));
  else if (dc__atom_text(t)) {
    char u[2 * ATOM_LEN_MAX + 1], *o = u; /* Latin-1 name as UTF-8 */
    for (const unsigned char *c = (const void *)dc__atom_text(t); *c; c++)
      if (*c < 0x80)
        *o++ = (char)*c;
      else
        *o++ = (char)(0xC0 | (*c >> 6)), *o++ = (char)(0x80 | (*c & 0x3F));
    *o = '\0';
    put_atom(w, u);
  } else
    putf(w, "?%#lx", (unsigned long)t);
}

/* Trace line layout (fixed; tests compare against it):
 *   DC__EV_MSG            "<to> <- <term>"        e.g. <0.80.0> <-
 * {#Port<0.3>,{data,[104,105]}} DC__EV_OPEN           "open <term>" e.g. open
 * #Port<0.3>, open {error,einval} DC__EV_CONTROL_REPLY  "control <from> ->
 * <term>" DC__EV_CALL_REPLY     "call <from> -> <term>" DC__EV_COMMAND "command
 * <from> -> <term>" DC__EV_PORT_EXIT      "exit <from> -> <term>" where <from>
 * is the port the event concerns. */
int dc__event_print(const dc__event *ev, char *buf, size_t cap) {
  static const char *const verbs[] = {"",     "<-",      "open", "control",
                                      "call", "command", "exit"};
  if (!ev || !buf || cap == 0 || ev->kind < DC__EV_MSG ||
      ev->kind > DC__EV_PORT_EXIT)
    return -1;
  wr w = {buf, cap, 0, 0};
  if (ev->kind == DC__EV_MSG) {
    put_word(&w, ev->to);
    put(&w, " <- ", 4);
  } else {
    puts_(&w, verbs[ev->kind]);
    put(&w, " ", 1);
    if (ev->kind != DC__EV_OPEN) {
      put_word(&w, ev->from);
      put(&w, " -> ", 4);
    }
  }
  int rc = 0;
  if (dc__etf_check(ev->etf, ev->len, NULL) == 0)
    print_walk(&w, ev->etf, 1);
  else
    puts_(&w, "<bad etf>"), rc = -1;
  buf[w.len] = '\0';
  return rc;
}
