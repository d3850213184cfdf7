/* The rule catalogue tables and the reporter: one place records findings. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
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
#define DC_RULE(sym, id, sev, title, why, doc)                                 \
  {id, DC_SEV_##sev, title, why, doc},
#include "rules.def"
#undef DC_RULE
};

/* Findings are rare events: a fixed table under one mutex keeps the reporter
 * allocation-free (it may run inside a crashing or out-of-memory driver). */
#define MAX_FINDINGS 256

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static dc__finding own_table[MAX_FINDINGS];
static size_t own_n;
/* The table in use: our own, or one in memory shared with a supervising
 * parent (dc__findings_share), so findings survive a crashing child. */
static dc__finding *findings = own_table;
static size_t *nfindings_p = &own_n;
static size_t max_findings = MAX_FINDINGS;
#define nfindings (*nfindings_p)
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
      snprintf(
          buf, cap, "%s(%s+0x%lx)", obj, info.dli_sname,
          (unsigned long)((const char *)site - (const char *)info.dli_saddr));
    else
      snprintf(
          buf, cap, "%s(+0x%lx)", obj,
          (unsigned long)((const char *)site - (const char *)info.dli_fbase));
  } else {
    snprintf(buf, cap, "%p", site);
  }
}

static void copy(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src ? src : "");
}

/* Size of the shared table header: the count, then the findings. */
typedef struct shared_table {
  size_t n;
  dc__finding f[];
} shared_table;

size_t dc__findings_share_size(size_t cap) {
  return sizeof(shared_table) + cap * sizeof(dc__finding);
}

void dc__findings_share(void *mem, size_t bytes) {
  pthread_mutex_lock(&lock);
  if (mem && bytes >= dc__findings_share_size(1)) {
    shared_table *t = mem;
    t->n = 0;
    findings = t->f;
    nfindings_p = &t->n;
    max_findings = (bytes - sizeof *t) / sizeof(dc__finding);
  } else {
    findings = own_table;
    nfindings_p = &own_n;
    max_findings = MAX_FINDINGS;
  }
  pthread_mutex_unlock(&lock);
}

/* One finding per (rule, driver location). Without a location, the callback
 * and API tell sites apart; a hang is caught at whatever instruction the
 * loop was executing, so it is one finding per callback. */
static int same_site(const dc__finding *f, dc_rule rule, const char *cb,
                     const char *api, const char *loc) {
  if (f->rule != rule)
    return 0;
  if (rule == DC_RULE_CB_HANG)
    return strcmp(f->callback, cb) == 0;
  if (loc[0] || f->location[0])
    return strcmp(f->location, loc) == 0;
  return strcmp(f->callback, cb) == 0 && strcmp(f->api, api) == 0;
}

const dc__finding *dc__findings_shared(const void *mem, size_t *n) {
  const shared_table *t = mem;
  *n = t->n;
  return t->f;
}

int dc__finding_same(const dc__finding *a, const dc__finding *b) {
  return same_site(a, b->rule, b->callback, b->api, b->location);
}

static dc__finding *find_same(dc_rule rule, const dc__report_ctx *c,
                              const char *loc) {
  for (size_t i = 0; i < nfindings; i++)
    if (same_site(&findings[i], rule, c->callback ? c->callback : "",
                  c->api ? c->api : "", loc))
      return &findings[i];
  return NULL;
}

int dc__report_merge(const dc__finding *in, int *is_new) {
  int idx = -1;
  *is_new = 0;
  if ((unsigned)in->rule >= DC_RULE_COUNT || disabled[in->rule] ||
      dc__suppressed(in->rule, in->location, in->callback))
    return -1;
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < nfindings && idx < 0; i++)
    if (dc__finding_same(&findings[i], in))
      idx = (int)i;
  if (idx >= 0) {
    findings[idx].count += in->count;
  } else if (nfindings < max_findings) {
    idx = (int)nfindings;
    findings[nfindings++] = *in;
    *is_new = 1;
  }
  pthread_mutex_unlock(&lock);
  return idx;
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
  if (dc__suppressed(rule, loc, c->callback)) /* counted, not recorded */
    return;
  pthread_mutex_lock(&lock);
  dc__finding *f = find_same(rule, c, loc);
  if (f) {
    f->count++;
  } else if (nfindings < max_findings) {
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

/* Adds "function file:line" from the driver's debug info (addr2line, from
 * binutils) to locations "<driver>.so(+0xoff)" / "(sym+0xoff)". Runs in the
 * parent after all sequences, never in a child or a signal handler. */
void dc__findings_symbolize(const char *driver_path) {
  const char *base = driver_path ? strrchr(driver_path, '/') : NULL;
  base = base ? base + 1 : driver_path;
  if (!base || !*base)
    return;
  size_t blen = strlen(base);
  for (size_t i = 0; i < nfindings; i++) {
    dc__finding *f = &findings[i];
    const char *plus = strstr(f->location, "+0x");
    char cmd[1024], fn[256] = "", line[512] = "";
    if (strncmp(f->location, base, blen) != 0 || f->location[blen] != '(' ||
        !plus || strchr(f->location, ' '))
      continue;
    /* Only an offset from the object base can be symbolized directly. */
    if (plus != f->location + blen + 1)
      continue;
    unsigned long off = strtoul(plus + 3, NULL, 16);
    snprintf(cmd, sizeof cmd, "addr2line -f -e '%s' 0x%lx 2>/dev/null",
             driver_path, off ? off - 1 : 0); /* -1: inside the call insn */
    FILE *p = strchr(driver_path, '\'') ? NULL : popen(cmd, "r");
    if (!p)
      continue;
    if (fgets(fn, sizeof fn, p) && fgets(line, sizeof line, p)) {
      fn[strcspn(fn, "\n")] = '\0';
      line[strcspn(line, "\n")] = '\0';
      char *disc = strstr(line, " (discriminator");
      if (disc)
        *disc = '\0';
      const char *file = strrchr(line, '/');
      file = file ? file + 1 : line;
      if (strncmp(file, "??", 2) != 0) {
        size_t used = strlen(f->location);
        snprintf(f->location + used, sizeof f->location - used, " %s %s", fn,
                 file);
      }
    }
    pclose(p);
  }
}
