/* Report: the JSON conformance report (cJSON), built in memory and written
 * once, atomically (temporary file + rename). */
#ifndef DC_REPORT_INTERNAL_H
#define DC_REPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "../core/internal.h"

#define DC__REPORT_SCHEMA_VERSION 1

/* What found one finding and its scenarios; parallel to dc__findings(). */
typedef struct dc__report_finding {
  const char *sequence;        /* "smoke", "random 3", "stimulus x" */
  uint64_t seed;               /* seed of that sequence */
  const char *const *scenario; /* original scenario lines */
  size_t nscenario;
  const char *const *shrunk; /* shrunk scenario lines */
  size_t nshrunk;
} dc__report_finding;

/* Everything a report says; the caller owns all memory it points to. */
typedef struct dc__report_info {
  const char *driver_path;
  int have_entry;    /* 0 when driver_init gave no entry */
  ErlDrvEntry entry; /* copy taken at load (the library may be gone) */
  char driver_name[64];
  uint64_t seed;
  double duration_ms;
  const char *const *scenario; /* scenario lines, one per step */
  size_t nsteps;
  const char *const *trace; /* Erlang-visible trace lines */
  size_t ntrace;
  unsigned long callbacks[DC__CB_COUNT];
  const char *mode;                 /* "run" or "replay" */
  const dc__report_finding *found;  /* per finding (index as dc__findings), */
  size_t nfound;                    /* or NULL/0 */
  unsigned smoke, targeted, random; /* run units of each kind */
  const char *const *stimuli;       /* names of the stimuli applied */
  size_t nstimuli;
  const char *const *never_ran; /* defined callbacks that never ran */
  size_t nnever;
} dc__report_info;

/* Renders the report as a JSON string; returns a malloc'ed string the
 * caller frees, or NULL when out of memory. */
char *dc__report_render(const dc__report_info *info);

/* Renders and writes the report to path atomically. Returns 0, or DC_EIO /
 * DC_ENOMEM with a one-line message in errbuf (caller-owned). */
int dc__report_write(const char *path, const dc__report_info *info,
                     char *errbuf, size_t cap);

/* Names of the ERL_DRV_FLAG_* bits set in flags, written into names (at most
 * max entries, static strings); returns how many. Unknown bits are named
 * "0x..." in the caller-owned scratch buffer. */
int dc__flag_names(int flags, const char **names, int max, char *scratch,
                   size_t cap);

#endif
