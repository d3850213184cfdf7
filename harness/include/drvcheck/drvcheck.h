/* drvcheck public API: run the conformance harness on an Erlang/OTP port
 * driver. */
#ifndef DRVCHECK_H
#define DRVCHECK_H

#include <stddef.h>
#include <stdint.h>

#define DC_VERSION_MAJOR 0
#define DC_VERSION_MINOR 1
#define DC_VERSION_PATCH 0
#define DC_VERSION_STRING "0.1.0"

/* Error codes: 0 is success, every failure is one negative DC_E* value.
 * X(name, value, message) — one map expanded into the enum and dc_strerror().
 */
#define DC_ERRNO_MAP(X)                                                        \
  X(NOENT, -1, "no such file")                                                 \
  X(NOTSO, -2, "not a shared object")                                          \
  X(NOINIT, -3, "no driver_init function")                                     \
  X(UNRESOLVED, -4, "unresolved symbol")                                       \
  X(INVAL, -5, "invalid argument")                                             \
  X(NOMEM, -6, "out of memory")                                                \
  X(IO, -7, "input/output error")                                              \
  X(PARSE, -8, "parse error")                                                  \
  X(LOAD, -9, "driver could not be loaded")                                    \
  X(STATE, -10, "operation not legal in the current state")                    \
  X(FULL, -11, "table full")

typedef enum {
  DC_OK = 0,
#define DC__ERR_ENUM(name, value, msg) DC_E##name = (value),
  DC_ERRNO_MAP(DC__ERR_ENUM)
#undef DC__ERR_ENUM
} dc_errno;

/* Returns a static string describing err; the caller does not free it. */
const char *dc_strerror(int err);

/* Severity of a finding. */
typedef enum { DC_SEV_WARNING = 1, DC_SEV_ERROR = 2 } dc_severity;

/* Number of rules in the catalogue (rule ids are stable, see docs/rules). */
int dc_rule_count(void);
/* Returns the stable id ("entry.const", ...) of rule index i, or NULL when out
 * of range; static storage, the caller does not free it. */
const char *dc_rule_id(int i);
/* Returns the one-line title of rule index i; static storage. */
const char *dc_rule_title(int i);
/* Returns the severity of rule index i (0 when out of range). */
dc_severity dc_rule_severity(int i);
/* Returns the index of the rule with id `id`, or DC_EINVAL if unknown. */
int dc_rule_lookup(const char *id);

/* Run configuration; the caller owns it and every string it points to, and
 * must keep them alive for the duration of dc_run(). */
typedef struct dc_config {
  const char *driver_path;  /* driver .so to load */
  const char *report_path;  /* JSON report to write, or NULL for none */
  uint64_t seed;            /* seed for every random choice */
  int async_threads;        /* async pool size (ERTS +A), >= 1 */
  int quiet;                /* 1: do not print the trace */
  unsigned sequences;       /* random sequences; 0 = as many as time allows */
  double time_s;            /* budget for the sequences in seconds; 0 = 10 s
                               when sequences is 0, else no time limit */
  int no_fork;              /* 1: run in-process (no crash/hang isolation) */
  unsigned hang_ms;         /* hang limit per callback, 0 = 2000 ms */
  const char *scenario_dir; /* write shrunk scenarios there, or NULL */
  const char *replay_path;  /* replay this scenario file (or raw fuzz input)
                               instead of a run */
  int strict_binaries;      /* 1: page-protect delivered binaries */
} dc_config;

/* Disables the rule with id `id` for this process (findings of it are never
 * recorded). Returns 0, or DC_EINVAL for an unknown id. */
int dc_rule_disable(const char *id);

/* Loads a suppression file: one `<rule-id> [location-substring] # reason`
 * per line (the reason is required). Returns 0, or DC_ENOENT / DC_EPARSE
 * with a one-line "file:line: ..." message in errbuf (caller-owned). */
int dc_suppressions_load(const char *path, char *errbuf, size_t errcap);

/* Converts a raw fuzz input (as libFuzzer saved it) for the driver at
 * driver_path into the scenario the fuzzer executed, written to out_path.
 * Returns 0, or a negative DC_E* with a one-line message in errbuf. */
int dc_convert(const char *driver_path, const char *input_path,
               const char *out_path, char *errbuf, size_t errcap);

/* Fills cfg with defaults (seed 1, one async thread, no report). */
void dc_config_init(dc_config *cfg);

/* Result of a run; filled by dc_run(), owned by the caller (plain values). */
typedef struct dc_result {
  int errors;   /* error findings */
  int warnings; /* warning findings */
} dc_result;

/* Runs cfg->driver_path: entry checks, the smoke scenario (trace printed),
 * targeted stimulus sequences and seeded random sequences, each isolated in
 * a child process; findings are deduplicated and shrunk. With replay_path,
 * runs that scenario file instead and prints its trace. Prints the summary
 * to stdout and writes the report. Returns 0 when the run completed
 * (findings are in *res), or a negative DC_E* on a usage, load or scenario
 * parse problem, with a one-line message in errbuf (caller-owned, errcap
 * bytes; "file:line: ..." for DC_EPARSE). */
int dc_run(const dc_config *cfg, dc_result *res, char *errbuf, size_t errcap);

#endif
