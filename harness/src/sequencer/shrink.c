/* Shrinking: the smallest scenario that still makes the SAME rule fire at
 * the SAME driver location (not merely "some failure": a shrinker accepting
 * any failure drifts to an unrelated, shallower bug).
 *
 * Three passes, each candidate re-run isolated through the executor:
 * delta debugging over chunks of operations, single-operation removal,
 * then simplification of the remaining operations (shorter payloads, fewer
 * segments, smaller numbers, default rlen). A candidate that makes some
 * operation illegal (dc__runner_exec returned DC_ESTATE) is rejected: it
 * is not a scenario the emulator could produce.
 *
 * Candidates are plain operation arrays whose payloads point into the
 * input scenario: every simplification is a prefix of the original payload,
 * so no candidate owns memory. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

typedef struct shrinker {
  dc__exec *ex;
  const dc__finding *target;
  dc__source *src; /* one buffer reused for every run */
  unsigned runs, max_runs;
  double deadline;
} shrinker;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int exhausted(const shrinker *s) {
  return s->runs >= s->max_runs || now_ms() > s->deadline;
}

/* 1 if running ops[0..n) is legal throughout and fires the target. */
static int reproduces(shrinker *s, const dc__op *ops, size_t n) {
  dc__scenario view = {.ops = (dc__op *)ops, .n = n, .cap = n};
  dc__exec_unit u = {.src = s->src, .stop_on_illegal = 1};
  dc__exec_result res;
  int hit = 0;
  if (exhausted(s))
    return 0;
  s->runs++;
  dc__source_scenario(s->src, &view);
  if (dc__exec_run(s->ex, &u, &res) != 0)
    return 0;
  for (size_t i = 0; !res.illegal && !hit && i < res.nfindings; i++)
    hit = dc__finding_same(&res.findings[i], s->target);
  dc__exec_result_free(&res);
  return hit;
}

/* cand = cur without [from, from+len). */
static size_t without(const dc__op *cur, size_t n, size_t from, size_t len,
                      dc__op *cand) {
  memcpy(cand, cur, from * sizeof *cur);
  memcpy(cand + from, cur + from + len, (n - from - len) * sizeof *cur);
  return n - len;
}

/* Delta debugging (removal of complements only): split into k chunks, drop
 * the first chunk whose removal keeps the bug, refine k when none does. */
static void ddmin(shrinker *s, dc__op *cur, size_t *n, dc__op *cand) {
  size_t k = 2;
  while (*n >= 2 && !exhausted(s)) {
    size_t chunk = (*n + k - 1) / k, reduced = 0;
    for (size_t from = 0; from < *n && !reduced; from += chunk) {
      size_t len = from + chunk > *n ? *n - from : chunk;
      size_t m = without(cur, *n, from, len, cand);
      if (reproduces(s, cand, m)) {
        memcpy(cur, cand, m * sizeof *cur);
        *n = m;
        reduced = 1;
      }
    }
    if (reduced)
      k = k > 2 ? k - 1 : 2;
    else if (k >= *n)
      break;
    else
      k = k * 2 < *n ? k * 2 : *n;
  }
}

/* One pass dropping single operations, last first (closing operations at
 * the end are usually removable, and removing them first keeps earlier
 * indices stable). */
static void drop_singles(shrinker *s, dc__op *cur, size_t *n, dc__op *cand) {
  for (size_t i = *n; i-- > 0 && !exhausted(s);) {
    size_t m = without(cur, *n, i, 1, cand);
    if (reproduces(s, cand, m)) {
      memcpy(cur, cand, m * sizeof *cur);
      *n = m;
    }
  }
}

/* Keeps segment lengths consistent with a shortened payload. */
static void fit_segments(dc__op *op) {
  size_t sum = 0;
  for (int i = 0; i < op->nsegs; i++) {
    if (sum + op->seg[i] >= op->len) {
      op->seg[i] = op->len - sum;
      op->nsegs = i + 1;
      return;
    }
    sum += op->seg[i];
  }
}

/* Tries cur[i] = alt; keeps it when the target still fires. */
static int try_op(shrinker *s, dc__op *cur, size_t n, size_t i, dc__op alt) {
  dc__op old = cur[i];
  if (memcmp(&old, &alt, sizeof alt) == 0)
    return 0;
  cur[i] = alt;
  if (reproduces(s, cur, n))
    return 1;
  cur[i] = old;
  return 0;
}

