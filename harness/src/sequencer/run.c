/* dc_run: the drvcheck run. Entry checks and the smoke scenario (trace
 * printed), one targeted sequence per stimulus, then seeded random
 * sequences within the budget -- every unit isolated in a child (exec.c).
 * Findings are merged by the reporter (same rule at the same location is
 * one finding with a count); each new one keeps the sequence that found it
 * and is shrunk. Or, with a replay path, one scenario file and its trace.
 *
 * Determinism: nothing but duration_ms depends on wall time when the run is
 * bounded by --sequences; the seeds of all units derive from cfg->seed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../report/internal.h"
#include "internal.h"

#define MAX_OPS 120 /* operations per random sequence */
/* Random sequences per child, and the child's time slice: a fork, a load
 * and the copy-on-write faults cost ~2 ms, 20 times a 120-operation
 * sequence; a child runs sequences one after another as long as each
 * starts as fresh as in a child of its own (exec.c, run_batch). */
#define BATCH 64
#define BATCH_MS 250.0
#define DEFAULT_TIME_S 10.0
#define SHRINK_ATTEMPTS 400                  /* candidate runs per finding */
#define SHRINK_MS (15000 * DC__SAN_SLOWDOWN) /* wall-time net per finding */
#define MAX_SHRUNK 32                        /* findings shrunk per run */

const char *dc_strerror(int err) {
  switch (err) {
  case DC_OK:
    return "success";
#define DC__ERR_CASE(name, value, msg)                                         \
  case DC_E##name:                                                             \
    return msg;
    DC_ERRNO_MAP(DC__ERR_CASE)
#undef DC__ERR_CASE
  default:
    return "unknown error";
  }
}

void dc_config_init(dc_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->seed = 1;
  cfg->async_threads = 1;
}

/* A growable list of owned strings (scenario and trace lines). */
typedef struct lines {
  char **v;
  size_t n, cap;
} lines;

static void lines_add(lines *l, const char *s) {
  if (l->n == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 64;
    char **nv = realloc(l->v, ncap * sizeof *nv);
    if (!nv)
      return;
    l->v = nv;
    l->cap = ncap;
  }
  char *copy = strdup(s);
  if (copy)
    l->v[l->n++] = copy;
}

static void lines_free(lines *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

/* The scenario line of op (hex payload: 2 chars a byte) in *buf, grown as
 * needed (caller-owned, freed by the caller). */
static const char *op_line(const dc__op *op, char **buf, size_t *cap) {
  size_t need = 2 * op->len + 512;
  if (*cap < need) {
    char *nb = realloc(*buf, need);
    if (!nb)
      return dc__op_name(op->kind);
    *buf = nb;
    *cap = need;
  }
  if (dc__op_format(op, *buf, *cap) != 0)
    snprintf(*buf, *cap, "%s ...", dc__op_name(op->kind));
  return *buf;
}

static void scenario_lines(const dc__op *ops, size_t n, lines *out) {
  char *buf = NULL;
  size_t cap = 0;
  for (size_t i = 0; i < n; i++)
    lines_add(out, op_line(&ops[i], &buf, &cap));
  free(buf);
}

/* What the run knows about one finding (index = reporter index). */
typedef struct found {
  char sequence[48];
  uint64_t seed;
  lines scenario, shrunk;
  dc__scenario shrunk_scn;
} found;

typedef struct run_state {
  const dc_config *cfg;
  dc__exec *ex;
  found found[256];
  size_t nfound, nshrunk;
  double shrink_ms; /* spent shrinking: not part of the sequence budget */
  unsigned long callbacks[DC__CB_COUNT];
  unsigned stimuli;
  dc__report_info info;
  lines steps, trace; /* smoke (or replayed) scenario and its trace */
} run_state;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Records a new finding's origin, original scenario (the operations up to
 * the one that exposed it) and its shrunk form. */
