/* The driver zoo: every rule has a realistic bad driver that must trigger
 * exactly its rule (corpus/zoo/expect.txt says which), and every good
 * driver (the corpus/drivers examples and the zoo's good/) must yield no
 * finding. Drivers run through the real CLI (drvcheck run ... --report), a few
 * at a time, and the JSON reports are judged here. The table is printed: rule |
 * driver | detected/MISSED | other findings plus one line of false findings on
 * good drivers. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h" /* DC__SAN_SLOWDOWN; MSan: the cJSON hooks */
#include "drvcheck/drvcheck.h"
#include "runner.h"

#define BUILD_DIR DC_DRIVER_DIR "/.."
#define ZOO_DIR BUILD_DIR "/zoo"
#define EXPECT_FILE DC_SOURCE_DIR "/corpus/zoo/expect.txt"
#define DEFAULT_SEQUENCES 3
#define GOOD_SEQUENCES 3
#define WORKERS 3         /* drvcheck runs at a time (2-core CI budget) */
#define JOB_TIMEOUT_S 170 /* per driver; a hang is killed and fails */
#define MAX_ENTRIES 128
#define MAX_ALLOW 4

/* Rules whose detection is still being written: a miss is reported but does
 * not fail the test. Remove an entry as soon as its detection lands (the
 * table says "detected (pending: remove)" then). */
static const struct {
  const char *rule, *reason;
} pending_rules[] = {
    {NULL, NULL}, /* none pending: every detection has landed */
};

/* In a sanitizer build the harness runs several times slower, so cb.lengthy
 * divides a callback's time by that factor before comparing it with the
 * budget (harness/src/core/ctx.c, never a false positive); the zoo driver's
 * 20 ms of pure arithmetic, which no sanitizer slows, then falls under it.
 * Its detection is what the plain build's test asserts. */
#define SAN_BUILD (DC__SAN_SLOWDOWN > 1)

static const char *scaled_reason(const char *rule) {
  return SAN_BUILD && strcmp(rule, "cb.lengthy") == 0
             ? "the budget is scaled by the sanitizer's slowdown"
             : NULL;
}

/* One line of expect.txt. */
typedef struct entry {
  char driver[128]; /* as written */
  char so[512];     /* resolved path of the .so */
  char rule[64];
  unsigned sequences;
  char sanitizer[16]; /* "" = runs in the normal build */
  char allow[MAX_ALLOW][64];
  int nallow;
} entry;

/* One drvcheck run. */
typedef struct job {
  const char *so;
  unsigned sequences;
  char report[64]; /* temp file */
  pid_t pid;
  time_t started, ended;
  int done, timed_out, status;
} job;

static entry entries[MAX_ENTRIES];
static int nentries;

