/* bench_bare: the baseline of the sequencer benchmark. It dlopens a driver
 * and replays an operation log (written by bench_sequencer) by calling the
 * driver's callbacks directly, against a minimal erl_driver API defined here
 * and exported from this executable: driver_alloc/free and the output
 * functions the echo driver uses, which only copy the data into a sink, as
 * the cheapest conceivable emulator would.
 *
 * usage: bench_bare DRIVER.so OPLOG SECONDS
 *   -> prints callbacks per second of wall clock and per CPU second */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <erl_driver.h>

#include "bare_api.h"
#include "bench_ops.h"

#define MAX_SLOTS 8
#define CONTROL_RLEN 64

/* The minimal API lives in bare_api.c. */

/* ---- replay
 * ------------------------------------------------------------------ */

typedef struct rec {
  bench_rec r;
  ErlDrvBinary *bin; /* payload as one binary, built once at load */
} rec;

static rec *recs;
static size_t nrecs;

static void load_log(const char *path) {
  FILE *f = fopen(path, "rb");
  size_t cap = 0;
  bench_rec r;
  if (!f) {
    perror(path);
    exit(2);
  }
  while (fread(&r, sizeof r, 1, f) == 1) {
    if (nrecs == cap) {
      cap = cap ? cap * 2 : 1024;
      recs = realloc(recs, cap * sizeof *recs);
    }
    ErlDrvBinary *b = malloc(sizeof *b + r.len);
    b->orig_size = r.len;
    if (r.len && fread(b->orig_bytes, 1, r.len, f) != r.len)
      exit(2);
    recs[nrecs].r = r;
    recs[nrecs++].bin = b;
  }
  fclose(f);
}

static ErlDrvEntry *entry;
static ErlDrvData slots[MAX_SLOTS];
static char open_cmd[64];
static unsigned long callbacks;

static void command(ErlDrvData d, const rec *x) {
  SysIOVec iov[BENCH_MAX_SEGS + 2];
  ErlDrvBinary *binv[BENCH_MAX_SEGS + 2];
  ErlIOVec ev = {0, 0, iov, binv};
  size_t off = 0, len = x->r.len;
  char *base = x->bin->orig_bytes;
  if (!entry->outputv) {
    entry->output(d, base, len);
    return;
  }
  iov[0].iov_base = NULL; /* the placeholder ERTS leaves for a header */
  iov[0].iov_len = 0;
  binv[0] = NULL;
  ev.vsize = 1;
  for (int i = 0; i < x->r.nsegs && off < len; i++) {
    size_t l = x->r.seg[i] < len - off ? x->r.seg[i] : len - off;
    iov[ev.vsize].iov_base = base + off;
    iov[ev.vsize].iov_len = l;
    binv[ev.vsize++] = x->bin;
    off += l;
  }
  if (off < len || ev.vsize == 1) {
    iov[ev.vsize].iov_base = base + off;
    iov[ev.vsize].iov_len = len - off;
    binv[ev.vsize++] = x->bin;
  }
  ev.size = len;
  entry->outputv(d, &ev);
}

static void control(ErlDrvData d, const rec *x) {
  char def[CONTROL_RLEN], *rbuf = def;
  size_t rlen = x->r.rlen >= 0 && x->r.rlen < CONTROL_RLEN ? (size_t)x->r.rlen
                                                           : CONTROL_RLEN;
  ErlDrvSSizeT n =
      entry->control(d, x->r.cmd, x->bin->orig_bytes, x->r.len, &rbuf, rlen);
  if (n > 0)
    bare_take(rbuf, (size_t)n);
  if (rbuf != def)
    driver_free(rbuf);
}

static void run_one(const rec *x) {
  int s = x->r.slot < MAX_SLOTS ? x->r.slot : 0;
  ErlDrvData d = slots[s];
  switch (x->r.kind) {
  case BENCH_OPEN:
    if (!d) {
      /* Any distinct non-NULL handle: the minimal API ignores it. */
      slots[s] = entry->start((ErlDrvPort)&slots[s], open_cmd);
      callbacks++;
    }
    break;
  case BENCH_COMMAND:
    if (d && (entry->outputv || entry->output)) {
      command(d, x);
      callbacks++;
    }
    break;
  case BENCH_CONTROL:
    if (d && entry->control) {
      control(d, x);
      callbacks++;
    }
    break;
  case BENCH_CLOSE:
    if (d) {
      entry->stop(d);
      slots[s] = NULL;
      callbacks++;
    }
    break;
  case BENCH_UNLOAD:
    for (int i = 0; i < MAX_SLOTS; i++)
      if (slots[i]) {
        entry->stop(slots[i]);
        slots[i] = NULL;
        callbacks++;
      }
    break;
  default: /* timers, events, async: the echo driver has none */
    break;
  }
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s DRIVER.so OPLOG SECONDS\n", argv[0]);
    return 2;
  }
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  ErlDrvEntry *(*init)(void) =
      h ? (ErlDrvEntry * (*)(void)) dlsym(h, "driver_init") : NULL;
  if (!init || !(entry = init())) {
    fprintf(stderr, "bench_bare: %s\n", dlerror());
    return 2;
  }
  snprintf(open_cmd, sizeof open_cmd, "%s", entry->driver_name);
  load_log(argv[2]);
  double budget = atof(argv[3]), t0 = bench_clock_s(CLOCK_MONOTONIC), t;
  double c0 = bench_clock_s(CLOCK_PROCESS_CPUTIME_ID);
  if (entry->init && entry->init() != 0)
    return 2;
  do {
    for (size_t i = 0; i < nrecs; i++)
      run_one(&recs[i]);
    t = bench_clock_s(CLOCK_MONOTONIC) - t0;
  } while (t < budget);
  if (entry->finish)
    entry->finish();
  double c = bench_clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
  printf("%.0f %.0f\n", callbacks / t, c > 0 ? callbacks / c : 0);
  return 0;
}
