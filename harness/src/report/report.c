/* The JSON report. One cJSON tree, printed once, written atomically so a
 * reader (CI) never sees a half-written report. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/msan_shim.h" /* MSan: zero-filling cJSON hooks */
#include "internal.h"

int dc__flag_names(int flags, const char **names, int max, char *scratch,
                   size_t cap) {
  static const struct {
    int bit;
    const char *name;
  } known[] = {
      {ERL_DRV_FLAG_USE_PORT_LOCKING, "ERL_DRV_FLAG_USE_PORT_LOCKING"},
      {ERL_DRV_FLAG_SOFT_BUSY, "ERL_DRV_FLAG_SOFT_BUSY"},
      {ERL_DRV_FLAG_NO_BUSY_MSGQ, "ERL_DRV_FLAG_NO_BUSY_MSGQ"},
      {ERL_DRV_FLAG_USE_INIT_ACK, "ERL_DRV_FLAG_USE_INIT_ACK"},
  };
  int n = 0, rest = flags;
  for (size_t i = 0; i < sizeof known / sizeof known[0] && n < max; i++)
    if (flags & known[i].bit) {
      names[n++] = known[i].name;
      rest &= ~known[i].bit;
    }
  if (rest && n < max) {
    snprintf(scratch, cap, "0x%x", (unsigned)rest);
    names[n++] = scratch;
  }
  return n;
}

static cJSON *driver_json(const dc__report_info *in) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddStringToObject(d, "path", in->driver_path ? in->driver_path : "");
  if (!in->have_entry) {
    cJSON_AddNullToObject(d, "name");
    return d;
  }
  const ErlDrvEntry *e = &in->entry;
  cJSON_AddStringToObject(d, "name", in->driver_name);
  cJSON_AddNumberToObject(d, "extended_marker", (unsigned)e->extended_marker);
  cJSON_AddNumberToObject(d, "major_version", e->major_version);
  cJSON_AddNumberToObject(d, "minor_version", e->minor_version);
  const char *names[8];
  char scratch[16];
  int n = dc__flag_names(e->driver_flags, names, 8, scratch, sizeof scratch);
  cJSON_AddItemToObject(d, "flags", cJSON_CreateStringArray(names, n));
  return d;
}

static cJSON *strings(const char *const *v, size_t n) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; i < n; i++)
    cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
  return a;
}

static cJSON *finding_json(const dc__finding *f, size_t idx,
                           const dc__report_info *in) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "rule", dc__rule_id(f->rule));
  cJSON_AddStringToObject(
      o, "severity",
      dc__rule_severity(f->rule) == DC_SEV_ERROR ? "error" : "warning");
  cJSON_AddStringToObject(o, "title", dc__rule_title(f->rule));
  cJSON_AddStringToObject(o, "message", f->message);
  cJSON_AddStringToObject(o, "callback", f->callback);
  cJSON_AddStringToObject(o, "api", f->api);
  if (f->port >= 0)
    cJSON_AddNumberToObject(o, "port", f->port);
  else
    cJSON_AddNullToObject(o, "port");
  cJSON_AddStringToObject(o, "stimulus", f->stimulus[0] ? f->stimulus : "none");
  cJSON_AddStringToObject(o, "location", f->location);
  cJSON_AddNumberToObject(o, "count", f->count);
  const dc__report_finding *x = NULL;
  if (in->found && idx < in->nfound)
    x = &in->found[idx];
  if (x) {
    char seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)x->seed);
    cJSON_AddStringToObject(o, "sequence", x->sequence ? x->sequence : "");
    cJSON_AddStringToObject(o, "seed", seed);
    cJSON_AddItemToObject(o, "trace", strings(x->scenario, x->nscenario));
    cJSON_AddItemToObject(o, "scenario", strings(x->scenario, x->nscenario));
    cJSON_AddItemToObject(o, "shrunk_scenario", strings(x->shrunk, x->nshrunk));
    return o;
  }
  /* The operations up to and including the one that exposed the finding:
   * a scenario that reproduces it. */
  size_t upto =
      in->nsteps ? (f->step < in->nsteps ? f->step + 1 : in->nsteps) : 0;
  cJSON_AddItemToObject(o, "trace", strings(in->scenario, upto));
  return o;
}