static const char *pending_reason(const char *rule) {
  for (size_t i = 0; i < sizeof pending_rules / sizeof pending_rules[0]; i++)
    if (pending_rules[i].rule && strcmp(pending_rules[i].rule, rule) == 0)
      return pending_rules[i].reason;
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* expect.txt                                                                */

static void parse_option(entry *e, const char *tok, int line) {
  if (strncmp(tok, "sanitizer=", 10) == 0) {
    snprintf(e->sanitizer, sizeof e->sanitizer, "%s", tok + 10);
  } else if (strncmp(tok, "allow=", 6) == 0 && e->nallow < MAX_ALLOW) {
    snprintf(e->allow[e->nallow++], sizeof e->allow[0], "%s", tok + 6);
  } else {
    char *end;
    long n = strtol(tok, &end, 10);
    if (*end || n < 1)
      DC_FAIL("%s:%d: bad field '%s'", EXPECT_FILE, line, tok);
    e->sequences = (unsigned)n;
  }
}

static void resolve(entry *e) {
  char drv[sizeof e->driver]; /* a copy: gcc cannot see the fields differ */
  memcpy(drv, e->driver, sizeof drv);
  if (strchr(drv, '/'))
    snprintf(e->so, sizeof e->so, "%s/%s.so", BUILD_DIR, drv);
  else
    snprintf(e->so, sizeof e->so, "%s/bad/%s.so", ZOO_DIR, drv);
}

static void load_expect(void) {
  FILE *f = fopen(EXPECT_FILE, "r");
  char buf[512];
  int line = 0;
  if (!f)
    DC_FAIL("cannot open %s", EXPECT_FILE);
  nentries = 0;
  while (fgets(buf, sizeof buf, f)) {
    line++;
    char *save, *tok = strtok_r(buf, " \t\r\n", &save);
    if (!tok || tok[0] == '#')
      continue;
    if (nentries == MAX_ENTRIES)
      DC_FAIL("%s: more than %d entries", EXPECT_FILE, MAX_ENTRIES);
    entry *e = &entries[nentries++];
    memset(e, 0, sizeof *e);
    e->sequences = DEFAULT_SEQUENCES;
    snprintf(e->driver, sizeof e->driver, "%s", tok);
    tok = strtok_r(NULL, " \t\r\n", &save);
    if (!tok)
      DC_FAIL("%s:%d: driver without rule", EXPECT_FILE, line);
    if (dc_rule_lookup(tok) < 0)
      DC_FAIL("%s:%d: unknown rule '%s'", EXPECT_FILE, line, tok);
    snprintf(e->rule, sizeof e->rule, "%s", tok);
    while ((tok = strtok_r(NULL, " \t\r\n", &save)))
      parse_option(e, tok, line);
    resolve(e);
  }
  fclose(f);
}

/* ------------------------------------------------------------------------ */
/* Running drvcheck: a small process pool                                    */

static int cli_has_sequences(void) {
  static int known = -1;
  if (known >= 0)
    return known;
  char line[512];
  FILE *p = popen(DC_DRVCHECK_BIN " --help 2>&1", "r");
  known = 0;
  while (p && fgets(line, sizeof line, p))
    known |= strstr(line, "--sequences") != NULL;
  if (p)
    pclose(p);
  if (!known)
    printf("note: drvcheck has no --sequences yet; runs take the default "
           "time budget\n");
  return known;
}

static void job_spawn(job *j) {
  int fd = -1;
  snprintf(j->report, sizeof j->report, "/tmp/dc_zoo_XXXXXX");
  fd = mkstemp(j->report);
  if (fd < 0)
    DC_FAIL("mkstemp: %s", strerror(errno));
  close(fd);
  char seq[16];
  snprintf(seq, sizeof seq, "%u", j->sequences);
  char *argv[] = {DC_DRVCHECK_BIN, "run",     (char *)j->so,
                  "--report",      j->report, "--quiet",
                  "--sequences",   seq,       NULL};
  if (!cli_has_sequences())
    argv[6] = NULL;
  fflush(NULL);
  j->pid = fork();
  if (j->pid < 0)
    DC_FAIL("fork: %s", strerror(errno));
  if (j->pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
      dup2(null, 1);
      dup2(null, 2);
    }
    setpgid(0, 0); /* so a timeout kills drvcheck and its children */
    execv(argv[0], argv);
    _exit(127);
  }
  j->started = time(NULL);
}

/* Reaps finished jobs, kills timed-out ones; returns how many finished. */
static int job_reap(job *jobs, int n) {
  int finished = 0;
  for (int i = 0; i < n; i++) {
    job *j = &jobs[i];
    if (!j->pid || j->done)
      continue;
    int st;
    pid_t r = waitpid(j->pid, &st, WNOHANG);
    if (r == j->pid) {
      j->done = 1;
      j->status = st;
      j->ended = time(NULL);
      finished++;
    } else if (time(NULL) - j->started > JOB_TIMEOUT_S && !j->timed_out) {
      j->timed_out = 1;
      kill(-j->pid, SIGKILL);
      kill(j->pid, SIGKILL);
    }
  }
  return finished;
}

static void run_jobs(job *jobs, int n) {
  int next = 0, running = 0, done = 0;
  struct timespec nap = {0, 20 * 1000 * 1000};
  while (done < n) {
    while (running < WORKERS && next < n) {
      job_spawn(&jobs[next++]);
      running++;
    }
    int f = job_reap(jobs, n);
    done += f;
    running -= f;
    if (!f)
      nanosleep(&nap, NULL);
  }
}

static cJSON *job_report(const job *j) {
  FILE *f = fopen(j->report, "r");
  cJSON *r = NULL;
  if (f) {
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    char *buf = len > 0 ? malloc((size_t)len + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)len, f) == (size_t)len) {
      buf[len] = '\0';
      r = cJSON_Parse(buf);
    }
    free(buf);
    fclose(f);
  }
  unlink(j->report);
  return r;
}

