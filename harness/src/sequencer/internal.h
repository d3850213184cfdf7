/* Sequencer: the one operation type every source of operations produces
 * (smoke scenario now; seeded generator, fuzz bytes and scenario files
 * later), the runner that executes operations against the core, and the
 * textual form of an operation (one scenario line). */
#ifndef DC_SEQUENCER_INTERNAL_H
#define DC_SEQUENCER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "../core/internal.h"

#define DC__MAX_SLOTS 8    /* ports one scenario can have open */
#define DC__OP_MAX_SEGS 8  /* I/O vector segments of one command */

typedef enum {
  DC__OP_OPEN,    /* open_port({spawn_driver, Driver}, Opts) into a slot */
  DC__OP_COMMAND, /* port_command(Port, Data [, [force]]) */
  DC__OP_CONTROL, /* port_control(Port, Cmd, Data) */
  DC__OP_CALL,    /* erlang:port_call(Port, Cmd, Term); data = ETF */
  DC__OP_ADVANCE, /* advance the virtual clock, firing timeouts */
  DC__OP_POLL,    /* poll selected events, dispatch real ones */
  DC__OP_ASYNC,   /* wait for async jobs, deliver every completion */
  DC__OP_SETTLE,  /* timers, events and async until nothing happens */
  DC__OP_CLOSE,   /* port_close(Port) */
  DC__OP_UNLOAD,  /* erl_ddll:unload_driver: finish() */
  DC__OP_COUNT
} dc__op_kind;

/* One operation. data points into the owning scenario's storage. */
typedef struct dc__op {
  dc__op_kind kind;
  int slot;       /* port slot (OPEN/COMMAND/CONTROL/CALL/CLOSE) */
  unsigned cmd;   /* control/call command number */
  int opts;       /* DC__OPT_* for OPEN */
  int force;      /* COMMAND with [force] */
  uint64_t ms;    /* ADVANCE */
  const unsigned char *data;
  size_t len;
  int nsegs;                     /* COMMAND: segments, 0 = one segment */
  size_t seg[DC__OP_MAX_SEGS];   /* COMMAND: segment lengths */
} dc__op;

/* A sequence of operations; owns the operations and their payload bytes. */
typedef struct dc__scenario {
  dc__op *ops;
  size_t n, cap;
  unsigned char **blobs; /* payload copies, freed with the scenario */
  size_t nblobs, capblobs;
} dc__scenario;

void dc__scenario_init(dc__scenario *s);
void dc__scenario_free(dc__scenario *s);
/* Appends a copy of op (and of its data). Returns 0 or DC_ENOMEM. */
int dc__scenario_add(dc__scenario *s, const dc__op *op);

/* Writes the scenario line for op into buf (caller-owned); returns 0, or
 * DC_EINVAL if it does not fit. */
int dc__op_format(const dc__op *op, char *buf, size_t cap);
const char *dc__op_name(dc__op_kind k);

/* Runner state for one sequence. */
typedef struct dc__runner {
  dc__port *slots[DC__MAX_SLOTS];
  ErlDrvTermData owner; /* the process that opens every port */
} dc__runner;

void dc__runner_init(dc__runner *r);
/* Executes one operation on the calling (emulator) thread. Returns 0, or
 * DC_ESTATE if the operation is not legal now (e.g. slot not open). */
int dc__runner_exec(dc__runner *r, const dc__op *op);

/* Builds the deterministic smoke scenario for the loaded driver: touches
 * every callback the entry defines. seed varies payloads and commands. */
int dc__smoke_build(dc__scenario *s, const ErlDrvEntry *e, uint64_t seed);

/* splitmix64: the one PRNG of the sequencer (reproducible by seed). */
static inline uint64_t dc__rand(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

#endif
