/* Entropy and the argument draws of the generator (gen.c): payload sizes
 * and bytes, I/O vector splits, command numbers and random terms. Kept
 * apart from gen.c, which decides *which* operation comes next; everything
 * here decides *what* it carries. The same code serves seeded runs and fuzz
 * bytes, and every draw is made whatever the bytes are then used for, so a
 * seed or an input decodes to one sequence. */
#include <ei.h>
#include <pthread.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Entropy                                                                   */

void dc__entropy_seed(dc__entropy *e, uint64_t seed) {
  memset(e, 0, sizeof *e);
  e->rng = seed;
}

void dc__entropy_bytes(dc__entropy *e, const void *bytes, size_t len) {
  memset(e, 0, sizeof *e);
  e->bytes = bytes;
  e->len = bytes ? len : 0;
  e->is_bytes = 1;
}

/* A choice among n consumes no entropy when n <= 1 (there is no choice), so
 * fuzz bytes are spent only on real decisions. Bytes are read big-endian,
 * as few as n needs, so short inputs still steer the early choices. */
uint64_t dc__entropy_below(dc__entropy *e, uint64_t n) {
  if (n <= 1)
    return 0;
  if (!e->is_bytes)
    return dc__prng_below(e, n);
  uint64_t v = 0;
  for (uint64_t m = n - 1; m; m >>= 8) {
    if (e->pos >= e->len)
      return 0;
    v = (v << 8) | e->bytes[e->pos++];
  }
  return v % n;
}

int dc__entropy_done(const dc__entropy *e) {
  return e->is_bytes && e->pos >= e->len;
}

/* ------------------------------------------------------------------------ */
/* Payloads                                                                  */

/* The category of a draw c in [0, 100) whose categories end at ends[0..k)
 * (ascending): how many ends are <= c. Branch-free: the draw is random. */
static unsigned category(uint64_t c, const unsigned char *ends, int k) {
  unsigned cat = 0;
  for (int i = 0; i < k; i++)
    cat += c >= ends[i];
  return cat;
}

/* Sizes 0, 1, 4 (a 32-bit argument, as many control protocols take),
 * small, medium, large, and anything up to max: a fixed size or base plus
 * a second draw below span (no draw where span <= 1). */
size_t dc__gen_size(dc__source *src, size_t max) {
  static const unsigned char ends[] = {8, 20, 35, 60, 82, 94};
  static const size_t base[] = {0, 1, 4, 2, 17, 257, 0};
  uint64_t span[] = {1, 1, 1, 15, 240, 3840, (uint64_t)max + 1};
  unsigned cat = category(dc__below(src, 100), ends, sizeof ends);
  size_t n = base[cat] + dc__below(src, span[cat]);
  return n < max ? n : max;
}

/* Payload bytes come from one drawn 32-bit seed and a style: random bytes,
 * text, one repeated byte, or a small big-endian number (so "set timer
 * N"-style commands get sane N). Random bytes and text are windows of two
 * pools built once per process from a fixed seed, at an offset the seed
 * picks: a payload then costs O(1) (op->data points into the pool) instead
 * of one PRNG step per 8 bytes, in the fuzzing inner loop and for payloads
 * of up to 64 KiB. The other styles are one memset. */
#define POOL_LEN ((size_t)2 << 16) /* two maximal payloads: any window fits */
#define POOL_SEED 0x6472766368656b31ull
_Static_assert(POOL_LEN >= 2 * sizeof(((dc__source *)0)->buf),
               "a payload window must fit in the pool");

enum { STYLE_RANDOM, STYLE_TEXT, STYLE_BYTE, STYLE_NUMBER, STYLE_COUNT };

static unsigned char pool_random[POOL_LEN], pool_text[POOL_LEN];
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_build(void) {
  uint64_t rng = POOL_SEED;
  for (size_t i = 0; i < POOL_LEN; i += 8) {
    uint64_t x = dc__rand(&rng), y = dc__rand(&rng);
    for (int j = 0; j < 8; j++, x >>= 8, y >>= 8) {
      pool_random[i + j] = (unsigned char)x;
      pool_text[i + j] = (unsigned char)(' ' + (y & 0xff) % 95);
    }
  }
}

void dc__gen_pools(void) { pthread_once(&pool_once, pool_build); }

/* The pool window of an n-byte payload of this style and seed, or NULL
 * for the memset styles. */
static const unsigned char *pool_window(unsigned style, uint64_t seed,
                                        size_t n) {
  if (style > STYLE_TEXT)
    return NULL;
  const unsigned char *pool = style == STYLE_RANDOM ? pool_random : pool_text;
  return pool + seed % (POOL_LEN - n + 1);
}

