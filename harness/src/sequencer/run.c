/* dc_run: load a driver, run the entry checks and the smoke scenario, print
 * the Erlang-visible trace and a findings summary, write the report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../loader/internal.h"
#include "../report/internal.h"
#include "internal.h"

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
}

/* Prints (unless quiet) and keeps the trace events added since *seen. */
static void collect_trace(const dc_config *cfg, lines *trace, size_t *seen) {
  char buf[2048];
  size_t i = 0;
  for (const dc__event *ev = dc__trace_first(); ev; ev = ev->next, i++) {
    if (i < *seen)
      continue;
    dc__event_print(ev, buf, sizeof buf);
    lines_add(trace, buf);
    if (!cfg->quiet)
      printf("    %s\n", buf);
  }
  *seen = i;
}

static void run_scenario(const dc_config *cfg, dc__scenario *s, lines *steps,
                         lines *trace) {
  dc__runner r;
  char line[8192];
  size_t seen = 0;
  dc__runner_init(&r);
  for (size_t i = 0; i < s->n; i++) {
    dc__report_set_step((unsigned)i);
    if (dc__op_format(&s->ops[i], line, sizeof line) != 0)
      snprintf(line, sizeof line, "%s ...", dc__op_name(s->ops[i].kind));
    lines_add(steps, line);
    if (!cfg->quiet)
      printf("> %s\n", line);
    dc__runner_exec(&r, &s->ops[i]);
    dc__entry_check_modified();
    collect_trace(cfg, trace, &seen);
  }
}

static void print_summary(const dc__report_info *info, int *errors,
                          int *warnings) {
  size_t n;
  const dc__finding *f = dc__findings(&n);
  printf("callbacks:");
  for (int i = 1; i < DC__CB_COUNT; i++)
    if (info->callbacks[i])
      printf(" %s=%lu", dc__cb_name((dc__cb)i), info->callbacks[i]);
  printf("\n");
  *errors = *warnings = 0;
  for (size_t i = 0; i < n; i++) {
    int err = dc__rule_severity(f[i].rule) == DC_SEV_ERROR;
    *errors += err;
    *warnings += !err;
    printf("%s %s [%s%s%s] %s", err ? "error  " : "warning", dc__rule_id(f[i].rule),
           f[i].callback, f[i].api[0] ? " / " : "", f[i].api, f[i].message);
    if (f[i].count > 1)
      printf(" (x%u)", f[i].count);
    printf("\n");
  }
  printf("%s: %d error(s), %d warning(s)\n",
         info->have_entry ? info->driver_name : info->driver_path, *errors,
         *warnings);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int dc_run(const dc_config *cfg, dc_result *res, char *errbuf, size_t errcap) {
  dc__report_info info;
  lines steps = {0}, trace = {0};
  double t0 = now_ms();
  memset(&info, 0, sizeof info);
  memset(res, 0, sizeof *res);
  dc__emu_reset(cfg->async_threads);
  dc__findings_reset();
  int rc = dc__load_driver(cfg->driver_path, errbuf, errcap);
  if (rc != 0 && rc != DC_ELOAD)
    return rc;
  info.driver_path = cfg->driver_path;
  info.seed = cfg->seed;
  info.have_entry = dc__loader_entry_copy(&info.entry, info.driver_name,
                                          sizeof info.driver_name);
  if (rc == 0) {
    dc__scenario s;
    dc__scenario_init(&s);
    if (dc__smoke_build(&s, dc__g.entry, cfg->seed) == 0)
      run_scenario(cfg, &s, &steps, &trace);
    dc__scenario_free(&s);
    dc__unload_driver();
  }
  for (int i = 0; i < DC__CB_COUNT; i++)
    info.callbacks[i] = dc__g.cb_count[i];
  info.duration_ms = now_ms() - t0;
  info.scenario = (const char *const *)steps.v;
  info.nsteps = steps.n;
  info.trace = (const char *const *)trace.v;
  info.ntrace = trace.n;
  print_summary(&info, &res->errors, &res->warnings);
  rc = 0;
  if (cfg->report_path) {
    rc = dc__report_write(cfg->report_path, &info, errbuf, errcap);
    if (rc == 0 && !cfg->quiet)
      printf("report: %s\n", cfg->report_path);
  }
  lines_free(&steps);
  lines_free(&trace);
  return rc;
}