/* Shorter payload: empty, else cut the tail by halving steps. */
static void shorten_payload(shrinker *s, dc__op *cur, size_t n, size_t i) {
  dc__op alt = cur[i];
  alt.len = 0;
  alt.data = NULL;
  alt.nsegs = 0;
  if (cur[i].len == 0 || try_op(s, cur, n, i, alt))
    return;
  for (size_t cut = cur[i].len / 2; cut > 0 && !exhausted(s);) {
    alt = cur[i];
    alt.len -= cut;
    fit_segments(&alt);
    if (!try_op(s, cur, n, i, alt))
      cut /= 2;
    else if (cut > cur[i].len)
      cut = cur[i].len / 2;
  }
}

static void simplify_op(shrinker *s, dc__op *cur, size_t n, size_t i) {
  dc__op alt;
  /* call payloads are terms: a cut term is a badarg, never the same bug */
  if (cur[i].kind != DC__OP_CALL)
    shorten_payload(s, cur, n, i);
  if (cur[i].nsegs) {
    alt = cur[i];
    alt.nsegs = 0;
    try_op(s, cur, n, i, alt);
  }
  alt = cur[i];
  alt.rlen = -1;
  alt.force = 0;
  alt.proc = -1;
  if (!try_op(s, cur, n, i, alt)) {
    /* one at a time when all together changed the outcome */
    alt = cur[i], alt.rlen = -1, try_op(s, cur, n, i, alt);
    alt = cur[i], alt.force = 0, try_op(s, cur, n, i, alt);
    alt = cur[i], alt.proc = -1, try_op(s, cur, n, i, alt);
  }
  if (cur[i].cmd > 0) {
    alt = cur[i];
    alt.cmd = 0;
    if (!try_op(s, cur, n, i, alt) && cur[i].cmd > 1) {
      alt.cmd = cur[i].cmd / 2;
      try_op(s, cur, n, i, alt);
    }
  }
  while (cur[i].kind == DC__OP_ADVANCE && cur[i].ms > 1 && !exhausted(s)) {
    alt = cur[i];
    alt.ms /= 2;
    if (!try_op(s, cur, n, i, alt))
      break;
  }
  if (cur[i].kind == DC__OP_OPEN && cur[i].opts) {
    alt = cur[i];
    alt.opts = 0;
    try_op(s, cur, n, i, alt);
  }
}

/* 1 if operations of kind k name a port slot. */
static int has_slot(dc__op_kind k) {
  return k == DC__OP_OPEN || k == DC__OP_COMMAND || k == DC__OP_CONTROL ||
         k == DC__OP_CALL || k == DC__OP_EVENT || k == DC__OP_CLOSE;
}

/* Renumbers port slots 0, 1, ... in order of first use (a reader expects
 * "open 0" first): one candidate, kept when the target still fires. */
static void canonical_slots(shrinker *s, dc__op *cur, size_t n, dc__op *cand) {
  int map[DC__MAX_SLOTS], next = 0, changed = 0;
  for (int i = 0; i < DC__MAX_SLOTS; i++)
    map[i] = -1;
  memcpy(cand, cur, n * sizeof *cur);
  for (size_t i = 0; i < n; i++) {
    int sl = cand[i].slot;
    if (!has_slot(cand[i].kind) || sl < 0 || sl >= DC__MAX_SLOTS)
      continue;
    if (map[sl] < 0)
      map[sl] = next++;
    changed |= map[sl] != sl;
    cand[i].slot = map[sl];
  }
  if (changed && reproduces(s, cand, n))
    memcpy(cur, cand, n * sizeof *cur);
}

int dc__shrink(dc__exec *ex, const dc__scenario *in, const dc__finding *target,
               unsigned max_attempts, unsigned max_ms, dc__scenario *out) {
  shrinker s = {ex, target,       malloc(sizeof(dc__source)),
                0,  max_attempts, now_ms() + max_ms};
  dc__op *cur = malloc((in->n ? in->n : 1) * sizeof *cur);
  dc__op *cand = malloc((in->n ? in->n : 1) * sizeof *cand);
  size_t n = in->n;
  if (s.src && cur && cand) {
    memcpy(cur, in->ops, n * sizeof *cur);
    ddmin(&s, cur, &n, cand);
    drop_singles(&s, cur, &n, cand);
    canonical_slots(&s, cur, n, cand);
    for (size_t i = 0; i < n && !exhausted(&s); i++)
      simplify_op(&s, cur, n, i);
    drop_singles(&s, cur, &n, cand);
  } else {
    free(cur);
    cur = NULL;
  }
  const dc__op *res = cur ? cur : in->ops;
  for (size_t i = 0; i < n; i++)
    dc__scenario_add(out, &res[i]);
  free(cur);
  free(cand);
  free(s.src);
  return (int)s.runs;
}
