/* drvcheck_fuzz_etf: the harness's external term format handling.
 *
 * The input is used twice:
 *  1. as ETF bytes: dc__etf_check, then dc__etf_print into a small and a
 *     large buffer. Invariants: `used` stays inside the input, a term the
 *     check accepts also prints, the printed text is NUL-terminated.
 *  2. as a program that builds an ERL_DRV_* term spec (the arrays drivers
 *     pass to erl_drv_output_term): opcodes and integer arguments come from
 *     the bytes, pointer arguments always point at valid memory (slices of
 *     the input, live or foreign binaries, value cells), as a driver's
 *     pointers would. dc__term_build must accept or reject it without
 *     crashing; a term it builds must pass dc__etf_check with exactly its
 *     length and print.
 * A violated invariant prints what and aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define MAX_WORDS 512

static ErlDrvTermData atoms[4], pids[2];
static ErlDrvBinary *bins[2];

static void fail(const char *what) {
  fprintf(stderr, "drvcheck_fuzz_etf: %s\n", what);
  abort();
}

static void init_once(void) {
  static int done;
  if (done)
    return;
  done = 1;
  dc__tls.kind = DC__THR_EMU; /* act as the emulator thread */
  dc__emu_reset(1);
  atoms[0] = dc__atom("ok");
  atoms[1] = dc__atom("error");
  atoms[2] = dc__atom("");
  atoms[3] = dc__atom("drvcheck");
  pids[0] = dc__proc_spawn("p0");
  pids[1] = dc__proc_spawn("p1");
  for (int i = 0; i < 2; i++) {
    bins[i] = driver_alloc_binary(16 + 16 * i);
    memset(bins[i]->orig_bytes, 'a' + i, (size_t)bins[i]->orig_size);
  }
}

static void check_print(const char *etf, size_t len, int must_print) {
  static char big[1 << 16];
  char small[24];
  if (dc__etf_print(etf, len, small, sizeof small) == 0 &&
      strnlen(small, sizeof small) == sizeof small)
    fail("dc__etf_print left a small buffer unterminated");
  int rc = dc__etf_print(etf, len, big, sizeof big);
  if (must_print && rc != 0)
    fail("dc__etf_check accepted a term dc__etf_print rejects");
}

static void as_etf(const uint8_t *data, size_t size) {
  size_t used = 0;
  int rc = dc__etf_check((const char *)data, size, &used);
  if (rc == 0 && (used < 2 || used > size))
    fail("dc__etf_check: used outside the input");
  check_print((const char *)data, size, rc == 0);
}

/* Input reader: exhausted input reads as zeros. */
typedef struct rd {
  const uint8_t *p;
  size_t n, i;
} rd;

static unsigned b8(rd *r) { return r->i < r->n ? r->p[r->i++] : 0; }

static uint64_t b64(rd *r) {
  uint64_t v = 0;
  for (int k = 0; k < 8; k++)
    v = v << 8 | b8(r);
  return v;
}

/* A slice of the input: offset and length inside it. */
static void slice(rd *r, ErlDrvTermData *w) {
  size_t off = r->n ? b8(r) % (r->n + 1) : 0;
  size_t len = b8(r);
  if (len > r->n - off)
    len = r->n - off;
  w[0] = (ErlDrvTermData)(r->p + off);
  w[1] = len;
}

static const ErlDrvTermData ops[] = {
    ERL_DRV_NIL,    ERL_DRV_ATOM,        ERL_DRV_INT,   ERL_DRV_PORT,
    ERL_DRV_BINARY, ERL_DRV_STRING,      ERL_DRV_TUPLE, ERL_DRV_LIST,
    ERL_DRV_PID,    ERL_DRV_STRING_CONS, ERL_DRV_FLOAT, ERL_DRV_EXT2TERM,
    ERL_DRV_UINT,   ERL_DRV_BUF2BINARY,  ERL_DRV_INT64, ERL_DRV_UINT64,
    ERL_DRV_MAP};
#define NOPS (sizeof ops / sizeof ops[0])

/* Decodes one opcode and its arguments into w (room for 4 words); value
 * cells for pointer arguments live in cells. Returns words written. */
static int decode_op(rd *r, ErlDrvTermData *w, uint64_t *cell) {
  unsigned c = b8(r);
  ErlDrvTermData op = c >= 250 ? b8(r) : ops[c % NOPS]; /* also bad opcodes */
  unsigned a = b8(r);
  w[0] = op;
  switch (op) {
  case ERL_DRV_NIL:
    return 1;
  case ERL_DRV_ATOM:
    w[1] = a < 200 ? atoms[a % 4] : b64(r);
    return 2;
  case ERL_DRV_PID:
    w[1] = a < 200 ? pids[a % 2] : b64(r);
    return 2;
  case ERL_DRV_PORT:
  case ERL_DRV_INT:
  case ERL_DRV_UINT:
    w[1] = a < 128 ? (ErlDrvTermData)(int8_t)a : b64(r);
    return 2;
  case ERL_DRV_TUPLE:
  case ERL_DRV_LIST:
  case ERL_DRV_MAP:
    w[1] = a < 240 ? a % 6 : (ErlDrvTermData)(int32_t)b64(r);
    return 2;
  case ERL_DRV_BINARY:
    w[1] = a % 4 == 3   ? 0
           : a % 4 == 2 ? (ErlDrvTermData)cell
                        : (ErlDrvTermData)bins[a % 4];
    w[2] = b8(r) % 48;
    w[3] = b8(r) % 48;
    return 4;
  case ERL_DRV_STRING:
  case ERL_DRV_STRING_CONS:
  case ERL_DRV_EXT2TERM:
  case ERL_DRV_BUF2BINARY:
    slice(r, w + 1);
    if (a >= 250 && w[2] == 0)
      w[1] = 0; /* NULL with length 0 */
    return 3;
  default: /* FLOAT, INT64, UINT64 take a pointer to the value */
    *cell = b64(r);
    w[1] = a >= 250 ? 0 : (ErlDrvTermData)cell;
    return op == ERL_DRV_FLOAT || op == ERL_DRV_INT64 || op == ERL_DRV_UINT64
               ? 2
               : 1;
  }
}

static void as_spec(const uint8_t *data, size_t size) {
  static ErlDrvTermData spec[MAX_WORDS + 4];
  static uint64_t cells[MAX_WORDS];
  rd r = {data, size, 0};
  int n = 0, k = 0;
  while (r.i < size && n < MAX_WORDS)
    n += decode_op(&r, spec + n, &cells[k++]);
  if (n == 0)
    return;
  ei_x_buff x;
  if (ei_x_new(&x) < 0)
    return;
  if (dc__term_build(spec, n, &x, "erl_drv_output_term") == 0) {
    size_t used = 0;
    if (dc__etf_check(x.buff, (size_t)x.index, &used) != 0 ||
        used != (size_t)x.index)
      fail("dc__term_build made a term dc__etf_check rejects");
    check_print(x.buff, (size_t)x.index, 1);
  }
  ei_x_free(&x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init_once();
  dc__findings_reset();
  as_etf(data, size);
  as_spec(data, size);
  return 0;
}