static void note_new(run_state *st, int idx, const dc__finding *f,
                     const dc__exec_result *res, const char *label,
                     uint64_t seed, int shrink) {
  found *x = &st->found[idx];
  size_t upto = f->step < res->ops.n ? f->step + 1 : res->ops.n;
  if (strcmp(f->callback, "load") == 0)
    upto = 0; /* entry checks: no operation involved */
  snprintf(x->sequence, sizeof x->sequence, "%s", label);
  x->seed = seed;
  dc__scenario_init(&x->shrunk_scn);
  scenario_lines(res->ops.ops, upto, &x->scenario);
  dc__scenario prefix = res->ops;
  prefix.n = upto;
  if (shrink && upto > 0 && st->nshrunk < MAX_SHRUNK) {
    double t = now_ms();
    st->nshrunk++;
    dc__shrink(st->ex, &prefix, f, SHRINK_ATTEMPTS, SHRINK_MS, &x->shrunk_scn);
    st->shrink_ms += now_ms() - t;
  } else {
    for (size_t i = 0; i < upto; i++)
      dc__scenario_add(&x->shrunk_scn, &prefix.ops[i]);
  }
  scenario_lines(x->shrunk_scn.ops, x->shrunk_scn.n, &x->shrunk);
  if ((size_t)idx >= st->nfound)
    st->nfound = (size_t)idx + 1;
}

/* Folds one unit's coverage and findings into the run. */
static void absorb(run_state *st, const dc__exec_result *res, const char *label,
                   uint64_t seed, int shrink) {
  for (int i = 0; i < DC__CB_COUNT; i++)
    st->callbacks[i] += res->callbacks[i];
  st->stimuli |= res->stimuli;
  dc__suppress_add_hits(res->supp_hits, DC__MAX_SUPPRESS);
  for (size_t i = 0; i < res->nfindings; i++) {
    int is_new, idx = dc__report_merge(&res->findings[i], &is_new);
    if (idx >= 0 && is_new &&
        (size_t)idx < sizeof st->found / sizeof st->found[0])
      note_new(st, idx, &res->findings[i], res, label, seed, shrink);
  }
}

/* Prints the scenario and its trace (unless quiet) and keeps both. */
static void keep_trace(run_state *st, const dc__exec_result *res) {
  size_t t = 0, cap = 0;
  char *buf = NULL;
  for (size_t i = 0; i <= res->ops.n; i++) {
    if (i < res->ops.n) {
      const char *line = op_line(&res->ops.ops[i], &buf, &cap);
      lines_add(&st->steps, line);
      if (!st->cfg->quiet)
        printf("> %s\n", line);
      if (res->illegal && res->illegal_step == i && !st->cfg->quiet)
        printf("    (not legal in this state: skipped)\n");
    }
    for (; t < res->ntrace && res->trace_step[t] <= i; t++) {
      lines_add(&st->trace, res->trace[t]);
      if (!st->cfg->quiet)
        printf("    %s\n", res->trace[t]);
    }
  }
  free(buf);
}

static void take_driver_info(run_state *st, const dc__exec_result *res) {
  st->info.have_entry = res->have_entry;
  st->info.entry = res->entry;
  snprintf(st->info.driver_name, sizeof st->info.driver_name, "%s",
           res->driver_name);
}

/* One generated sequence; returns 0 or the executor's error. */
static int gen_unit(run_state *st, dc__source *src, uint64_t seed,
                    unsigned stimuli, const char *label) {
  dc__exec_result res;
  dc__exec_unit u = {.src = src};
  dc__source_gen(src, seed, stimuli, MAX_OPS);
  int rc = dc__exec_run(st->ex, &u, &res);
  if (rc == 0)
    absorb(st, &res, label, seed, 1);
  dc__exec_result_free(&res);
  return rc;
}

/* Random sequences i, i+1, ... (at most n) in one child; *ran gets how
 * many ran, and *seeds moves on by as many draws. Findings belong to the
 * last one: the child stops after a sequence with a finding. */
static int random_batch(run_state *st, dc__source *src, uint64_t *seeds,
                        unsigned n, double ms, unsigned i, unsigned *ran) {
  dc__exec_result res;
  dc__exec_unit u = {.src = src,
                     .batch = n,
                     .seeds = *seeds,
                     .max_ops = MAX_OPS,
                     .batch_ms = ms};
  char label[48];
  uint64_t first = *seeds;
  first = dc__rand(&first);
  int rc = dc__exec_run(st->ex, &u, &res);
  /* a child that died before its first sequence began ran that one */
  *ran = res.batch_ran ? res.batch_ran : 1;
  for (unsigned k = 0; k < *ran; k++)
    dc__rand(seeds);
  snprintf(label, sizeof label, "random %u", i + *ran - 1);
  if (rc == 0)
    absorb(st, &res, label, res.batch_ran ? res.batch_seed : first, 1);
  dc__exec_result_free(&res);
  return rc;
}

