/* Issue 3 "Done when": each targeted stimulus really happens. Every
 * corpus/drivers/bad/seq_*.c driver works except that it crashes in ONE
 * rare-but-legal situation; `drvcheck run` (default budget) must find the
 * crash (cb.crash), shrink it to a few lines, and `drvcheck replay` must
 * reproduce it from those lines. The good example drivers, driven by the
 * generator in concurrency mode, must yield no finding. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sequencer/internal.h"
#include "support.h"

#define BIN DC_DRVCHECK_BIN
#define DRV DC_DRIVER_DIR

static char out[1 << 20];

/* Runs a shell command, stdout into out (stderr dropped); the exit status. */
static int run(const char *cmd) {
  char full[2048];
  snprintf(full, sizeof full, "%s 2>/dev/null", cmd);
  FILE *p = popen(full, "r");
  if (!p)
    DC_FAIL("popen %s", cmd);
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = '\0';
  while (fgetc(p) != EOF)
    ;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static cJSON *load_json(const char *path) {
  static char buf[1 << 22];
  FILE *f = fopen(path, "r");
  if (!f)
    DC_FAIL("no report at %s", path);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  cJSON *j = cJSON_Parse(buf);
  if (!j)
    DC_FAIL("report %s is not valid JSON", path);
  return j;
}

static const char *str(cJSON *o, const char *key) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : "";
}

/* Runs `drvcheck run` on bad/<name>.so and checks the crash finding; then
 * replays its shrunk scenario. `must` is a substring the shrunk scenario
 * must contain: the operation that realises the stimulus. */
static void expect_found_and_replayed(const char *name, const char *must) {
  char cmd[2048], rpath[] = "/tmp/dc_stim_rep_XXXXXX",
                  spath[] = "/tmp/dc_stim_scn_XXXXXX";
  close(mkstemp(rpath));
  close(mkstemp(spath));
  snprintf(cmd, sizeof cmd, "%s run %s/bad/%s.so --report %s --quiet", BIN, DRV,
           name, rpath);
  int rc = run(cmd);
  cJSON *rep = load_json(rpath), *f, *crash = NULL;
  unlink(rpath);
  if (rc != 1)
    DC_FAIL("%s: drvcheck run exited %d, want 1\n%s", name, rc, out);
  cJSON_ArrayForEach(
      f, cJSON_GetObjectItemCaseSensitive(
             rep, "findings")) if (strcmp(str(f, "rule"), "cb.crash") == 0 &&
                                   !crash) crash = f;
  if (!crash)
    DC_FAIL("%s: no cb.crash finding\n%s", name, out);
  cJSON *shrunk = cJSON_GetObjectItemCaseSensitive(crash, "shrunk_scenario"),
        *l;
  if (!cJSON_IsArray(shrunk))
    DC_FAIL("%s: cb.crash finding has no shrunk_scenario", name);
  int n = cJSON_GetArraySize(shrunk), has = 0;
  if (n < 1 || n > 6)
    DC_FAIL("%s: shrunk scenario has %d lines, want 1..6", name, n);
  FILE *sf = fopen(spath, "w");
  DC_ASSERT(sf);
  cJSON_ArrayForEach(l, shrunk) {
    DC_ASSERT(cJSON_IsString(l));
    has |= strstr(l->valuestring, must) != NULL;
    fprintf(sf, "%s\n", l->valuestring);
  }
  fclose(sf);
  if (!has)
    DC_FAIL("%s: shrunk scenario lacks \"%s\"", name, must);
  cJSON_Delete(rep);
  snprintf(cmd, sizeof cmd, "%s replay %s/bad/%s.so %s", BIN, DRV, name, spath);
  rc = run(cmd);
  unlink(spath);
  if (rc != 1 || !strstr(out, "cb.crash"))
    DC_FAIL("%s: replay exited %d (want 1 with cb.crash)\n%s", name, rc, out);
}

/* ready_input with nothing to read (a false event) crashes it; real events
 * (the pipe holds data) never do. */
DC_TEST_T(false_ready_input_is_found, 120) {
  expect_found_and_replayed("seq_false_input_drv", "event ");
}

/* output while busy is legal only with ERL_DRV_FLAG_SOFT_BUSY, through
 * port_command(P, D, [force]): the sequencer must send it. */
DC_TEST_T(forced_send_while_soft_busy_is_found, 120) {
  expect_found_and_replayed("seq_soft_busy_drv", "force");
}

/* stop_select delivered later, from another thread, after stop ran. */
DC_TEST_T(stop_select_after_stop_is_found, 120) {
  expect_found_and_replayed("seq_late_stop_select_drv", "stop_select");
}

/* control 2 before control 1: legal, unusual. */
DC_TEST_T(unusual_control_order_is_found, 120) {
  expect_found_and_replayed("seq_control_order_drv", "control ");
}

/* ---- good drivers, concurrency mode, in-process ---------------------------
 */

/* Runs `seqs` generated sequences on a driver through dc__conc_exec
 * (concurrent per-port workers when the driver declares port locking).
 * Returns 0, or 1 with the first finding described in why. */
static int run_generated(const char *path, int seqs, char *why, size_t cap) {
  static dc__source src;
  char err[256];
  for (int s = 1; s <= seqs; s++) {
    dc__runner r;
    dc__op op;
    dc__emu_reset(2);
    dc__findings_reset();
    if (dc__load_driver(path, err, sizeof err) != 0)
      DC_FAIL("loading %s: %s", path, err);
    /* CPU time per callback depends on the build (TSan: 10x slower). */
    dc__rule_set_enabled(DC_RULE_CB_LENGTHY, 0);
    dc__source_gen(&src, (uint64_t)s, (1u << DC__STIM_COUNT) - 1, 300);
    dc__runner_init(&r);
    while (dc__source_next(&src, &r, &op)) {
      if (op.kind == DC__OP_UNLOAD)
        dc__conc_stop(); /* workers drained before finish() */
      dc__conc_exec(&r, &op);
    }
    dc__conc_stop();
    size_t nf;
    const dc__finding *f = dc__findings(&nf);
    if (nf) {
      snprintf(why, cap, "%s seed %d: %s in %s: %s", path, s,
               dc__rule_id(f[0].rule), f[0].callback, f[0].message);
      return 1;
    }
  }
  return 0;
}

DC_TEST_T(good_drivers_yield_no_finding_in_concurrency_mode, 300) {
  DIR *d = opendir(DRV);
  struct dirent *de;
  int seen = 0, bad = 0;
  static char why[1024], all[8192];
  DC_ASSERT(d);
  while ((de = readdir(d))) {
    char path[512];
    size_t l = strlen(de->d_name);
    if (l < 4 || strcmp(de->d_name + l - 3, ".so") != 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", DRV, de->d_name);
    if (run_generated(path, 5, why, sizeof why)) {
      bad++;
      snprintf(all + strlen(all), sizeof all - strlen(all), "\n  %s", why);
    }
    seen++;
  }
  closedir(d);
  DC_ASSERT(seen >= 9);
  if (bad)
    DC_FAIL("%d example driver(s) with findings:%s", bad, all);
}

/* locking_drv really runs concurrently: many sequences with several ports. */
DC_TEST_T(locking_drv_clean_under_concurrent_ports, 120) {
  char why[1024];
  if (run_generated(DRV "/locking_drv.so", 40, why, sizeof why))
    DC_FAIL("%s", why);
}