/* The n-byte payload of this style and seed into buf. */
static void fill_range(unsigned style, uint64_t seed, unsigned char *buf,
                       size_t n) {
  const unsigned char *w = pool_window(style, seed, n);
  if (w) {
    memcpy(buf, w, n);
    return;
  }
  uint64_t x = dc__rand(&seed);
  if (style == STYLE_BYTE) {
    memset(buf, (unsigned char)x, n);
    return;
  }
  /* STYLE_NUMBER: zeros, then two bytes below 100. */
  size_t zeros = n > 2 ? n - 2 : 0;
  memset(buf, 0, zeros);
  for (size_t i = zeros; i < n; i++)
    buf[i] = (unsigned char)(((x >> (8 * (i - zeros))) & 0xff) % 100);
}

/* Draws a payload's style and seed: always these two draws, so the
 * sequence does not depend on how the bytes are then produced. */
static void draw_payload(dc__source *src, unsigned *style, uint64_t *seed) {
  *style = (unsigned)dc__below(src, STYLE_COUNT);
  *seed = dc__below(src, 1ull << 32);
}

/* Fills buf (n bytes) with a freshly drawn payload. */
static void fill(dc__source *src, unsigned char *buf, size_t n) {
  unsigned style;
  uint64_t seed;
  draw_payload(src, &style, &seed);
  fill_range(style, seed, buf, n);
}

/* The payload of a command or control: always drawn (so the sequence
 * does not depend on the bytes), produced unless the caller supplies them
 * (src->defer_fill, dc__fuzz_next). Pool windows are used in place. */
void dc__gen_payload(dc__source *src, dc__op *op) {
  unsigned style;
  uint64_t seed;
  draw_payload(src, &style, &seed);
  op->data = src->buf;
  if (src->defer_fill)
    return;
  const unsigned char *w = pool_window(style, seed, op->len);
  if (w)
    op->data = w;
  else
    fill_range(style, seed, src->buf, op->len);
}

/* Splits a command into several I/O vector pieces, with odd and empty
 * pieces; seg lengths add up to the payload. Each piece but the last is
 * empty, one byte (if any is left) or a drawn length (drawn only then). */
void dc__gen_split(dc__source *src, dc__op *op) {
  if (dc__chance(src, 50))
    return; /* one piece */
  int n = 2 + (int)dc__below(src, DC__OP_MAX_SEGS - 1);
  size_t rem = op->len;
  for (int i = 0; i < n - 1; i++) {
    uint64_t c = dc__below(src, 4);
    size_t drawn = (size_t)dc__below_if(src, c >= 2, (uint64_t)rem + 1);
    size_t l = c == 0 ? 0 : c == 1 ? (size_t)(rem > 0) : drawn;
    op->seg[i] = l;
    rem -= l;
  }
  op->seg[n - 1] = rem;
  op->nsegs = n;
}

/* A command number: mostly where most drivers' commands are (below 5),
 * else below 16, 256 or 2^32. */
unsigned dc__gen_cmd(dc__source *src) {
  static const unsigned char ends[] = {50, 70, 90};
  static const uint64_t span[] = {5, 16, 256, 1ull << 32};
  unsigned cat = category(dc__below(src, 100), ends, sizeof ends);
  return (unsigned)dc__below(src, span[cat]);
}

/* A random term built with ei_x: atoms, integers, binaries, strings,
 * tuples and lists, nested a few levels. */
void dc__gen_term(dc__source *src, ei_x_buff *x, int depth) {
  static const char *const atoms[] = {"ok",        "error",    "true", "false",
                                      "undefined", "drvcheck", "x"};
  unsigned char bin[32];
  uint64_t kind = dc__below(src, depth >= 3 ? 5 : 7);
  switch (kind) {
  case 0:
    ei_x_encode_atom(x, atoms[dc__below(src, 7)]);
    break;
  case 1:
    ei_x_encode_long(x, (long)dc__below(src, 256));
    break;
  case 2:
    ei_x_encode_longlong(x, (long long)dc__below(src, UINT64_MAX));
    break;
  case 3: {
    size_t n = dc__below(src, sizeof bin + 1);
    fill(src, bin, n);
    ei_x_encode_binary(x, bin, (long)n);
    break;
  }
  case 4:
    ei_x_encode_string(x, atoms[dc__below(src, 7)]);
    break;
  default: {
    int n = (int)dc__below(src, 5);
    if (kind == 5)
      ei_x_encode_tuple_header(x, n);
    else if (n)
      ei_x_encode_list_header(x, n);
    for (int i = 0; i < n; i++)
      dc__gen_term(src, x, depth + 1);
    if (kind == 6)
      ei_x_encode_empty_list(x);
    break;
  }
  }
}