static int run_sequences(run_state *st) {
  const dc_config *cfg = st->cfg;
  dc__source *src = malloc(sizeof *src);
  uint64_t tseed = cfg->seed ^ 0x5354494D554C49ull, rseed = cfg->seed;
  double budget = cfg->time_s > 0  ? cfg->time_s * 1e3
                  : cfg->sequences ? 0
                                   : DEFAULT_TIME_S * 1e3;
  double t0 = now_ms();
  char label[48];
  int rc = 0;
  if (!src)
    return DC_ENOMEM;
  /* targeted first, so a short budget still covers every stimulus */
  for (int b = 0; b < DC__STIM_COUNT && rc == 0; b++) {
    snprintf(label, sizeof label, "stimulus %s", dc__stimulus_name(b));
    rc = gen_unit(st, src, dc__rand(&tseed), 1u << b, label);
    st->info.targeted++;
  }
  for (unsigned i = 0, ran = 0; rc == 0; i += ran) {
    double left = budget - (now_ms() - t0 - st->shrink_ms);
    if ((cfg->sequences && i >= cfg->sequences) || (budget > 0 && left <= 0))
      break;
    unsigned n = cfg->sequences && cfg->sequences - i < BATCH
                     ? cfg->sequences - i
                     : BATCH;
    rc = random_batch(st, src, &rseed, n,
                      budget > 0 && left < BATCH_MS ? left : BATCH_MS, i, &ran);
    st->info.random += ran;
  }
  free(src);
  return rc;
}

/* A scenario is text; a libFuzzer artifact is usually not. Text that fails
 * to parse stays a parse error (a typo must not turn into a fuzz replay). */
static int looks_like_text(const char *b, size_t n) {
  size_t odd = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)b[i];
    if (c == 0)
      return 0;
    odd += (c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c >= 0x7f;
  }
  return odd * 20 <= n; /* at most 5% unusual bytes */
}

/* Loads a scenario file or converts a raw fuzz input into the scenario the
 * fuzzer executed. */
static int load_replay(const run_state *st, dc__scenario *s, char *errbuf,
                       size_t errcap) {
  char *buf;
  size_t len;
  const char *path = st->cfg->replay_path;
  int rc = dc__read_file(path, &buf, &len, errbuf, errcap);
  if (rc != 0)
    return rc;
  if (looks_like_text(buf, len)) {
    rc = dc__scenario_parse(s, buf ? buf : "", len, path, errbuf, errcap);
  } else {
    rc =
        dc__fuzz_to_scenario(buf, len, st->cfg->driver_path, s, errbuf, errcap);
    if (rc == 0 && !st->cfg->quiet)
      printf("# %s: raw fuzz input, converted to %zu operations\n", path, s->n);
  }
  free(buf);
  return rc;
}

/* Loads a scenario file and runs it; DC_EPARSE etc. with errbuf. */
static int replay(run_state *st, char *errbuf, size_t errcap) {
  dc__scenario s;
  dc__exec_result res;
  dc__source *src = malloc(sizeof *src);
  dc__scenario_init(&s);
  int rc = src ? load_replay(st, &s, errbuf, errcap) : DC_ENOMEM;
  if (rc == 0) {
    dc__exec_unit u = {.src = src, .collect_trace = 1};
    dc__source_scenario(src, &s);
    rc = dc__exec_run(st->ex, &u, &res);
    if (rc == 0) {
      take_driver_info(st, &res);
      if (res.load_rc != 0 && res.load_rc != DC_ELOAD) {
        snprintf(errbuf, errcap, "%s", res.load_err);
        rc = res.load_rc;
      } else {
        keep_trace(st, &res);
        absorb(st, &res, "replay", st->cfg->seed, 0);
      }
      dc__exec_result_free(&res);
    }
  }
  dc__scenario_free(&s);
  free(src);
  return rc;
}

