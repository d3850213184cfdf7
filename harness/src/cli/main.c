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
  fprintf(out,
          "usage: drvcheck run DRIVER.so [--seed N] [--report FILE] [--quiet]\n"
          "       drvcheck --list-rules\n"
          "       drvcheck --help | --version\n"
          "\n"
          "run   load an Erlang port driver into drvcheck's mock emulator, check\n"
          "      its entry, drive every callback it defines through a smoke\n"
          "      scenario, print the Erlang-visible trace and the findings, and\n"
          "      write a JSON report.\n"
          "\n"
          "options:\n"
          "  --seed N       seed for payloads and choices (default 1)\n"
          "  --report FILE  write the JSON report to FILE (atomically)\n"
          "  --quiet        print only the summary\n"
          "\n"
          "exit status: 0 no error findings, 1 error findings, 2 usage or load "
          "problem\n");
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

static int cmd_run(int argc, char **argv) {
  dc_config cfg;
  dc_result res;
  char err[512] = "";
  unsigned long long seed;
  dc_config_init(&cfg);
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--seed") == 0) {
      if (parse_u64(i + 1 < argc ? argv[++i] : NULL, &seed) != 0)
        return fail_usage("--seed needs a non-negative integer", NULL);
      cfg.seed = seed;
    } else if (strcmp(a, "--report") == 0) {
      if (i + 1 >= argc)
        return fail_usage("--report needs a file name", NULL);
      cfg.report_path = argv[++i];
    } else if (strcmp(a, "--quiet") == 0) {
      cfg.quiet = 1;
    } else if (a[0] == '-' && a[1]) {
      return fail_usage("unknown option", a);
    } else if (!cfg.driver_path) {
      cfg.driver_path = a;
    } else {
      return fail_usage("unexpected argument", a);
    }
  }
  if (!cfg.driver_path)
    return fail_usage("run needs a driver .so", NULL);
  int rc = dc_run(&cfg, &res, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "drvcheck: %s\n", err[0] ? err : dc_strerror(rc));
    return EXIT_USAGE;
  }
  return res.errors ? EXIT_FINDINGS : 0;
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
    return cmd_run(argc - 2, argv + 2);
  return fail_usage("unknown command", cmd);
}
