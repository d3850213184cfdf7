/* drvcheck command line.
 *
 * Exit status: 0 = no error findings, 1 = error findings, 2 = usage or load
 * problem (with a one-line message on stderr). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drvcheck/drvcheck.h"

#define EXIT_FINDINGS 1
#define EXIT_USAGE 2

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: drvcheck run DRIVER.so [--seed N] [--sequences N] [--time "
      "SECONDS]\n"
      "                [--report FILE] [--write-scenarios DIR] [--quiet]\n"
      "                [--no-fork] [--hang-ms N] [--disable RULE]...\n"
      "                [--suppressions FILE] [--strict-binaries]\n"
      "       drvcheck replay DRIVER.so SCENARIO|FUZZ-INPUT [--report FILE]\n"
      "                [--quiet] [--no-fork] [--hang-ms N] [--disable "
      "RULE]...\n"
      "       drvcheck convert DRIVER.so FUZZ-INPUT -o OUT.scn\n"
      "       drvcheck --list-rules\n"
      "       drvcheck --help | --version\n"
      "\n"
      "run     load an Erlang port driver into drvcheck's mock emulator, "
      "check\n"
      "        its entry, drive every callback it defines through a smoke\n"
      "        scenario (its Erlang-visible trace is printed), one targeted\n"
      "        sequence per stimulus and seeded random protocol-legal\n"
      "        sequences, each in a child process (a crash or hang becomes a\n"
      "        cb.crash / cb.hang finding); shrink every finding's scenario.\n"
      "replay  run one scenario file (see docs/scenario.md) and print its\n"
      "        trace and findings; a raw libFuzzer input is converted first.\n"
      "convert write the scenario a raw fuzz input executes.\n"
      "\n"
      "options:\n"
      "  --seed N              seed for payloads and choices (default 1)\n"
      "  --sequences N         random sequences to run (default: as many as\n"
      "                        --time allows)\n"
      "  --time SECONDS        budget for the sequences (default 10; with\n"
      "                        --sequences, no limit unless given)\n"
      "  --report FILE         write the JSON report to FILE (atomically)\n"
      "  --write-scenarios DIR write each finding's shrunk scenario to\n"
      "                        DIR/<rule>-<n>.scn (for drvcheck replay)\n"
      "  --quiet               print only the summary\n"
      "  --no-fork             run in-process (for debuggers; no crash/hang\n"
      "                        isolation)\n"
      "  --hang-ms N           hang limit per callback (default 2000)\n"
      "  --disable RULE        never report RULE (repeatable)\n"
      "  --suppressions FILE   suppress known findings: lines\n"
      "                        `<rule> [location-substring] # reason`\n"
      "  --strict-binaries     page-protect delivered binaries so a\n"
      "                        write-after-delivery names the instruction\n"
      "\n"
      "exit status: 0 no error findings, 1 error findings, 2 usage, load or\n"
      "scenario problem\n");
}

static int list_rules(void) {
  for (int i = 0; i < dc_rule_count(); i++)
    printf("%-36s %-7s %s\n", dc_rule_id(i),
           dc_rule_severity(i) == DC_SEV_ERROR ? "error" : "warning",
           dc_rule_title(i));
  return 0;
}

static int parse_u64(const char *s, unsigned long long *out) {
  char *end;
  if (!s || !*s || *s == '-')
    return -1;
  errno = 0;
  *out = strtoull(s, &end, 0);
  return (errno || *end) ? -1 : 0;
}

static int fail_usage(const char *msg, const char *arg) {
  fprintf(stderr, "drvcheck: %s%s%s (see drvcheck --help)\n", msg,
          arg ? ": " : "", arg ? arg : "");
  return EXIT_USAGE;
}

static int parse_seconds(const char *s, double *out) {
  char *end;
  if (!s || !*s)
    return -1;
  errno = 0;
  *out = strtod(s, &end);
  return (errno || *end || !(*out > 0)) ? -1 : 0;
}

/* Options shared by run and replay; returns 1 when argv[*i] was one of
 * them, 0 if not, or EXIT_USAGE + 1 after printing a usage error. */