static int run_all(run_state *st, char *errbuf, size_t errcap) {
  dc__exec_result res;
  dc__exec_unit u = {.smoke = 1, .seed = st->cfg->seed, .collect_trace = 1};
  int rc = dc__exec_run(st->ex, &u, &res);
  if (rc != 0)
    return rc;
  take_driver_info(st, &res);
  if (res.load_rc != 0 && res.load_rc != DC_ELOAD) {
    snprintf(errbuf, errcap, "%s", res.load_err);
    rc = res.load_rc;
  } else {
    st->info.smoke = 1;
    keep_trace(st, &res);
    absorb(st, &res, "smoke", st->cfg->seed, 1);
  }
  int loaded = res.load_rc == 0;
  dc__exec_result_free(&res);
  return rc == 0 && loaded ? run_sequences(st) : rc;
}

/* 1 if the entry defines callback cb (async_invoke/async_free are given to
 * driver_async, not in the entry: they count as defined). */
static int cb_defined(const ErlDrvEntry *e, dc__cb cb) {
  switch (cb) {
  case DC__CB_INIT:
    return e->init != NULL;
  case DC__CB_START:
    return e->start != NULL;
  case DC__CB_STOP:
    return e->stop != NULL;
  case DC__CB_OUTPUT:
    return e->output != NULL;
  case DC__CB_READY_INPUT:
    return e->ready_input != NULL;
  case DC__CB_READY_OUTPUT:
    return e->ready_output != NULL;
  case DC__CB_FINISH:
    return e->finish != NULL;
  case DC__CB_CONTROL:
    return e->control != NULL;
  case DC__CB_TIMEOUT:
    return e->timeout != NULL;
  case DC__CB_OUTPUTV:
    return e->outputv != NULL;
  case DC__CB_READY_ASYNC:
    return e->ready_async != NULL;
  case DC__CB_FLUSH:
    return e->flush != NULL;
  case DC__CB_CALL:
    return e->call != NULL;
  case DC__CB_PROCESS_EXIT:
    return e->process_exit != NULL;
  case DC__CB_STOP_SELECT:
    return e->stop_select != NULL;
  case DC__CB_EMERGENCY_CLOSE:
    return e->emergency_close != NULL;
  default:
    return 0;
  }
}

static void print_coverage(const run_state *st) {
  const dc__report_info *in = &st->info;
  if (!st->cfg->replay_path)
    printf("sequences: %u smoke, %u targeted, %u random (seed %llu)\n",
           in->smoke, in->targeted, in->random, (unsigned long long)in->seed);
  printf("callbacks:");
  for (int i = 1; i < DC__CB_COUNT; i++)
    if (in->callbacks[i])
      printf(" %s=%lu", dc__cb_name((dc__cb)i), in->callbacks[i]);
  printf("\n");
  if (in->nnever) {
    printf("never ran:");
    for (size_t i = 0; i < in->nnever; i++)
      printf(" %s", in->never_ran[i]);
    printf("\n");
  }
  printf("stimuli applied:");
  for (size_t i = 0; i < in->nstimuli; i++)
    printf(" %s", in->stimuli[i]);
  printf("%s\n", in->nstimuli ? "" : " none");
}

static void print_findings(const run_state *st, int *errors, int *warnings) {
  size_t n;
  const dc__finding *f = dc__findings(&n);
  *errors = *warnings = 0;
  for (size_t i = 0; i < n; i++) {
    int err = dc__rule_severity(f[i].rule) == DC_SEV_ERROR;
    *errors += err;
    *warnings += !err;
    printf("%s %s [%s%s%s] %s", err ? "error  " : "warning",
           dc__rule_id(f[i].rule), f[i].callback, f[i].api[0] ? " / " : "",
           f[i].api, f[i].message);
    if (f[i].count > 1)
      printf(" (x%u)", f[i].count);
    printf("\n");
    if (i >= st->nfound || !st->found[i].sequence[0])
      continue;
    const found *x = &st->found[i];
    if (st->cfg->replay_path) {
      printf("        at %s, stimulus %s, operation %u\n",
             f[i].location[0] ? f[i].location : "?",
             f[i].stimulus[0] ? f[i].stimulus : "none", f[i].step);
      continue;
    }
    printf("        at %s, stimulus %s, found by %s (seed %llu)\n",
           f[i].location[0] ? f[i].location : "?",
           f[i].stimulus[0] ? f[i].stimulus : "none", x->sequence,
           (unsigned long long)x->seed);
    if (x->shrunk.n)
      printf("        shrunk scenario (%zu of %zu operations):\n", x->shrunk.n,
             x->scenario.n);
    for (size_t k = 0; k < x->shrunk.n; k++)
      printf("          %s\n", x->shrunk.v[k]);
  }
  printf("%s: %d error(s), %d warning(s)\n",
         st->info.have_entry ? st->info.driver_name : st->info.driver_path,
         *errors, *warnings);
}