/* ------------------------------------------------------------------------ */
/* Judging reports                                                           */

static const char *str_of(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : "?";
}

static int allowed(const entry *e, const char *rule) {
  for (int i = 0; i < e->nallow; i++)
    if (strcmp(e->allow[i], rule) == 0)
      return 1;
  return 0;
}

/* Appends "rule(sev)" of every finding other than e's rule to others;
 * returns the number of those that are errors and not allowed. */
static int judge(const entry *e, const cJSON *findings, int *detected,
                 char *others, size_t cap) {
  const cJSON *f;
  int bad = 0;
  size_t used = 0;
  others[0] = '\0';
  *detected = 0;
  cJSON_ArrayForEach(f, findings) {
    const char *rule = str_of(f, "rule"), *sev = str_of(f, "severity");
    if (strcmp(rule, e->rule) == 0) {
      *detected = 1;
      continue;
    }
    int is_err = strcmp(sev, "error") == 0 && !allowed(e, rule);
    bad += is_err;
    if (used < cap)
      used += (size_t)snprintf(others + used, cap - used, "%s%s(%s%s)",
                               used ? " " : "", rule, sev,
                               is_err             ? "!"
                               : allowed(e, rule) ? ", allowed"
                                                  : "");
  }
  if (!others[0])
    snprintf(others, cap, "-");
  return bad;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */

/* Every rule of the catalogue has a line in expect.txt and each bad-driver
 * source named there exists. */
DC_TEST(every_rule_has_a_bad_driver) {
  load_expect();
  int missing = 0;
  for (int i = 0; i < dc_rule_count(); i++) {
    int found = 0;
    for (int k = 0; k < nentries && !found; k++)
      found = strcmp(entries[k].rule, dc_rule_id(i)) == 0;
    if (!found) {
      printf("no bad driver for rule %s\n", dc_rule_id(i));
      missing++;
    }
  }
  for (int k = 0; k < nentries; k++) {
    char drv[sizeof entries[k].driver], src[sizeof drv + 512];
    memcpy(drv, entries[k].driver, sizeof drv);
    drv[sizeof drv - 1] = '\0';
    if (strchr(drv, '/'))
      snprintf(src, sizeof src, "%s/corpus/%s.c", DC_SOURCE_DIR, drv);
    else
      snprintf(src, sizeof src, "%s/corpus/zoo/bad/%s.c", DC_SOURCE_DIR, drv);
    if (access(src, R_OK) != 0) {
      printf("%s: no source %s\n", entries[k].driver, src);
      missing++;
    }
  }
  DC_ASSERT_EQ(missing, 0);
}

static void print_row(const char *rule, const char *driver, const char *verdict,
                      const char *secs, const char *others) {
  printf("| %-34s | %-38s | %-26s | %4s | %s\n", rule, driver, verdict, secs,
         others);
}

/* Each bad driver triggers its rule and no other error rule. */
DC_TEST_T(bad_drivers_trigger_exactly_their_rule, 590) {
  static job jobs[MAX_ENTRIES];
  int idx[MAX_ENTRIES], n = 0, failures = 0;
  load_expect();
  for (int k = 0; k < nentries; k++) {
    if (entries[k].sanitizer[0])
      continue;
    if (access(entries[k].so, R_OK) != 0)
      DC_FAIL("%s not built (%s)", entries[k].driver, entries[k].so);
    memset(&jobs[n], 0, sizeof jobs[n]);
    jobs[n].so = entries[k].so;
    jobs[n].sequences = entries[k].sequences;
    idx[n++] = k;
  }
  run_jobs(jobs, n);
  print_row("rule", "driver", "result", "time", "other findings");
  for (int k = 0, j = 0; k < nentries; k++) {
    const entry *e = &entries[k];
    char others[1024], verdict[64];
    if (e->sanitizer[0]) {
      snprintf(verdict, sizeof verdict, "needs sanitizer build");
      print_row(e->rule, e->driver, verdict, "-", e->sanitizer);
      continue;
    }
    const job *jb = &jobs[j++];
    DC_ASSERT(idx[j - 1] == k);
    cJSON *r = jb->timed_out ? NULL : job_report(jb);
    const cJSON *fs =
        r ? cJSON_GetObjectItemCaseSensitive(r, "findings") : NULL;
    int detected = 0, bad_others = 0;
    if (!cJSON_IsArray(fs)) {
      snprintf(others, sizeof others, "no report (%s)",
               jb->timed_out ? "timed out" : "drvcheck failed");
      bad_others = 1;
    } else {
      bad_others = judge(e, fs, &detected, others, sizeof others);
    }
    const char *pend = pending_reason(e->rule);
    const char *scaled = scaled_reason(e->rule);
    if (detected)
      snprintf(verdict, sizeof verdict, "%s",
               pend ? "detected (pending: remove)" : "detected");
    else
      snprintf(verdict, sizeof verdict, "%s",
               pend     ? "MISSED (pending)"
               : scaled ? "missed (sanitizer build)"
                        : "MISSED");
    if (!pend)
      pend = scaled;
    char secs[16];
    snprintf(secs, sizeof secs, "%lds", (long)(jb->ended - jb->started));
    print_row(e->rule, e->driver, verdict, jb->timed_out ? "kill" : secs,
              others);
    if (!detected && pend)
      printf("|   %s: %s\n", scaled ? "note" : "pending", pend);
    failures += (!detected && !pend) || bad_others;
    cJSON_Delete(r);
  }
  printf("%d bad driver(s) failed (missed rule, or an error rule not "
         "expected; marked '!')\n",
         failures);
  DC_ASSERT_EQ(failures, 0);
}

/* Collects the .so files of dir into paths (malloc'ed strings). */
static int list_so(const char *dir, char **paths, int cap, int n) {
  DIR *d = opendir(dir);
  struct dirent *de;
  if (!d)
    DC_FAIL("cannot open %s", dir);
  while ((de = readdir(d)) && n < cap) {
    size_t l = strlen(de->d_name);
    if (l < 4 || strcmp(de->d_name + l - 3, ".so") != 0)
      continue;
    char *p = malloc(strlen(dir) + l + 2);
    sprintf(p, "%s/%s", dir, de->d_name);
    paths[n++] = p;
  }
  closedir(d);
  return n;
}

/* Good drivers (the corpus examples and the zoo's good/) yield nothing. */
DC_TEST_T(good_drivers_yield_no_finding, 590) {
  static job jobs[MAX_ENTRIES];
  char *paths[MAX_ENTRIES];
  int n = list_so(DC_DRIVER_DIR, paths, MAX_ENTRIES, 0);
  int ncorpus = n;
  n = list_so(ZOO_DIR "/good", paths, MAX_ENTRIES, n);
  DC_ASSERT(ncorpus >= 8 && n - ncorpus >= 9);
  for (int i = 0; i < n; i++) {
    memset(&jobs[i], 0, sizeof jobs[i]);
    jobs[i].so = paths[i];
    jobs[i].sequences = GOOD_SEQUENCES;
  }
  run_jobs(jobs, n);
  int false_findings = 0, broken = 0;
  char line[4096] = "";
  size_t used = 0;
  for (int i = 0; i < n; i++) {
    cJSON *r = jobs[i].timed_out ? NULL : job_report(&jobs[i]);
    const cJSON *fs =
        r ? cJSON_GetObjectItemCaseSensitive(r, "findings") : NULL;
    const char *name = strrchr(paths[i], '/') + 1;
    if (!cJSON_IsArray(fs)) {
      printf("good driver %s: no report (%s)\n", name,
             jobs[i].timed_out ? "timed out" : "drvcheck failed");
      broken++;
    } else {
      const cJSON *f;
      cJSON_ArrayForEach(f, fs) {
        false_findings++;
        if (used < sizeof line)
          used +=
              (size_t)snprintf(line + used, sizeof line - used, " %s:%s(%s)",
                               name, str_of(f, "rule"), str_of(f, "severity"));
      }
    }
    cJSON_Delete(r);
    free(paths[i]);
  }
  printf("false findings on %d good drivers: %d%s\n", n, false_findings,
         false_findings ? line : "");
  DC_ASSERT_EQ(broken, 0);
  DC_ASSERT_EQ(false_findings, 0);
}