static cJSON *summary_json(const dc__report_info *in, int errors,
                           int warnings) {
  cJSON *s = cJSON_CreateObject();
  cJSON_AddNumberToObject(s, "errors", errors);
  cJSON_AddNumberToObject(s, "warnings", warnings);
  cJSON *cb = cJSON_AddObjectToObject(s, "callbacks");
  for (int i = 1; i < DC__CB_COUNT; i++)
    cJSON_AddNumberToObject(cb, dc__cb_name((dc__cb)i),
                            (double)in->callbacks[i]);
  cJSON_AddItemToObject(s, "never_ran", strings(in->never_ran, in->nnever));
  cJSON_AddItemToObject(s, "stimuli_applied",
                        strings(in->stimuli, in->nstimuli));
  /* Every loaded suppression with the findings it hid (0: it matched
   * nothing in this run). */
  cJSON *sup = cJSON_AddArrayToObject(s, "suppressions");
  for (int i = 0; i < dc__suppress_entries(); i++) {
    dc__suppress_info e;
    dc__suppress_get(i, &e);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "rule", dc_rule_id((int)e.rule));
    cJSON_AddStringToObject(o, "where", e.where);
    cJSON_AddStringToObject(o, "origin", e.origin);
    cJSON_AddNumberToObject(o, "suppressed", e.hits);
    cJSON_AddItemToArray(sup, o);
  }
  return s;
}

char *dc__report_render(const dc__report_info *in) {
  size_t n;
  const dc__finding *f = dc__findings(&n);
  int errors = 0, warnings = 0;
  cJSON *root = cJSON_CreateObject();
  cJSON_AddNumberToObject(root, "schema_version", DC__REPORT_SCHEMA_VERSION);
  cJSON *tool = cJSON_AddObjectToObject(root, "tool");
  cJSON_AddStringToObject(tool, "name", "drvcheck");
  cJSON_AddStringToObject(tool, "version", DC_VERSION_STRING);
  cJSON_AddItemToObject(root, "driver", driver_json(in));
  cJSON *run = cJSON_AddObjectToObject(root, "run");
  char seed[24];
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)in->seed);
  cJSON_AddStringToObject(run, "seed", seed);
  cJSON_AddNumberToObject(run, "duration_ms", in->duration_ms);
  cJSON_AddStringToObject(run, "mode", in->mode ? in->mode : "run");
  cJSON *seqs = cJSON_AddObjectToObject(run, "sequences");
  cJSON_AddNumberToObject(seqs, "smoke", in->smoke);
  cJSON_AddNumberToObject(seqs, "targeted", in->targeted);
  cJSON_AddNumberToObject(seqs, "random", in->random);
  cJSON_AddItemToObject(run, "scenario", strings(in->scenario, in->nsteps));
  cJSON *arr = cJSON_AddArrayToObject(root, "findings");
  for (size_t i = 0; i < n; i++) {
    cJSON_AddItemToArray(arr, finding_json(&f[i], i, in));
    if (dc__rule_severity(f[i].rule) == DC_SEV_ERROR)
      errors++;
    else
      warnings++;
  }
  cJSON_AddItemToObject(root, "summary", summary_json(in, errors, warnings));
  cJSON_AddItemToObject(root, "trace", strings(in->trace, in->ntrace));
  char *out = cJSON_Print(root);
  cJSON_Delete(root);
  return out;
}

int dc__report_write(const char *path, const dc__report_info *info,
                     char *errbuf, size_t cap) {
  char tmp[4096];
  char *json = dc__report_render(info);
  if (!json) {
    snprintf(errbuf, cap, "%s: out of memory rendering the report", path);
    return DC_ENOMEM;
  }
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  int ok = f && fputs(json, f) >= 0 && fputc('\n', f) != EOF;
  if (f && fclose(f) != 0)
    ok = 0;
  free(json);
  if (!ok || rename(tmp, path) != 0) {
    snprintf(errbuf, cap, "%s: cannot write report: %s", path, strerror(errno));
    unlink(tmp);
    return DC_EIO;
  }
  return 0;
}