/* What the suppression files hid, and which entries matched nothing (stale
 * entries hide the next real finding of their rule without anyone
 * noticing). */
static void print_suppressions(void) {
  int n = dc__suppress_entries(), matched = 0;
  unsigned hidden = 0;
  if (n == 0)
    return;
  for (int i = 0; i < n; i++) {
    dc__suppress_info e;
    dc__suppress_get(i, &e);
    hidden += e.hits;
    matched += e.hits > 0;
  }
  printf("suppressed: %u finding(s), by %d of %d suppression(s)", hidden,
         matched, n);
  for (int i = 0, first = 1; i < n; i++) {
    dc__suppress_info e;
    dc__suppress_get(i, &e);
    if (e.hits)
      continue;
    printf("%s %s (%s)", first ? "; never matched:" : ",", e.origin,
           dc_rule_id((int)e.rule));
    first = 0;
  }
  printf("\n");
}

/* --write-scenarios: DIR/<rule>-<n>.scn for every finding with operations. */
static int write_scenarios(const run_state *st, char *errbuf, size_t cap) {
  size_t n;
  const dc__finding *f = dc__findings(&n);
  unsigned per_rule[DC_RULE_COUNT] = {0};
  if (mkdir(st->cfg->scenario_dir, 0777) != 0 && errno != EEXIST) {
    snprintf(errbuf, cap, "%s: cannot create directory: %s",
             st->cfg->scenario_dir, strerror(errno));
    return DC_EIO;
  }
  for (size_t i = 0; i < n && i < st->nfound; i++) {
    const found *x = &st->found[i];
    char path[4096], header[512];
    if (!x->shrunk_scn.n)
      continue;
    snprintf(path, sizeof path, "%s/%s-%u.scn", st->cfg->scenario_dir,
             dc__rule_id(f[i].rule), ++per_rule[f[i].rule]);
    snprintf(
        header, sizeof header,
        "drvcheck shrunk scenario: %s in %s at %s\nfound by %s (seed %llu)",
        dc__rule_id(f[i].rule), f[i].callback,
        f[i].location[0] ? f[i].location : "?", x->sequence,
        (unsigned long long)x->seed);
    FILE *out = fopen(path, "w");
    int rc = out ? dc__scenario_write(&x->shrunk_scn, out, header) : DC_EIO;
    if (out && fclose(out) != 0)
      rc = DC_EIO;
    if (rc != 0) {
      snprintf(errbuf, cap, "%s: cannot write scenario: %s", path,
               strerror(errno));
      return DC_EIO;
    }
    if (!st->cfg->quiet)
      printf("scenario: %s\n", path);
  }
  return 0;
}

/* Fills the coverage parts of the report info (names are static). */
static void fill_coverage(run_state *st, const char **never,
                          const char **stim) {
  dc__report_info *in = &st->info;
  for (int i = 0; i < DC__CB_COUNT; i++)
    in->callbacks[i] = st->callbacks[i];
  for (int i = 1; i < DC__CB_COUNT && in->have_entry; i++)
    if (cb_defined(&in->entry, (dc__cb)i) && !st->callbacks[i])
      never[in->nnever++] = dc__cb_name((dc__cb)i);
  for (int b = 0; b < DC__STIM_COUNT; b++)
    if (st->stimuli & (1u << b))
      stim[in->nstimuli++] = dc__stimulus_name(b);
  in->never_ran = never;
  in->stimuli = stim;
}

static void free_state(run_state *st) {
  for (size_t i = 0; i < st->nfound; i++) {
    lines_free(&st->found[i].scenario);
    lines_free(&st->found[i].shrunk);
    dc__scenario_free(&st->found[i].shrunk_scn);
  }
  lines_free(&st->steps);
  lines_free(&st->trace);
  dc__exec_close(st->ex);
  free(st);
}

