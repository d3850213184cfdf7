/* The rule catalogue tables and the reporter: one place records findings. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

typedef struct rule_meta {
  const char *id;
  dc_severity severity;
  const char *title;
  const char *rationale;
  const char *doc;
} rule_meta;

static const rule_meta catalogue[DC_RULE_COUNT] = {
#define DC_RULE(sym, id, sev, title, why, doc) {id, DC_SEV_##sev, title, why, doc},
#include "rules.def"
#undef DC_RULE
};

/* Findings are rare events: a fixed table under one mutex keeps the reporter
 * allocation-free (it may run inside a crashing or out-of-memory driver). */
#define MAX_FINDINGS 256

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static dc__finding findings[MAX_FINDINGS];
static size_t nfindings;
static unsigned char disabled[DC_RULE_COUNT];
static _Atomic unsigned current_step;

void dc__report_set_step(unsigned step) { current_step = step; }

const char *dc__rule_id(dc_rule r) { return catalogue[r].id; }
dc_severity dc__rule_severity(dc_rule r) { return catalogue[r].severity; }
const char *dc__rule_title(dc_rule r) { return catalogue[r].title; }
const char *dc__rule_rationale(dc_rule r) { return catalogue[r].rationale; }
const char *dc__rule_doc(dc_rule r) { return catalogue[r].doc; }

int dc_rule_count(void) { return DC_RULE_COUNT; }

const char *dc_rule_id(int i) {
  return (i >= 0 && i < DC_RULE_COUNT) ? catalogue[i].id : NULL;
}

const char *dc_rule_title(int i) {
  return (i >= 0 && i < DC_RULE_COUNT) ? catalogue[i].title : NULL;
}

dc_severity dc_rule_severity(int i) {
  return (i >= 0 && i < DC_RULE_COUNT) ? catalogue[i].severity : 0;
}

int dc_rule_lookup(const char *id) {
  for (int i = 0; id && i < DC_RULE_COUNT; i++)
    if (strcmp(catalogue[i].id, id) == 0)
      return i;
  return DC_EINVAL;
}

void dc__rule_set_enabled(dc_rule r, int enabled) {
  if ((unsigned)r < DC_RULE_COUNT)
    disabled[r] = !enabled;
}

void dc__describe_site(const void *site, char *buf, size_t cap) {
  Dl_info info;
  if (!site || cap == 0) {
    if (cap)
      buf[0] = '\0';
    return;
  }
  if (dladdr(site, &info) && info.dli_fname) {
    const char *obj = strrchr(info.dli_fname, '/');
    obj = obj ? obj + 1 : info.dli_fname;
    if (info.dli_sname)
      snprintf(buf, cap, "%s(%s+0x%lx)", obj, info.dli_sname,
               (unsigned long)((const char *)site - (const char *)info.dli_saddr));
    else
      snprintf(buf, cap, "%s(+0x%lx)", obj,
               (unsigned long)((const char *)site - (const char *)info.dli_fbase));
  } else {
    snprintf(buf, cap, "%p", site);
  }
}

static void copy(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src ? src : "");
}

static dc__finding *find_same(dc_rule rule, const dc__report_ctx *c,
                              const char *loc) {
  for (size_t i = 0; i < nfindings; i++) {
    dc__finding *f = &findings[i];
    if (f->rule == rule && strcmp(f->location, loc) == 0 &&
        strcmp(f->callback, c->callback ? c->callback : "") == 0 &&
        strcmp(f->api, c->api ? c->api : "") == 0)
      return f;
  }
  return NULL;
}

void dc__vreport(dc_rule rule, const dc__report_ctx *c, const char *fmt,
                 va_list ap) {
  static const dc__report_ctx none = {NULL, -1, NULL, NULL, NULL};
  char loc[sizeof findings[0].location];
  if ((unsigned)rule >= DC_RULE_COUNT || disabled[rule])
    return;
  if (!c)
    c = &none;
  dc__describe_site(c->site, loc, sizeof loc);
  pthread_mutex_lock(&lock);
  dc__finding *f = find_same(rule, c, loc);
  if (f) {
    f->count++;
  } else if (nfindings < MAX_FINDINGS) {
    f = &findings[nfindings++];
    memset(f, 0, sizeof *f);
    f->rule = rule;
    f->count = 1;
    f->step = current_step;
    f->port = c->port;
    copy(f->callback, sizeof f->callback, c->callback);
    copy(f->api, sizeof f->api, c->api);
    copy(f->stimulus, sizeof f->stimulus, c->stimulus);
    copy(f->location, sizeof f->location, loc);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
  }
  pthread_mutex_unlock(&lock);
}

void dc__report(dc_rule rule, const dc__report_ctx *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  dc__vreport(rule, c, fmt, ap);
  va_end(ap);
}

const dc__finding *dc__findings(size_t *n) {
  *n = nfindings;
  return findings;
}

unsigned dc__findings_count(dc_rule rule) {
  unsigned k = 0;
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < nfindings; i++)
    k += findings[i].rule == rule;
  pthread_mutex_unlock(&lock);
  return k;
}

void dc__findings_reset(void) {
  pthread_mutex_lock(&lock);
  nfindings = 0;
  pthread_mutex_unlock(&lock);
}
