/* Term building: driver_mk_* and the ERL_DRV_* term specs of
 * erl_drv_output_term / erl_drv_send_term (and the deprecated driver_*
 * forms).
 *
 * A spec is checked and built in two passes, like io.c driver_deliver_term:
 * pass 1 validates the structure (bad spec => -1 before anything else);
 * only then is the receiver looked up (dead => 0); pass 2 builds the ETF,
 * and can still fail on a non-finite float or a duplicate map key (=> -1,
 * after the receiver check, exactly where ERTS fails them).
 *
 * Pass 1 turns the reverse-Polish spec into a node array (one node per
 * pushed term, children in a pool); pass 2 encodes from the root with
 * ei_x_encode_*. List tails are followed iteratively, so a long list built
 * cons by cons does not nest the encoder. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const ErlDrvTermData driver_term_nil = DC__NIL;

typedef struct tnode {
  const ErlDrvTermData *w; /* the opcode word; arguments follow it */
  int kids;                /* first child in the pool */
  int nkids;
  size_t ext_used; /* ERL_DRV_EXT2TERM: bytes of version + term */
} tnode;

typedef struct tctx {
  tnode *nodes;
  int nnodes;
  int *pool; /* children of all nodes */
  int npool;
  int *stack;
  int depth;
  const char *api;
  const void *site; /* the driver's call site, for findings */
  int late;         /* failed in pass 2 (after the receiver check in ERTS) */
} tctx;

#define SMALL_SPEC 64 /* specs up to this many words use no heap */

/* Arguments after each opcode (index = opcode), -1 = unknown opcode. */
static int op_args(ErlDrvTermData op) {
  static const signed char args[] = {-1,
                                     0 /*NIL*/,
                                     1 /*ATOM*/,
                                     1 /*INT*/,
                                     1 /*PORT*/,
                                     3 /*BINARY*/,
                                     2 /*STRING*/,
                                     1 /*TUPLE*/,
                                     1 /*LIST*/,
                                     2 /*STRING_CONS*/,
                                     1 /*PID*/,
                                     1 /*FLOAT*/,
                                     2 /*EXT2TERM*/,
                                     1 /*UINT*/,
                                     2 /*BUF2BINARY*/,
                                     1 /*INT64*/,
                                     1 /*UINT64*/,
                                     1 /*MAP*/};
  return op < sizeof args ? args[op] : -1;
}

/* ------------------------------------------------------------------------ */
/* Pass 1: structure                                                         */