/* Finishes a completed run: summary, report, scenario files. */
static int finish(run_state *st, double t0, dc_result *res, char *errbuf,
                  size_t errcap) {
  const char *never[DC__CB_COUNT], *stim[DC__STIM_COUNT];
  dc__report_finding rf[256];
  dc__report_info *in = &st->info;
  dc__findings_symbolize(st->cfg->driver_path);
  fill_coverage(st, never, stim);
  for (size_t i = 0; i < st->nfound; i++)
    rf[i] = (dc__report_finding){st->found[i].sequence,
                                 st->found[i].seed,
                                 (const char *const *)st->found[i].scenario.v,
                                 st->found[i].scenario.n,
                                 (const char *const *)st->found[i].shrunk.v,
                                 st->found[i].shrunk.n};
  in->found = rf;
  in->nfound = st->nfound;
  in->scenario = (const char *const *)st->steps.v;
  in->nsteps = st->steps.n;
  in->trace = (const char *const *)st->trace.v;
  in->ntrace = st->trace.n;
  print_coverage(st);
  print_findings(st, &res->errors, &res->warnings);
  print_suppressions();
  int rc = st->cfg->scenario_dir ? write_scenarios(st, errbuf, errcap) : 0;
  in->duration_ms = now_ms() - t0;
  if (rc == 0 && st->cfg->report_path) {
    rc = dc__report_write(st->cfg->report_path, in, errbuf, errcap);
    if (rc == 0 && !st->cfg->quiet)
      printf("report: %s\n", st->cfg->report_path);
  }
  return rc;
}

int dc_rule_disable(const char *id) {
  int r = dc_rule_lookup(id);
  if (r < 0)
    return DC_EINVAL;
  dc__rule_set_enabled((dc_rule)r, 0);
  return 0;
}

int dc_suppressions_load(const char *path, char *errbuf, size_t errcap) {
  return dc__suppress_load(path, errbuf, errcap);
}

int dc_convert(const char *driver_path, const char *input_path,
               const char *out_path, char *errbuf, size_t errcap) {
  char *buf, header[512];
  size_t len;
  dc__scenario s;
  int rc = dc__read_file(input_path, &buf, &len, errbuf, errcap);
  if (rc != 0)
    return rc;
  dc__scenario_init(&s);
  rc = dc__fuzz_to_scenario(buf ? buf : "", len, driver_path, &s, errbuf,
                            errcap);
  free(buf);
  FILE *f = rc == 0 ? fopen(out_path, "w") : NULL;
  if (rc == 0 && !f) {
    snprintf(errbuf, errcap, "%s: %s", out_path, strerror(errno));
    rc = DC_EIO;
  }
  if (f) {
    snprintf(header, sizeof header, "converted from fuzz input %s\ndriver %s",
             input_path, driver_path);
    rc = dc__scenario_write(&s, f, header);
    if (fclose(f) != 0 || rc != 0) {
      snprintf(errbuf, errcap, "%s: cannot write", out_path);
      rc = DC_EIO;
    }
  }
  dc__scenario_free(&s);
  return rc;
}

int dc_run(const dc_config *cfg, dc_result *res, char *errbuf, size_t errcap) {
  double t0 = now_ms();
  dc__set_strict_binaries(cfg->strict_binaries);
  run_state *st = calloc(1, sizeof *st);
  dc__exec_config ec = {cfg->driver_path, cfg->async_threads, cfg->no_fork,
                        cfg->hang_ms};
  memset(res, 0, sizeof *res);
  if (errcap)
    errbuf[0] = '\0';
  if (!st || dc__exec_open(&st->ex, &ec) != 0) {
    free(st);
    snprintf(errbuf, errcap, "out of memory");
    return DC_ENOMEM;
  }
  st->cfg = cfg;
  st->info.driver_path = cfg->driver_path;
  st->info.seed = cfg->seed;
  st->info.mode = cfg->replay_path ? "replay" : "run";
  dc__findings_reset();
  int rc = cfg->replay_path ? replay(st, errbuf, errcap)
                            : run_all(st, errbuf, errcap);
  if (rc == 0)
    rc = finish(st, t0, res, errbuf, errcap);
  else if (!errbuf[0])
    snprintf(errbuf, errcap, "%s", dc_strerror(rc));
  free_state(st);
  return rc;
}
