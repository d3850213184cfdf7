/* drvcheck_fuzz_scenario: the scenario text parser (docs/scenario.md).
 *
 * Any input must parse or fail with an error, never crash or leak; a
 * scenario that parses must round-trip: write it (dc__scenario_write),
 * parse the text again, get the same operations, and writing those gives
 * the same text. A violation prints what differs and aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sequencer/internal.h"

static void fail(const char *what, size_t i) {
  fprintf(stderr, "drvcheck_fuzz_scenario: round trip: %s (operation %zu)\n",
          what, i);
  abort();
}

/* Field by field: dc__op has padding, and data is a pointer. */
static const char *op_diff(const dc__op *a, const dc__op *b) {
  if (a->kind != b->kind)
    return "kind";
  if (a->slot != b->slot || a->proc != b->proc || a->cmd != b->cmd)
    return "slot/proc/cmd";
  if (a->opts != b->opts || a->force != b->force || a->bang != b->bang)
    return "opts/force/bang";
  if (a->rlen != b->rlen || a->k != b->k || a->mode != b->mode ||
      a->ms != b->ms)
    return "rlen/k/mode/ms";
  if (a->len != b->len || (a->len && memcmp(a->data, b->data, a->len) != 0))
    return "payload";
  if (a->nsegs != b->nsegs)
    return "split";
  for (int i = 0; i < a->nsegs; i++)
    if (a->seg[i] != b->seg[i])
      return "split lengths";
  if (strcmp(a->reason, b->reason) != 0)
    return "reason";
  return NULL;
}

/* Writes s as text (malloc'ed via open_memstream) or aborts. */
static char *write_text(const dc__scenario *s, size_t *len) {
  char *text = NULL;
  FILE *f = open_memstream(&text, len);
  if (!f)
    abort(); /* out of memory: not the parser's fault, but say so loudly */
  int rc = dc__scenario_write(s, f, "fuzz");
  fclose(f);
  if (rc != 0)
    fail("dc__scenario_write refused a parsed scenario", s->n);
  return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  dc__scenario s1, s2;
  dc__scenario_init(&s1);
  dc__scenario_init(&s2);
  if (dc__scenario_parse(&s1, (const char *)data, size, "fuzz", err,
                         sizeof err) != 0) {
    if (s1.n != 0)
      fail("a failed parse appended operations", s1.n);
    dc__scenario_free(&s1);
    return 0;
  }
  size_t l1, l2;
  char *t1 = write_text(&s1, &l1);
  if (dc__scenario_parse(&s2, t1, l1, "written", err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    fail("written text does not parse", 0);
  }
  if (s1.n != s2.n)
    fail("operation count differs", s2.n);
  for (size_t i = 0; i < s1.n; i++) {
    const char *d = op_diff(&s1.ops[i], &s2.ops[i]);
    if (d)
      fail(d, i);
  }
  char *t2 = write_text(&s2, &l2);
  if (l1 != l2 || memcmp(t1, t2, l1) != 0)
    fail("second write differs from the first", s1.n);
  free(t1);
  free(t2);
  dc__scenario_free(&s1);
  dc__scenario_free(&s2);
  return 0;
}