#define FAIL(rule, ...)                                                        \
  do {                                                                         \
    dc__flag_at(DC_RULE_##rule, c->api, c->site, __VA_ARGS__);                 \
    return -1;                                                                 \
  } while (0)

/* Pops `k` terms into a new node's children and pushes the node. */
static int reduce(tctx *c, const ErlDrvTermData *w, int k) {
  tnode *nd = &c->nodes[c->nnodes];
  nd->w = w;
  nd->kids = c->npool;
  nd->nkids = k;
  nd->ext_used = 0;
  memcpy(c->pool + c->npool, c->stack + c->depth - k, (size_t)k * sizeof(int));
  c->npool += k;
  c->depth -= k;
  c->stack[c->depth++] = c->nnodes++;
  return 0;
}

static int check_binary(tctx *c, const ErlDrvTermData *a, int at) {
  const ErlDrvBinary *b = (const ErlDrvBinary *)a[0];
  if (!b)
    FAIL(TERM_BAD_REF, "ERL_DRV_BINARY with a NULL binary (word %d)", at);
  if (!dc__bin_valid(b))
    FAIL(TERM_BAD_REF,
         "ERL_DRV_BINARY %p is not a live driver binary (word %d)",
         (const void *)b, at);
  ErlDrvUInt size = a[1], off = a[2], all = (ErlDrvUInt)b->orig_size;
  if (off > all || size > all - off)
    FAIL(BIN_RANGE, "ERL_DRV_BINARY [%lu,+%lu) outside a %lu-byte binary",
         (unsigned long)off, (unsigned long)size, (unsigned long)all);
  return 0;
}

/* Checks one opcode's arguments; 0, -1 (finding reported) or -2 (invalid
 * without a finding: a term the mock cannot decode). */
static int check_op(tctx *c, const ErlDrvTermData *w, int at) {
  const ErlDrvTermData *a = w + 1; /* only as many words as the opcode has */
  switch (*w) {
  case ERL_DRV_ATOM:
    if (!dc__atom_text(a[0]))
      FAIL(TERM_BAD_REF, "ERL_DRV_ATOM %#lx not made by driver_mk_atom",
           (unsigned long)a[0]);
    return 0;
  case ERL_DRV_PORT:
    if (!DC__IS(a[0], DC__TAG_PORT))
      FAIL(TERM_BAD_REF, "ERL_DRV_PORT %#lx not made by driver_mk_port",
           (unsigned long)a[0]);
    return 0;
  case ERL_DRV_PID:
    if (!dc__proc_known(a[0]))
      FAIL(TERM_BAD_REF,
           "ERL_DRV_PID %#lx is not a pid from driver_connected/"
           "driver_caller",
           (unsigned long)a[0]);
    return 0;
  case ERL_DRV_BINARY:
    return check_binary(c, a, at);
  case ERL_DRV_STRING:
  case ERL_DRV_STRING_CONS:
    if (!a[0] || (int)a[1] < 0)
      FAIL(TERM_MALFORMED, "string with %s (word %d)",
           a[0] ? "a negative length" : "a NULL pointer", at);
    if (*w == ERL_DRV_STRING_CONS && c->depth < 1)
      FAIL(TERM_MALFORMED, "ERL_DRV_STRING_CONS without a tail (word %d)", at);
    return 0;
  case ERL_DRV_TUPLE:
  case ERL_DRV_LIST:
  case ERL_DRV_MAP: {
    int k = (int)a[0];
    int min = *w == ERL_DRV_LIST ? 1 : 0;
    if (k < min || (*w == ERL_DRV_MAP && k > 0x3fffffff))
      FAIL(TERM_MALFORMED, "%s count %d (word %d)",
           *w == ERL_DRV_LIST  ? "ERL_DRV_LIST"
           : *w == ERL_DRV_MAP ? "ERL_DRV_MAP"
                               : "ERL_DRV_TUPLE",
           k, at);
    /* Only now: 2 * k overflows for a negative map count. */
    int pops = *w == ERL_DRV_MAP ? 2 * k : k;
    if (c->depth < pops)
      FAIL(TERM_MALFORMED, "needs %d terms, %d on the stack (word %d)", pops,
           c->depth, at);
    return 0;
  }
  case ERL_DRV_FLOAT:
  case ERL_DRV_INT64:
  case ERL_DRV_UINT64:
    if (!a[0]) /* the emulator dereferences it and crashes */
      FAIL(TERM_MALFORMED, "NULL value pointer (word %d)", at);
    return 0;
  case ERL_DRV_BUF2BINARY:
    if (!a[0] && a[1] > 0)
      FAIL(TERM_MALFORMED, "ERL_DRV_BUF2BINARY NULL buffer of %lu bytes",
           (unsigned long)a[1]);
    return 0;
  case ERL_DRV_EXT2TERM: {
    if (!a[0] || (ErlDrvSInt)a[1] <= 0)
      FAIL(TERM_BAD_EXT, "ERL_DRV_EXT2TERM with no data (word %d)", at);
    int r = dc__etf_check((const char *)a[0], (size_t)a[1],
                          &c->nodes[c->nnodes].ext_used);
    if (r == -1)
      FAIL(TERM_BAD_EXT, "ERL_DRV_EXT2TERM bytes are not external format");
    return r;
  }
  default:
    return 0;
  }
}

/* Pops/pushes for one checked opcode. */
static void apply_op(tctx *c, const ErlDrvTermData *w) {
  int k = op_args(*w) ? (int)w[1] : 0;
  size_t ext = c->nodes[c->nnodes].ext_used;
  switch (*w) {
  case ERL_DRV_TUPLE:
  case ERL_DRV_LIST:
    reduce(c, w, k);
    break;
  case ERL_DRV_MAP:
    reduce(c, w, 2 * k);
    break;
  case ERL_DRV_STRING_CONS:
    reduce(c, w, 1);
    break;
  default:
    reduce(c, w, 0);
    break;
  }
  c->nodes[c->nnodes - 1].ext_used = ext;
}

static int parse(tctx *c, const ErlDrvTermData *spec, int n) {
  int at = 0;
  while (at < n) {
    const ErlDrvTermData *w = spec + at;
    int nargs = op_args(*w);
    if (nargs < 0)
      FAIL(TERM_MALFORMED, "unknown opcode %lu at word %d", (unsigned long)*w,
           at);
    if (at + nargs >= n)
      FAIL(TERM_MALFORMED, "opcode %lu at word %d lacks its %d argument(s)",
           (unsigned long)*w, at, nargs);
    c->nodes[c->nnodes].ext_used = 0;
    int r = check_op(c, w, at);
    if (r < 0)
      return r;
    apply_op(c, w);
    at += 1 + nargs;
  }
  if (c->depth != 1)
    FAIL(TERM_MALFORMED, "spec of %d words leaves %d terms, not 1", n,
         c->depth);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Pass 2: encoding                                                          */

static int enc(tctx *c, ei_x_buff *x, int id);

#define NODE_OP(c, id) (*(c)->nodes[id].w)
#define KID(c, nd, i) ((c)->pool[(nd)->kids + (i)])

static int is_byte(tctx *c, int id) {
  const ErlDrvTermData *w = c->nodes[id].w;
  if (*w == ERL_DRV_INT)
    return (ErlDrvSInt)w[1] >= 0 && (ErlDrvSInt)w[1] <= 255;
  return *w == ERL_DRV_UINT && w[1] <= 255;
}

/* Emits the elements of a list chain (or collects them as bytes when out is
 * non-NULL); returns the final tail node, -1 for [], and counts elements. */
static int list_chain(tctx *c, ei_x_buff *x, int id, long *count, int *bytes,
                      unsigned char *out) {
  for (;;) {
    const tnode *nd = &c->nodes[id];
    ErlDrvTermData op = *nd->w;
    if (op == ERL_DRV_NIL)
      return -1;
    if (op != ERL_DRV_LIST && op != ERL_DRV_STRING && op != ERL_DRV_STRING_CONS)
      return id;
    if (op == ERL_DRV_LIST) {
      for (int i = 0; i + 1 < nd->nkids; i++) {
        int e = KID(c, nd, i);
        if (out)
          *out++ = (unsigned char)c->nodes[e].w[1];
        else if (x && enc(c, x, e) < 0)
          return -2;
        *bytes &= is_byte(c, e);
      }
      *count += nd->nkids - 1;
      id = KID(c, nd, nd->nkids - 1);
      continue;
    }
    const unsigned char *s = (const unsigned char *)nd->w[1];
    size_t len = (size_t)(int)nd->w[2];
    if (out)
      memcpy(out, s, len), out += len;
    else if (x)
      for (size_t i = 0; i < len; i++)
        if (ei_x_encode_long(x, s[i]) < 0)
          return -2;
    *count += (long)len;
    if (op == ERL_DRV_STRING)
      return -1;
    id = KID(c, nd, 0);
  }
}

/* A list with its tail chain flattened, as term_to_binary would write it:
 * STRING_EXT for a proper list of bytes, else LIST_EXT. */
static int enc_list(tctx *c, ei_x_buff *x, int id) {
  long total = 0;
  int bytes = 1, tail = list_chain(c, NULL, id, &total, &bytes, NULL);
  if (total == 0)
    return tail < 0 ? ei_x_encode_empty_list(x) : enc(c, x, tail);
  if (bytes && tail < 0 && total <= 65535) {
    unsigned char *buf = malloc((size_t)total);
    if (!buf)
      return -1;
    long n = 0;
    list_chain(c, NULL, id, &n, &bytes, buf);
    int r = ei_x_encode_string_len(x, (const char *)buf, (int)total);
    free(buf);
    return r;
  }
  if (ei_x_encode_list_header(x, total) < 0)
    return -1;
  long n = 0;
  if (list_chain(c, x, id, &n, &bytes, NULL) == -2)
    return -1;
  return tail < 0 ? ei_x_encode_empty_list(x) : enc(c, x, tail);
}

/* ---- Erlang term order on encoded keys (for map key order) ---- */

static int term_rank(int tag) {
  switch (tag) {
  case ERL_SMALL_INTEGER_EXT:
  case ERL_INTEGER_EXT:
  case ERL_SMALL_BIG_EXT:
  case ERL_LARGE_BIG_EXT:
  case ERL_FLOAT_EXT:
  case NEW_FLOAT_EXT:
    return 0;
  case ERL_ATOM_EXT:
  case ERL_SMALL_ATOM_EXT:
  case ERL_ATOM_UTF8_EXT:
  case ERL_SMALL_ATOM_UTF8_EXT:
    return 1;
  case ERL_NEW_PORT_EXT:
  case ERL_PORT_EXT:
  case ERL_V4_PORT_EXT:
    return 4;
  case ERL_NEW_PID_EXT:
  case ERL_PID_EXT:
    return 5;
  case ERL_SMALL_TUPLE_EXT:
  case ERL_LARGE_TUPLE_EXT:
    return 6;
  case ERL_MAP_EXT:
    return 7;
  case ERL_NIL_EXT:
    return 8;
  case ERL_LIST_EXT:
  case ERL_STRING_EXT:
    return 9;
  case ERL_BINARY_EXT:
  case ERL_BIT_BINARY_EXT:
    return 10;
  default:
    return 3;
  }
}

static int sign(long double d) { return d < 0 ? -1 : d > 0; }

/* Number as long double; *is_float set. Huge bignums compare as 0. */
static long double num(const char *b, int i, int *is_float) {
  EI_LONGLONG ll;
  EI_ULONGLONG ull;
  double d;
  *is_float = 0;
  if (ei_decode_longlong(b, &i, &ll) == 0)
    return (long double)ll;
  if (ei_decode_ulonglong(b, &i, &ull) == 0)
    return (long double)ull;
  *is_float = dc__etf_decode_double(b, &i, &d) == 0;
  return *is_float ? d : 0;
}

/* Compares the terms at *ia and *ib; on equality both are advanced past. */
static int cmp_term(const char *a, int *ia, const char *b, int *ib) {
  int ta = (unsigned char)a[*ia], tb = (unsigned char)b[*ib];
  int ra = term_rank(ta), rb = term_rank(tb), fa, fb, na, nb;
  if (ra != rb)
    return ra < rb ? -1 : 1;
  if (ra == 0) {
    long double x = num(a, *ia, &fa), y = num(b, *ib, &fb);
    if (x != y || fa != fb)
      return x != y ? sign(x - y) : (fa ? 1 : -1); /* 1 before 1.0 */
  } else if (ra == 1) {
    char sa[MAXATOMLEN_UTF8], sb[MAXATOMLEN_UTF8];
    int ja = *ia, jb = *ib;
    ei_decode_atom_as(a, &ja, sa, sizeof sa, ERLANG_UTF8, NULL, NULL);
    ei_decode_atom_as(b, &jb, sb, sizeof sb, ERLANG_UTF8, NULL, NULL);
    int r = strcmp(sa, sb);
    if (r)
      return r < 0 ? -1 : 1;
  } else if (ra == 6) {
    ei_decode_tuple_header(a, ia, &na);
    ei_decode_tuple_header(b, ib, &nb);
    if (na != nb)
      return na < nb ? -1 : 1;
    for (int k = 0; k < na; k++) {
      int r = cmp_term(a, ia, b, ib);
      if (r)
        return r;
    }
    return 0;
  }
  /* Same kind otherwise: order by the encoding (exact for binaries, pids,
   * ports of equal size; an approximation for lists and maps). */
  int ea = *ia, eb = *ib;
  ei_skip_term(a, &ea);
  ei_skip_term(b, &eb);
  int la = ea - *ia, lb = eb - *ib;
  int r = memcmp(a + *ia, b + *ib, (size_t)(la < lb ? la : lb));
  if (r || la != lb)
    return r ? (r < 0 ? -1 : 1) : (la < lb ? -1 : 1);
  *ia = ea, *ib = eb;
  return 0;
}

typedef struct mkey {
  int off, len, val;
} mkey;

static int cmp_keys(const void *p, const void *q, void *base) {
  const mkey *x = p, *y = q;
  int ia = x->off, ib = y->off;
  return cmp_term(base, &ia, base, &ib);
}

/* Small maps as ERTS builds them: keys in term order (that is the order
 * ~w prints); duplicate keys make the spec fail. */
static int enc_map(tctx *c, ei_x_buff *x, const tnode *nd) {
  int k = nd->nkids / 2, r = -1;
  if (k == 0)
    return ei_x_encode_map_header(x, 0);
  ei_x_buff kb;
  mkey *keys = malloc((size_t)k * sizeof *keys);
  if (!keys || ei_x_new(&kb) < 0) {
    free(keys);
    return -1;
  }
  for (int i = 0; i < k; i++) {
    keys[i].off = kb.index;
    if (enc(c, &kb, KID(c, nd, 2 * i)) < 0)
      goto out;
    keys[i].len = kb.index - keys[i].off;
    keys[i].val = KID(c, nd, 2 * i + 1);
  }
  qsort_r(keys, (size_t)k, sizeof *keys, cmp_keys, kb.buff);
  for (int i = 1; i < k; i++)
    if (keys[i].len == keys[i - 1].len &&
        memcmp(kb.buff + keys[i].off, kb.buff + keys[i - 1].off,
               (size_t)keys[i].len) == 0) {
      c->late = 1;
      dc__flag_at(DC_RULE_TERM_MALFORMED, c->api, c->site,
                  "ERL_DRV_MAP with a duplicate key");
      goto out;
    }
  if (ei_x_encode_map_header(x, k) < 0)
    goto out;
  for (int i = 0; i < k; i++)
    if (ei_x_append_buf(x, kb.buff + keys[i].off, keys[i].len) < 0 ||
        enc(c, x, keys[i].val) < 0)
      goto out;
  r = 0;
out:
  ei_x_free(&kb);
  free(keys);
  return r;
}

static int enc(tctx *c, ei_x_buff *x, int id) {
  const tnode *nd = &c->nodes[id];
  const ErlDrvTermData *a = nd->w + 1;
  switch (*nd->w) {
  case ERL_DRV_NIL:
    return ei_x_encode_empty_list(x);
  case ERL_DRV_ATOM:
  case ERL_DRV_PORT:
  case ERL_DRV_PID:
    return dc__x_encode_term_word(x, a[0]);
  case ERL_DRV_INT:
    return ei_x_encode_longlong(x, (ErlDrvSInt)a[0]);
  case ERL_DRV_UINT:
    return ei_x_encode_ulonglong(x, (ErlDrvUInt)a[0]);
  case ERL_DRV_INT64:
    return ei_x_encode_longlong(x, *(const ErlDrvSInt64 *)a[0]);
  case ERL_DRV_UINT64:
    return ei_x_encode_ulonglong(x, *(const ErlDrvUInt64 *)a[0]);
  case ERL_DRV_FLOAT: {
    double d = *(const double *)a[0];
    if (!isfinite(d)) {
      c->late = 1;
      dc__flag_at(DC_RULE_TERM_MALFORMED, c->api, c->site,
                  "ERL_DRV_FLOAT %f is not finite", d);
      return -1;
    }
    return ei_x_encode_double(x, d);
  }
  case ERL_DRV_BINARY: {
    const ErlDrvBinary *b = (const ErlDrvBinary *)a[0];
    return ei_x_encode_binary(x, b->orig_bytes + a[2], (int)a[1]);
  }
  case ERL_DRV_BUF2BINARY:
    return ei_x_encode_binary(x, a[0] ? (const char *)a[0] : "", (int)a[1]);
  case ERL_DRV_EXT2TERM: /* splice the validated term after its 131 */
    return ei_x_append_buf(x, (const char *)a[0] + 1, (int)nd->ext_used - 1);
  case ERL_DRV_TUPLE:
    if (ei_x_encode_tuple_header(x, nd->nkids) < 0)
      return -1;
    for (int i = 0; i < nd->nkids; i++)
      if (enc(c, x, KID(c, nd, i)) < 0)
        return -1;
    return 0;
  case ERL_DRV_MAP:
    return enc_map(c, x, nd);
  default: /* LIST, STRING, STRING_CONS */
    return enc_list(c, x, id);
  }
}

/* Pass 2 without its output, for a message nobody records (trace off):
 * reports exactly what enc would. Every node is reachable from the root and
 * the spec is in postfix order, so node order is the encoder's order for
 * leaves; map key order differs (sorted), so a spec with a map is encoded
 * into a scratch buffer instead. */
static int late_checks(tctx *c) {
  for (int i = 0; i < c->nnodes; i++)
    if (NODE_OP(c, i) == ERL_DRV_MAP) {
      ei_x_buff x;
      if (ei_x_new(&x) < 0)
        return -1;
      int r = enc(c, &x, c->stack[0]);
      ei_x_free(&x);
      return r;
    }
  for (int i = 0; i < c->nnodes; i++) {
    int op = (int)NODE_OP(c, i);
    const ErlDrvTermData *a = c->nodes[i].w + 1;
    /* The bytes ERTS copies into the message are read even unencoded: a
     * bad pointer or length must fault (or trip ASan) here as in ERTS. */
    if (op == ERL_DRV_STRING || op == ERL_DRV_STRING_CONS ||
        (op == ERL_DRV_BUF2BINARY && a[0]))
      dc__touch((const void *)a[0], (size_t)a[1]);
  }
  for (int i = 0; i < c->nnodes; i++)
    if (NODE_OP(c, i) == ERL_DRV_FLOAT) {
      double d = *(const double *)c->nodes[i].w[1];
      if (!isfinite(d)) {
        c->late = 1;
        dc__flag_at(DC_RULE_TERM_MALFORMED, c->api, c->site,
                    "ERL_DRV_FLOAT %f is not finite", d);
        return -1;
      }
    }
  return 0;
}

/* Both passes (x NULL: the output is not wanted, checks only). *late = 1
 * when the failure was in pass 2. */
static int term_build(const ErlDrvTermData *spec, int n, ei_x_buff *x,
                      const char *api, const void *site, int *late) {
  tnode nodes_small[SMALL_SPEC];
  int ints_small[2 * SMALL_SPEC];
  tctx ctx = {nodes_small, 0,   ints_small, 0, ints_small + SMALL_SPEC,
              0,           api, site,       0};
  tctx *c = &ctx;
  *late = 0;
  if (!spec || n <= 0)
    FAIL(TERM_MALFORMED, "empty term spec (%d words)", n);
  if (n > SMALL_SPEC) {
    ctx.nodes = malloc((size_t)n * sizeof *ctx.nodes);
    ctx.pool = malloc(2 * (size_t)n * sizeof *ctx.pool);
    if (!ctx.nodes || !ctx.pool) {
      free(ctx.nodes == nodes_small ? NULL : ctx.nodes);
      free(ctx.pool == ints_small ? NULL : ctx.pool);
      return -1;
    }
    ctx.stack = ctx.pool + n;
  }
  int r = parse(c, spec, n);
  if (r == 0 && !x)
    r = late_checks(c);
  else if (r == 0)
    r = ei_x_encode_version(x) < 0 || enc(c, x, ctx.stack[0]) < 0 ? -1 : 0;
  *late = ctx.late;
  if (ctx.nodes != nodes_small) {
    free(ctx.nodes);
    free(ctx.pool);
  }
  return r < 0 ? -1 : 0;
}

int dc__term_build(const ErlDrvTermData *spec, int n, ei_x_buff *x,
                   const char *api) {
  int late;
  return term_build(spec, n, x, api, __builtin_return_address(0), &late);
}

/* ------------------------------------------------------------------------ */
/* Sending                                                                   */

/* The ERL_DRV_BINARY slices of a sent (hence valid) spec are shared with
 * the message from now on (bin.write_after_delivery). */
static void record_binaries(const ErlDrvTermData *w, int n, const char *api,
                            const void *site) {
  for (int i = 0; i < n;) {
    int k = op_args(w[i]);
    if (k < 0)
      return;
    if (w[i] == ERL_DRV_BINARY && i + 3 < n) {
      ErlDrvBinary *b = (ErlDrvBinary *)w[i + 1];
      dc__dlv_record(b, b->orig_bytes + w[i + 3], (size_t)w[i + 2],
                     DC__DLV_SENT, api, site);
    }
    i += 1 + k;
  }
}

/* Builds and delivers one message: -1 bad spec, 0 receiver gone, 1 sent. */
static int send_term(dc__port *p, ErlDrvTermData to, ErlDrvTermData *data,
                     int len, const char *api, const void *site) {
  ei_x_buff x, *xp = NULL;
  /* The encoded term only goes into the trace: with it off, check only. */
  if (dc__g.trace_enabled) {
    if (ei_x_new(&x) < 0)
      return -1;
    xp = &x;
  }
  int late, r = term_build(data, len, xp, api, site, &late);
  if (r < 0 && !late)
    r = -1;
  else if (!dc__proc_alive(to))
    r = 0;
  else if (r == 0) {
    if (xp)
      dc__trace_add(DC__EV_MSG, to, p ? p->id : DC__NIL, x.buff,
                    (size_t)x.index);
    record_binaries(data, len, api, site);
    r = 1;
  }
  if (xp)
    ei_x_free(xp);
  return r;
}

static int closing(const dc__port *p) {
  return atomic_load(&p->state) == DC__PORT_CLOSING;
}

int erl_drv_output_term(ErlDrvTermData port, ErlDrvTermData *data, int len) {
  DC__API_HEAVY(erl_drv_output_term);
  dc__port *p = dc__port_by_term(port);
  if (!p)
    return -1;
  if (closing(p))
    return 0;
  return send_term(p, p->owner, data, len, "erl_drv_output_term",
                   __builtin_return_address(0));
}

int erl_drv_send_term(ErlDrvTermData port, ErlDrvTermData to,
                      ErlDrvTermData *data, int len) {
  DC__API_HEAVY(erl_drv_send_term);
  dc__port *p = dc__port_by_term(port);
  if (!p)
    return -1;
  if (closing(p))
    return 0;
  return send_term(p, to, data, len, "erl_drv_send_term",
                   __builtin_return_address(0));
}

int driver_output_term(ErlDrvPort ix, ErlDrvTermData *data, int len) {
  DC__OVERHEAD(); /* term building and the trace: harness-only cost */
  dc__port *p = DC__API_PORT(driver_output_term, ix);
  if (!p)
    return -1;
  if (closing(p))
    return 0;
  return send_term(p, p->owner, data, len, "driver_output_term",
                   __builtin_return_address(0));
}

/* From a non-emulator thread ERTS does not look at the port at all and the
 * message has no port as sender (io.c driver_send_term). */
int driver_send_term(ErlDrvPort ix, ErlDrvTermData to, ErlDrvTermData *data,
                     int len) {
  DC__OVERHEAD();
  dc__port *p = NULL;
  if (dc__tls.kind == DC__THR_EMU) {
    p = DC__API_PORT(driver_send_term, ix);
    if (!p)
      return -1;
    if (closing(p))
      return 0;
  } else {
    DC__API(driver_send_term); /* the port is not looked at: no dead_port */
  }
  return send_term(p, to, data, len, "driver_send_term",
                   __builtin_return_address(0));
}

/* ------------------------------------------------------------------------ */
/* Term words                                                                */

ErlDrvTermData driver_mk_atom(char *string) {
  DC__API(driver_mk_atom);
  return dc__atom(string);
}

ErlDrvTermData driver_mk_port(ErlDrvPort port) {
  dc__port *p = DC__API_PORT(driver_mk_port, port);
  return p ? p->id : DC__NIL;
}

ErlDrvTermData driver_connected(ErlDrvPort port) {
  dc__port *p = DC__API_PORT(driver_connected, port);
  return p ? p->owner : DC__NIL;
}

/* Only meaningful inside start/output/outputv/control/call: the callback
 * framing (dc__cb_enter) sets port->caller around those and clears it. */
ErlDrvTermData driver_caller(ErlDrvPort port) {
  dc__port *p = DC__API_PORT(driver_caller, port);
  return p && p->caller ? p->caller : DC__NIL;
}

ErlDrvTermData driver_mk_term_nil(void) {
  DC__API(driver_mk_term_nil);
  return driver_term_nil;
}
