/* Sanitizer reports -> san.* findings.
 *
 * A driver built with ASan/UBSan/TSan (scripts/build-driver) runs in a
 * drvcheck built with the same sanitizer (sanitizers/ configs). The child of
 * each run unit sends its reports to <prefix>.<pid> (dc__san_child_begin);
 * after the child is gone the parent reads that file and parses it here.
 *
 * A report names the driver only through its stack frames, so a report
 * becomes a driver finding only when one of its frames lies in the driver
 * object (the module in the frame is the driver .so). Reports about the
 * harness's own code are never blamed on the driver. The text formats
 * handled are those of the LLVM 14 runtimes, both the default stack frame
 * format and the one sanopts.c sets (which always adds the module path):
 *   #0 0x7f.. in fn /src/drv.c:7:8 (/path/drv.so+0x25ce)   sanopts format
 *   #0 0x7f.. in fn /src/drv.c:7:8                         ASan default
 *   #0 fn /src/drv.c:24:12 (drv.so+0x12e6)                 TSan default
 *   #0 0x7f.. in fn (/path/drv.so+0x25ce)                  no debug info */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Small string helpers over (pointer, length) slices                        */

typedef struct slice {
  const char *p;
  size_t n;
} slice;

static slice trim(slice s) {
  while (s.n && (s.p[0] == ' ' || s.p[0] == '\t'))
    s.p++, s.n--;
  while (s.n &&
         (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t' || s.p[s.n - 1] == '\r'))
    s.n--;
  return s;
}

static const char *find(slice s, const char *needle) {
  size_t k = strlen(needle);
  for (size_t i = 0; k <= s.n && i <= s.n - k; i++)
    if (memcmp(s.p + i, needle, k) == 0)
      return s.p + i;
  return NULL;
}

static void copy(char *dst, size_t cap, slice s) {
  size_t n = s.n < cap - 1 ? s.n : cap - 1;
  if (n) /* an empty slice may have no pointer */
    memcpy(dst, s.p, n);
  dst[n] = '\0';
}

static slice basename_of(slice s) {
  for (size_t i = s.n; i > 0; i--)
    if (s.p[i - 1] == '/')
      return (slice){s.p + i, s.n - i};
  return s;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* ------------------------------------------------------------------------ */
/* Report headers                                                            */

/* Which sanitizer a line opens a report of, and its error kind. The kind
 * is refined later from the SUMMARY line where that one is clearer. */
static int header(slice line, dc_rule *rule, slice *kind) {
  static const struct {
    const char *tag;
    dc_rule rule;
  } heads[] = {
      {"ERROR: LeakSanitizer: ", DC_RULE_SAN_LEAK},
      {"ERROR: AddressSanitizer: ", DC_RULE_SAN_ADDRESS},
      {"WARNING: ThreadSanitizer: ", DC_RULE_SAN_THREAD},
      {"ERROR: ThreadSanitizer: ", DC_RULE_SAN_THREAD},
      /* Reading an indeterminate value is undefined behaviour; the
       * catalogue has no MSan rule of its own. */
      {"WARNING: MemorySanitizer: ", DC_RULE_SAN_UNDEFINED},
  };
  for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
    const char *at = find(line, heads[i].tag);
    if (!at)
      continue;
    slice rest = {at + strlen(heads[i].tag), 0};
    rest.n = (size_t)(line.p + line.n - rest.p);
    /* "heap-buffer-overflow on address ..", "data race (pid=..)" */
    const char *cut = find(rest, " on ");
    const char *pid = find(rest, " (pid=");
    if (pid && (!cut || pid < cut))
      cut = pid;
    if (cut)
      rest.n = (size_t)(cut - rest.p);
    *rule = heads[i].rule;
    *kind = trim(rest);
    return 1;
  }
  const char *ub = find(line, ": runtime error: ");
  if (ub) {
    slice rest = {ub + 17, 0};
    rest.n = (size_t)(line.p + line.n - rest.p);
    const char *colon = find(rest, ":");
    if (colon)
      rest.n = (size_t)(colon - rest.p);
    *rule = DC_RULE_SAN_UNDEFINED;
    *kind = trim(rest);
    return 1;
  }
  return 0;
}

/* "SUMMARY: AddressSanitizer: heap-buffer-overflow /x.c:7:8 in f": the
 * one-token kind of ASan and UBSan (report_error_type=1 makes UBSan name
 * it, e.g. signed-integer-overflow). TSan kinds have spaces and LSan's
 * summary counts bytes, so those keep the header's kind. */
static int summary_kind(slice line, slice *kind) {
  static const char *const tags[] = {"SUMMARY: AddressSanitizer: ",
                                     "SUMMARY: UndefinedBehaviorSanitizer: "};
  for (size_t i = 0; i < 2; i++) {
    const char *at = find(line, tags[i]);
    if (!at)
      continue;
    slice k = {at + strlen(tags[i]), 0};
    while (k.p + k.n < line.p + line.n && k.p[k.n] != ' ')
      k.n++;
    if (k.n && !is_digit(k.p[0])) {
      *kind = k;
      return 1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Stack frames                                                              */

typedef struct frame {
  slice function, file, module;
  unsigned line;
} frame;

/* "(/path/drv.so+0x25ce)" -> module path; BuildId groups are skipped. */
static int paren_module(slice group, slice *module) {
  const char *plus = find(group, "+0x");
  if (!plus || find(group, "BuildId:"))
    return 0;
  module->p = group.p;
  module->n = (size_t)(plus - group.p);
  return module->n > 0;
}

/* "/src/drv.c:7:8" -> file, line. 0 when the token is not a location. */
static int source_loc(slice tok, slice *file, unsigned *line) {
  size_t i = tok.n;
  /* strip up to two trailing ":<digits>" groups; the first kept is the line */
  size_t colons[2], nc = 0;
  while (i > 0 && nc < 2) {
    size_t j = i;
    while (j > 0 && is_digit(tok.p[j - 1]))
      j--;
    if (j == i || j == 0 || tok.p[j - 1] != ':')
      break;
    colons[nc++] = j - 1;
    i = j - 1;
  }
  if (nc == 0)
    return 0;
  size_t lpos = colons[nc - 1]; /* ":line" is the leftmost group */
  file->p = tok.p;
  file->n = lpos;
  *line = (unsigned)strtoul(tok.p + lpos + 1, NULL, 10);
  return file->n > 0;
}

/* Parses one "#N ..." line (already trimmed, starting at '#'). */
static int parse_frame(slice s, frame *f) {
  memset(f, 0, sizeof *f);
  size_t i = 1;
  while (i < s.n && is_digit(s.p[i]))
    i++;
  if (i == 1)
    return 0;
  slice rest = trim((slice){s.p + i, s.n - i});
  /* trailing "(...)" groups: the module, or BuildId */
  while (rest.n && rest.p[rest.n - 1] == ')') {
    size_t open = rest.n - 1;
    while (open > 0 && rest.p[open] != '(')
      open--;
    if (rest.p[open] != '(' || (open > 0 && rest.p[open - 1] != ' '))
      break;
    slice group = {rest.p + open + 1, rest.n - open - 2};
    if (!f->module.n)
      paren_module(group, &f->module);
    rest = trim((slice){rest.p, open});
  }
  /* optional "0x<pc>", optional "in" */
  if (rest.n > 2 && rest.p[0] == '0' && rest.p[1] == 'x') {
    size_t k = 0;
    while (k < rest.n && rest.p[k] != ' ')
      k++;
    rest = trim((slice){rest.p + k, rest.n - k});
  }
  if (rest.n > 3 && memcmp(rest.p, "in ", 3) == 0)
    rest = trim((slice){rest.p + 3, rest.n - 3});
  /* last token: source location when it is one */
  size_t sp = rest.n;
  while (sp > 0 && rest.p[sp - 1] != ' ')
    sp--;
  slice last = {rest.p + sp, rest.n - sp};
  if (sp > 0 && source_loc(last, &f->file, &f->line))
    rest = trim((slice){rest.p, sp});
  f->function = rest;
  return 1;
}

/* 1 if the frame is inside the driver: its module is the driver object (by
 * path or basename). A frame without a module (ASan's default format with
 * debug info) counts when its source file is named like the driver
 * (drv.c for drv.so): a weaker test, used only when nothing better exists. */
static int in_driver(const frame *f, slice drv_base, slice drv_stem) {
  if (f->module.n) {
    slice mb = basename_of(f->module);
    return mb.n == drv_base.n && memcmp(mb.p, drv_base.p, mb.n) == 0;
  }
  slice fb = basename_of(f->file);
  return drv_stem.n && fb.n == drv_stem.n + 2 &&
         memcmp(fb.p, drv_stem.p, drv_stem.n) == 0 &&
         memcmp(fb.p + drv_stem.n, ".c", 2) == 0;
}

/* ------------------------------------------------------------------------ */
/* The parser                                                                */

static void fill_frame(dc__san_report *out, const frame *f) {
  char *loc = out->location;
  size_t cap = sizeof out->location;
  int n;
  copy(out->function, sizeof out->function, f->function);
  copy(out->file, sizeof out->file, f->file);
  out->line = f->line;
  if (f->file.n) {
    n = snprintf(loc, cap, "%s %s:%u", out->function, out->file, out->line);
  } else {
    char mod[96];
    copy(mod, sizeof mod, basename_of(f->module));
    n = snprintf(loc, cap, "%s (%s)", out->function, mod);
  }
  if (n >= (int)cap) { /* a long path: its basename still locates it */
    char base[80];     /* 63 + 1 + 79 + 1 + 10 digits fit in 160 */
    copy(base, sizeof base, basename_of(f->file));
    snprintf(loc, cap, "%s %s:%u", out->function, base, out->line);
  }
}

/* State of one report while its lines are read. */
typedef struct cur_report {
  dc_rule rule;
  slice kind, head;
  frame hit;
  int have_hit;
  frame ub_loc; /* UBSan's "file:line:col: runtime error" location */
  /* TSan data races: only the two access stacks count, and in each only
   * the accessing frame (see race_frame) */
  int race, access_stack, access_seen;
  /* TSan lock-order inversions: stacks seen, and whether one of them took
   * (or made) a lock other than through the erl_drv lock API */
  int lock_order, stacks, stack_checked, other_lock;
} cur_report;

/* A TSan lock-order inversion among erl_drv mutexes and rwlocks only is
 * exactly what thread.lock_order reports (with the locks' names): a second
 * san.thread finding for the same cycle would be a duplicate. Each stack's
 * first frame with a source location (after the pthread interceptor) tells
 * who took or created the lock. */
static void lock_frame(cur_report *c, slice line, const frame *f) {
  if (line.n > 2 && line.p[1] == '0' && line.p[2] == ' ') {
    c->stacks++; /* "#0 ..." opens a stack */
    c->stack_checked = 0;
  }
  if (c->stack_checked || !f->file.n)
    return;
  c->stack_checked = 1;
  if (f->function.n < 8 || memcmp(f->function.p, "erl_drv_", 8) != 0)
    c->other_lock = 1;
}

/* A TSan data race is the driver's only when the racing access itself is
 * driver code. A race on the harness's own memory has the driver deeper in
 * the stack whenever a callback called the API, and blaming it would cry
 * wolf. Leading frames without source location outside the driver are the
 * runtime's interceptors (memcpy...) and are skipped. */
static int race_frame(cur_report *c, const frame *f, slice base, slice stem) {
  if (!c->access_stack || c->access_seen)
    return 0;
  if (!f->file.n && !in_driver(f, base, stem))
    return 0;
  c->access_seen = 1;
  return in_driver(f, base, stem);
}

static void emit(dc__san_report *out, cur_report *c, slice base, slice stem,
                 int *result) {
  if (c->lock_order && c->stacks && !c->other_lock)
    return; /* thread.lock_order's (see lock_frame) */
  out->nreports++;
  /* frames, when there are any, win over UBSan's one-line location */
  if (!c->have_hit && c->ub_loc.file.n && base.n &&
      in_driver(&c->ub_loc, base, stem))
    c->hit = c->ub_loc, c->have_hit = 1;
  if (*result == DC__SAN_DRIVER)
    return;
  if (*result == DC__SAN_FOREIGN && !c->have_hit)
    return; /* keep the first foreign report unless this one is ours */
  out->rule = c->rule;
  copy(out->kind, sizeof out->kind, c->kind);
  copy(out->headline, sizeof out->headline, c->head);
  out->function[0] = out->file[0] = out->location[0] = '\0';
  out->line = 0;
  if (c->have_hit) {
    fill_frame(out, &c->hit);
    *result = DC__SAN_DRIVER;
  } else {
    *result = DC__SAN_FOREIGN;
  }
}

int dc__san_parse(const char *text, size_t len, const char *driver_path,
                  dc__san_report *out) {
  slice path = {driver_path ? driver_path : "", 0};
  path.n = strlen(path.p);
  slice base = basename_of(path), stem = base;
  const char *dot = find(base, ".so");
  if (dot)
    stem.n = (size_t)(dot - base.p);
  memset(out, 0, sizeof *out);
  int result = DC__SAN_NONE, open = 0;
  cur_report c;
  memset(&c, 0, sizeof c);
  for (size_t pos = 0; pos < len;) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    slice line = {text + pos, nl ? (size_t)(nl - (text + pos)) : len - pos};
    pos += line.n + 1;
    slice t = trim(line);
    dc_rule rule;
    slice kind;
    if (header(t, &rule, &kind)) {
      if (open)
        emit(out, &c, base, stem, &result);
      memset(&c, 0, sizeof c);
      c.rule = rule, c.kind = kind, c.head = t, open = 1;
      c.race = rule == DC_RULE_SAN_THREAD && kind.n == 9 &&
               memcmp(kind.p, "data race", 9) == 0;
      c.lock_order = rule == DC_RULE_SAN_THREAD && find(kind, "lock-order");
      /* UBSan without print_stacktrace has no frames, only this prefix;
       * it names no module, so only the file-name test can use it. */
      const char *ub = find(t, ": runtime error: ");
      if (ub)
        source_loc((slice){t.p, (size_t)(ub - t.p)}, &c.ub_loc.file,
                   &c.ub_loc.line);
    } else if (open && t.n && t.p[0] == '#') {
      frame f;
      if (!parse_frame(t, &f))
        continue;
      if (c.lock_order)
        lock_frame(&c, t, &f);
      if (c.have_hit || !base.n)
        continue;
      if (c.race ? race_frame(&c, &f, base, stem) : in_driver(&f, base, stem))
        c.hit = f, c.have_hit = 1;
    } else if (open && c.race && t.n) {
      /* "Write of size 8 at ..", "Previous atomic read of size 4 at .." */
      c.access_stack = find(t, " of size ") != NULL;
      c.access_seen = 0;
    } else if (open && summary_kind(t, &kind) && c.rule != DC_RULE_SAN_LEAK) {
      c.kind = kind;
    }
  }
  if (open)
    emit(out, &c, base, stem, &result);
  return result;
}

/* ------------------------------------------------------------------------ */
/* Routing reports: child side                                               */

/* Weak: present only when a sanitizer runtime is linked in. */
extern void __sanitizer_set_report_path(const char *path) __attribute__((weak));
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

int dc__san_active(void) { return __sanitizer_set_report_path != NULL; }

void dc__san_log_prefix(char *buf, size_t cap) {
  const char *env = getenv("DRVCHECK_SAN_LOG");
  if (env && *env) {
    snprintf(buf, cap, "%s", env);
    return;
  }
  const char *tmp = getenv("TMPDIR");
  snprintf(buf, cap, "%s/drvcheck-san.%ld", tmp && *tmp ? tmp : "/tmp",
           (long)getpid());
}

void dc__san_child_begin(const char *prefix) {
  if (__sanitizer_set_report_path && prefix && *prefix)
    __sanitizer_set_report_path(prefix);
}

void dc__san_pin_driver(const char *loaded_path) {
  /* RTLD_NOLOAD only promotes the flags of the loaded object; the extra
   * reference is never dropped (the child ends with _exit). */
  if (dc__san_active() && loaded_path)
    (void)dlopen(loaded_path, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

void dc__san_child_end(void) {
  /* The child ends with _exit (driver threads may still run), which skips
   * LeakSanitizer's at-exit check: run it now, after unload. */
  if (__lsan_do_recoverable_leak_check)
    __lsan_do_recoverable_leak_check();
}

/* ------------------------------------------------------------------------ */
/* Collecting: parent side                                                   */

static char *slurp(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  size_t cap = 1 << 14, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (!buf)
      break;
    if (n == cap) {
      char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
      if (!nb)
        break; /* keep what fits: the first report is at the start */
      buf = nb, cap *= 2;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    n += (size_t)r;
  }
  close(fd);
  *len = n;
  return buf;
}

int dc__san_collect(const char *prefix, long pid, const char *driver_path,
                    dc__san_report *rep, char **text) {
  char path[512];
  size_t len = 0;
  if (text)
    *text = NULL;
  memset(rep, 0, sizeof *rep);
  if (!prefix || !*prefix)
    return DC__SAN_NONE;
  snprintf(path, sizeof path, "%s.%ld", prefix, pid);
  char *buf = slurp(path, &len);
  if (!buf)
    return DC__SAN_NONE;
  /* DRVCHECK_SAN_KEEP=1 keeps the raw logs (debugging, test fixtures) */
  const char *keep = getenv("DRVCHECK_SAN_KEEP");
  if (!keep || strcmp(keep, "1") != 0)
    unlink(path);
  int rc = dc__san_parse(buf, len, driver_path, rep);
  if (text && rc != DC__SAN_NONE) {
    char *nb = realloc(buf, len + 1);
    if (nb) {
      nb[len] = '\0';
      *text = nb;
      return rc;
    }
  }
  free(buf);
  return rc;
}

void dc__san_finding(const dc__san_report *rep, dc__finding *f) {
  f->rule = rep->rule;
  if (!f->count)
    f->count = 1;
  snprintf(f->location, sizeof f->location, "%s", rep->location);
  snprintf(f->message, sizeof f->message, "%s: %s in %s",
           dc__rule_id(rep->rule), rep->kind,
           rep->location[0] ? rep->location : "the driver");
}
