/* Suppression files: known issues in a user's driver, each with a reason.
 *
 *   # comment lines and blank lines are ignored
 *   <rule-id> [location-substring] # reason (required)
 *
 * A finding is suppressed when its rule matches and, if a substring is
 * given, the substring occurs in the finding's location (the driver's
 * "object(symbol+0xoff)") -- or in its callback name when the finding has
 * no location (unload leaks, stuck ports). Suppressed findings are counted
 * per entry, never recorded: the summary and the report say what each
 * entry hid, so an entry that no longer matches anything shows up. A file is
 * applied whole or not at all: any bad line makes dc__suppress_load fail with a
 * message naming file and line. Loading happens before a run; matching reads
 * the table without a lock. */
#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_SUPPRESS DC__MAX_SUPPRESS

typedef struct entry {
  dc_rule rule;
  char where[128];  /* substring, "" = every finding of the rule */
  char origin[160]; /* file:line */
} entry;

static entry table[MAX_SUPPRESS];
static _Atomic unsigned hits[MAX_SUPPRESS];
static _Atomic int nentries;

static char *trim(char *s) {
  while (isspace((unsigned char)*s))
    s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1]))
    *--e = '\0';
  return s;
}

/* Parses one line into *out. Returns 1 for an entry, 0 for nothing (blank
 * or comment), -1 with errbuf filled. */
static int parse_line(char *line, const char *file, int no, entry *out,
                      char *errbuf, size_t cap) {
  char *s = trim(line);
  if (!*s || *s == '#')
    return 0;
  char *hash = strchr(s, '#');
  if (!hash || !*trim(hash + 1)) {
    snprintf(errbuf, cap, "%s:%d: suppression needs a reason after '#'", file,
             no);
    return -1;
  }
  *hash = '\0';
  s = trim(s);
  char *rest = s + strcspn(s, " \t");
  if (*rest)
    *rest++ = '\0';
  int r = dc_rule_lookup(s);
  if (r < 0) {
    snprintf(errbuf, cap, "%s:%d: unknown rule '%s'", file, no, s);
    return -1;
  }
  rest = trim(rest);
  if (strlen(rest) >= sizeof out->where) {
    snprintf(errbuf, cap, "%s:%d: location substring too long", file, no);
    return -1;
  }
  out->rule = (dc_rule)r;
  snprintf(out->where, sizeof out->where, "%s", rest);
  snprintf(out->origin, sizeof out->origin, "%.140s:%d", file, no);
  return 1;
}

int dc__suppress_load(const char *path, char *errbuf, size_t cap) {
  FILE *f = path ? fopen(path, "r") : NULL;
  if (!f) {
    snprintf(errbuf, cap, "%s: cannot open suppression file",
             path ? path : "(null)");
    return DC_ENOENT;
  }
  entry parsed[MAX_SUPPRESS];
  int n = 0, no = 0, rc = 0, base = nentries;
  char line[512];
  while (rc == 0 && fgets(line, sizeof line, f)) {
    no++;
    entry e;
    int k = parse_line(line, path, no, &e, errbuf, cap);
    if (k < 0)
      rc = DC_EPARSE;
    else if (k > 0 && base + n >= MAX_SUPPRESS) {
      snprintf(errbuf, cap, "%s:%d: more than %d suppressions", path, no,
               MAX_SUPPRESS);
      rc = DC_EFULL;
    } else if (k > 0) {
      parsed[n++] = e;
    }
  }
  fclose(f);
  if (rc != 0)
    return rc;
  memcpy(&table[base], parsed, (size_t)n * sizeof *parsed);
  for (int i = base; i < base + n; i++)
    atomic_store(&hits[i], 0);
  atomic_store(&nentries, base + n); /* publish after the entries */
  return 0;
}

int dc__suppressed(dc_rule rule, const char *location, const char *callback) {
  int n = atomic_load_explicit(&nentries, memory_order_acquire);
  const char *in = location && *location ? location : callback ? callback : "";
  for (int i = 0; i < n; i++) {
    if (table[i].rule != rule)
      continue;
    if (!table[i].where[0] || strstr(in, table[i].where)) {
      atomic_fetch_add(&hits[i], 1);
      return 1;
    }
  }
  return 0;
}

unsigned dc__suppressed_count(void) {
  unsigned n = 0;
  for (int i = 0; i < atomic_load(&nentries); i++)
    n += atomic_load(&hits[i]);
  return n;
}

int dc__suppress_entries(void) { return atomic_load(&nentries); }

void dc__suppress_get(int i, dc__suppress_info *out) {
  out->rule = table[i].rule;
  out->where = table[i].where;
  out->origin = table[i].origin;
  out->hits = atomic_load(&hits[i]);
}

int dc__suppress_hits(unsigned *out, int cap) {
  int n = atomic_load(&nentries);
  for (int i = 0; i < n && i < cap; i++)
    out[i] = atomic_load(&hits[i]);
  return n;
}

void dc__suppress_add_hits(const unsigned *in, int n) {
  int have = atomic_load(&nentries);
  for (int i = 0; i < n && i < have; i++)
    if (in[i])
      atomic_fetch_add(&hits[i], in[i]);
}

void dc__suppress_reset(void) {
  atomic_store(&nentries, 0);
  for (int i = 0; i < MAX_SUPPRESS; i++)
    atomic_store(&hits[i], 0);
}
