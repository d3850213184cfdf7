/* Rule catalogue and the one reporter every check goes through. */
#ifndef DC_RULES_INTERNAL_H
#define DC_RULES_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include "drvcheck/drvcheck.h"

typedef enum {
#define DC_RULE(sym, id, sev, title, why, doc) DC_RULE_##sym,
#include "rules.def"
#undef DC_RULE
  DC_RULE_COUNT
} dc_rule;

/* One finding as recorded by the reporter; strings are copied in. */
typedef struct dc__finding {
  dc_rule rule;
  unsigned count;     /* occurrences merged into this one (same rule+site) */
  unsigned step;      /* scenario step (operation index) of the first one */
  int port;           /* port number, or -1 for load/unload/thread */
  char callback[24];  /* running callback, "load", "unload" or "thread" */
  char api[40];       /* API function involved, "" when none */
  char stimulus[48];  /* stimulus that exposed it, "" when plain */
  char location[160]; /* driver source location (symbol+offset), or "" */
  char message[320];  /* human-readable detail */
} dc__finding;

/* Context a finding is reported in; filled by the caller (the core). */
typedef struct dc__report_ctx {
  const char *callback;
  int port;
  const char *api;
  const char *stimulus;
  const void *site; /* return address inside the driver, or NULL */
} dc__report_ctx;

/* Records a finding (deduplicated by rule, callback, api and site).
 * Thread-safe. */
void dc__report(dc_rule rule, const dc__report_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dc__vreport(dc_rule rule, const dc__report_ctx *ctx, const char *fmt,
                 va_list ap);

/* Findings recorded so far; the array is owned by the reporter and valid until
 * dc__findings_reset(). */
const dc__finding *dc__findings(size_t *n);
void dc__findings_reset(void);
/* Moves the findings table into caller-owned memory `mem` of `bytes` bytes
 * (e.g. a MAP_SHARED region, so a supervising parent reads the findings of a
 * child that crashed); the table starts empty there. mem NULL restores the
 * reporter's own table. Not thread-safe against concurrent reporters. */
void dc__findings_share(void *mem, size_t bytes);
/* Bytes of shared memory a table of cap findings needs. */
size_t dc__findings_share_size(size_t cap);
/* The findings in a table laid out by dc__findings_share at mem (read by
 * the parent after the child ran); points into mem. */
const dc__finding *dc__findings_shared(const void *mem, size_t *n);
/* 1 if a and b are the same finding: same rule at the same driver location
 * (callback + API when there is no location; callback for cb.hang). */
int dc__finding_same(const dc__finding *a, const dc__finding *b);
/* Adds a finding recorded elsewhere (a child run) to the table, merging it
 * (count added) into an existing same one. Returns its index and sets
 * *is_new, or -1 when the rule is disabled or the table is full. */
int dc__report_merge(const dc__finding *f, int *is_new);
/* Number of recorded findings (after dedup) of `rule`. */
unsigned dc__findings_count(dc_rule rule);
/* Sets the scenario step that findings reported from now on belong to. */
void dc__report_set_step(unsigned step);
/* Disables (or re-enables) one rule: disabled rules are never recorded. */
void dc__rule_set_enabled(dc_rule rule, int enabled);

/* suppress.c: loads a suppression file (lines "<rule-id> [location-
 * substring] # reason", the reason required; blank and '#' lines ignored)
 * and adds its entries. Returns 0, or DC_ENOENT / DC_EPARSE / DC_EFULL with
 * "<file>:<line>: ..." in errbuf (caller-owned); a bad file adds nothing.
 * Call before a run: matching reads the entries without a lock. */
int dc__suppress_load(const char *path, char *errbuf, size_t cap);
/* 1 (and counted) if a finding of rule at location (or, when location is
 * empty, in callback) is suppressed. Used by the reporter. */
int dc__suppressed(dc_rule rule, const char *location, const char *callback);
/* Findings suppressed so far in this process (all entries together). */
unsigned dc__suppressed_count(void);

#define DC__MAX_SUPPRESS 256 /* entries over all loaded files */

/* One loaded entry; the strings are suppress.c's static storage, valid
 * until dc__suppress_reset. */
typedef struct dc__suppress_info {
  dc_rule rule;
  const char *where;  /* location substring, "" = every finding of rule */
  const char *origin; /* "file:line" it was loaded from */
  unsigned hits;      /* findings it suppressed so far in this process */
} dc__suppress_info;

/* Number of loaded entries; entry i (0 <= i < that) into *out. */
int dc__suppress_entries(void);
void dc__suppress_get(int i, dc__suppress_info *out);
/* Copies each entry's hit count into out[0..cap) (caller-owned); returns
 * how many entries there are. Lock-free and async-signal-safe: a forked
 * unit publishes its counts from a fatal-signal handler too. */
int dc__suppress_hits(unsigned *out, int cap);
/* Adds counts another process recorded (a forked unit's, per entry, as
 * dc__suppress_hits gave them) to this process's. */
void dc__suppress_add_hits(const unsigned *hits, int n);
/* Forgets all suppressions and zeroes the count. */
void dc__suppress_reset(void);

const char *dc__rule_id(dc_rule rule);
dc_severity dc__rule_severity(dc_rule rule);
const char *dc__rule_title(dc_rule rule);
const char *dc__rule_rationale(dc_rule rule);
const char *dc__rule_doc(dc_rule rule);

/* Appends "function file:line" from the driver's debug info to findings
 * located in the driver at driver_path (best effort, uses addr2line). */
void dc__findings_symbolize(const char *driver_path);

/* Formats a code address as "object(symbol+0xoff)"; buf is caller-owned. */
void dc__describe_site(const void *site, char *buf, size_t cap);

#endif