static int common_option(dc_config *cfg, int argc, char **argv, int *i) {
  const char *a = argv[*i], *val = *i + 1 < argc ? argv[*i + 1] : NULL;
  unsigned long long n;
  if (strcmp(a, "--quiet") == 0) {
    cfg->quiet = 1;
    return 1;
  }
  if (strcmp(a, "--no-fork") == 0) {
    cfg->no_fork = 1;
    return 1;
  }
  if (strcmp(a, "--report") == 0) {
    if (!val)
      return fail_usage("--report needs a file name", NULL) + 1;
    cfg->report_path = argv[++*i];
    return 1;
  }
  if (strcmp(a, "--strict-binaries") == 0) {
    cfg->strict_binaries = 1;
    return 1;
  }
  if (strcmp(a, "--disable") == 0) {
    if (!val || dc_rule_disable(val) != 0)
      return fail_usage("--disable needs a rule id (see drvcheck --list-rules)",
                        val) +
             1;
    ++*i;
    return 1;
  }
  if (strcmp(a, "--suppressions") == 0) {
    char err[512];
    if (!val)
      return fail_usage("--suppressions needs a file name", NULL) + 1;
    if (dc_suppressions_load(val, err, sizeof err) != 0) {
      fprintf(stderr, "drvcheck: %s\n", err);
      return EXIT_USAGE + 1;
    }
    ++*i;
    return 1;
  }
  if (strcmp(a, "--hang-ms") == 0) {
    if (parse_u64(val, &n) != 0 || n == 0 || n > 3600000)
      return fail_usage("--hang-ms needs a positive number of milliseconds",
                        NULL) +
             1;
    cfg->hang_ms = (unsigned)n;
    ++*i;
    return 1;
  }
  return 0;
}

static int run_option(dc_config *cfg, int argc, char **argv, int *i) {
  const char *a = argv[*i], *val = *i + 1 < argc ? argv[*i + 1] : NULL;
  unsigned long long n;
  if (strcmp(a, "--seed") == 0) {
    if (parse_u64(val, &n) != 0)
      return fail_usage("--seed needs a non-negative integer", NULL) + 1;
    cfg->seed = n;
  } else if (strcmp(a, "--sequences") == 0) {
    if (parse_u64(val, &n) != 0 || n > 100000000)
      return fail_usage("--sequences needs a non-negative integer", NULL) + 1;
    cfg->sequences = (unsigned)n;
  } else if (strcmp(a, "--time") == 0) {
    if (parse_seconds(val, &cfg->time_s) != 0)
      return fail_usage("--time needs a positive number of seconds", NULL) + 1;
  } else if (strcmp(a, "--write-scenarios") == 0) {
    if (!val)
      return fail_usage("--write-scenarios needs a directory", NULL) + 1;
    cfg->scenario_dir = val;
  } else {
    return 0;
  }
  ++*i;
  return 1;
}

/* run (replay = 0) or replay (replay = 1). */
static int cmd_run(int argc, char **argv, int replay) {
  dc_config cfg;
  dc_result res;
  char err[512] = "";
  dc_config_init(&cfg);
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    int r = common_option(&cfg, argc, argv, &i);
    if (r == 0 && !replay)
      r = run_option(&cfg, argc, argv, &i);
    if (r > 1)
      return r - 1;
    if (r == 1)
      continue;
    if (a[0] == '-' && a[1])
      return fail_usage("unknown option", a);
    if (!cfg.driver_path)
      cfg.driver_path = a;
    else if (replay && !cfg.replay_path)
      cfg.replay_path = a;
    else
      return fail_usage("unexpected argument", a);
  }
  if (!cfg.driver_path)
    return fail_usage(
        replay ? "replay needs a driver .so" : "run needs a driver .so", NULL);
  if (replay && !cfg.replay_path)
    return fail_usage("replay needs a scenario file", NULL);
  int rc = dc_run(&cfg, &res, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "drvcheck: %s\n", err[0] ? err : dc_strerror(rc));
    return EXIT_USAGE;
  }
  return res.errors ? EXIT_FINDINGS : 0;
}

/* convert DRIVER.so INPUT -o OUT.scn */
static int cmd_convert(int argc, char **argv) {
  char err[512] = "";
  if (argc != 4 || strcmp(argv[2], "-o") != 0)
    return fail_usage("usage: drvcheck convert DRIVER.so INPUT -o OUT.scn",
                      NULL);
  if (dc_convert(argv[0], argv[1], argv[3], err, sizeof err) != 0) {
    fprintf(stderr, "drvcheck: %s\n", err);
    return EXIT_USAGE;
  }
  printf("wrote %s\n", argv[3]);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
      strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("drvcheck %s\n", DC_VERSION_STRING);
    return 0;
  }
  if (strcmp(cmd, "--list-rules") == 0)
    return list_rules();
  if (strcmp(cmd, "run") == 0)
    return cmd_run(argc - 2, argv + 2, 0);
  if (strcmp(cmd, "replay") == 0)
    return cmd_run(argc - 2, argv + 2, 1);
  if (strcmp(cmd, "convert") == 0)
    return cmd_convert(argc - 2, argv + 2);
  return fail_usage("unknown command", cmd);
}
