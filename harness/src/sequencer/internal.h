/* Sequencer: the one operation type every source of operations produces
 * (smoke scenario now; seeded generator, fuzz bytes and scenario files
 * later), the runner that executes operations against the core, and the
 * textual form of an operation (one scenario line). */
#ifndef DC_SEQUENCER_INTERNAL_H
#define DC_SEQUENCER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../core/internal.h"

#define DC__MAX_SLOTS 8   /* ports one scenario can have open */
#define DC__MAX_SPROCS 12 /* processes a scenario names (p0..p11) */
#define DC__OP_MAX_SEGS 8 /* I/O vector segments of one command */
#define DC__REASON_MAX 24 /* exit reason atom text */

/* Operation kinds. The comment gives each one's scenario line (see
 * docs/scenario.md); <slot> is a port slot 0..7, <proc> a process p0..p11,
 * <data> a payload of at most 1 MiB: hex digits, "-" (empty) or a quoted
 * "text" with C escapes. Options in [] may come in any order, once each. */
typedef enum {
  DC__OP_OPEN,    /* open <slot> list|binary [eof] [by=<proc>]
                   * open_port({spawn_driver, Driver}, Opts) by proc
                   * (default p<slot>), which becomes the owner */
  DC__OP_COMMAND, /* command <slot> <data> [split=a,b,..] [force] [from=<proc>]
                   * port_command(Port, Data [, [force]]); split: 1..8
                   * segment lengths, sum <= len, the rest is one more */
  DC__OP_CONTROL, /* control <slot> <cmd> <data> [rlen=N] [from=<proc>]
                   * port_control(Port, Cmd, Data); rlen: reply buffer size
                   * (default 64 as ERTS) */
  DC__OP_CALL,    /* call <slot> <cmd> <data> [from=<proc>] [# term]
                   * erlang:port_call(Port, Cmd, Term); data is ETF, written
                   * as hex with the printed term as a comment */
  DC__OP_EVENT,   /* event <slot> <k> in|out (k < DC__MAX_SLOT_EVENTS)
                   * ready_input/ready_output for the k-th event (by fd
                   * order) the slot's port selected; a false event when the
                   * fd is not ready */
  DC__OP_POLL,    /* poll: dispatch real events */
  DC__OP_ADVANCE, /* advance <ms>: virtual clock; due timeouts fire */
  DC__OP_ASYNC,   /* async <k>|all: wait for the async pool, deliver the
                   * k-th completed job, 0 = oldest (ready_async / async_free);
                   * k 0..65535, all = -1 */
  DC__OP_EXIT,    /* exit <proc> [<reason>]: a process exits (monitors fire,
                   * ports it owns close); reason an atom [a-z][a-zA-Z0-9_@]*
                   * of <= 23 chars, omitted = "" which means normal */
  DC__OP_SSMODE,  /* stop_select sync|deferred: how later ERL_DRV_USE
                   * deselects deliver stop_select */
  DC__OP_SSRUN,   /* stop_select run: deliver deferred stop_select calls on
                   * another thread, no lock held */
  DC__OP_SETTLE,  /* settle: timers, events, async until quiet (bounded) */
  DC__OP_CLOSE,   /* close <slot> [bang]: port_close(Port), or
                   * Port ! {Owner, close} with bang */
  DC__OP_UNLOAD,  /* unload: erl_ddll:unload_driver, finish() */
  DC__OP_COUNT
} dc__op_kind;

/* One operation. data points into the owning scenario's storage (or the
 * source's buffer until dc__scenario_add copies it). Unused fields are 0
 * except proc/rlen/k, whose "default" value is -1. */
typedef struct dc__op {
  dc__op_kind kind;
  int slot;     /* port slot */
  int proc;     /* acting process, -1 = the slot's owner (or p<slot>) */
  unsigned cmd; /* control/call command number */
  int opts;     /* DC__OPT_* for OPEN */
  int force;    /* COMMAND with [force] */
  int bang;     /* CLOSE as Port ! {Owner, close} */
  int rlen;     /* CONTROL reply buffer size, -1 = 64 */
  int k;        /* EVENT: event index; ASYNC: completion index, -1 = all */
  int mode;     /* EVENT: ERL_DRV_READ or ERL_DRV_WRITE; SSMODE:
                   dc__stop_select_mode */
  uint64_t ms;  /* ADVANCE */
  const unsigned char *data;
  size_t len;
  int nsegs;                   /* COMMAND: segments, 0 = one segment */
  size_t seg[DC__OP_MAX_SEGS]; /* COMMAND: segment lengths */
  char reason[DC__REASON_MAX]; /* EXIT: reason atom */
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

/* An operation of kind k with every field at its default. */
static inline dc__op dc__op_make(dc__op_kind k) {
  dc__op op = {.kind = k, .proc = -1, .rlen = -1, .k = -1};
  return op;
}

/* Scenario text (scenario.c): one operation per line, '#' comments; the
 * format is documented in docs/scenario.md. */

/* Writes the scenario line for op into buf (caller-owned), every field that
 * differs from its default, so that parsing it gives op back exactly.
 * Returns 0, or DC_EINVAL if it does not fit or op has no text form (unknown
 * kind, EVENT/SSMODE mode out of range, EXIT without a valid proc). */
int dc__op_format(const dc__op *op, char *buf, size_t cap);
const char *dc__op_name(dc__op_kind k);
/* Parses scenario text (len bytes, need not be NUL-terminated) into s,
 * appending all of its operations or none. Returns 0, DC_ENOMEM, or
 * DC_EPARSE with "<fname>:<line>: expected <what>, got '<token>'" in errbuf
 * (caller-owned). An optional first line `drvcheck-scenario 1`. */
int dc__scenario_parse(dc__scenario *s, const char *text, size_t len,
                       const char *fname, char *errbuf, size_t cap);
/* Reads a whole file; *out is malloc'ed (caller frees; NULL for an empty
 * file), *len its size. DC_ENOENT/DC_EIO/DC_ENOMEM with "<path>: ..." in
 * errbuf (caller-owned). */
int dc__read_file(const char *path, char **out, size_t *len, char *errbuf,
                  size_t cap);
/* Reads and parses a scenario file. DC_ENOENT/DC_EIO/DC_EPARSE + errbuf
 * ("<path>: No such file or directory" for a missing file). */
int dc__scenario_load(dc__scenario *s, const char *path, char *errbuf,
                      size_t cap);
/* Writes s as scenario text to f: each line of `header` (may be NULL) as a
 * "# " comment, then `drvcheck-scenario 1`, then one line per operation.
 * Returns 0 or DC_EIO (also for an operation without a text form). */
int dc__scenario_write(const dc__scenario *s, FILE *f, const char *header);

/* Runner state for one sequence; the state model reads the rest (port
 * states, busy, queue, timers, selected events, async jobs) from the core. */
typedef struct dc__runner {
  dc__port *slots[DC__MAX_SLOTS];
  ErlDrvTermData procs[DC__MAX_SPROCS]; /* 0 = not spawned yet */
  int ssmode;                           /* dc__stop_select_mode in force */
  int unloaded;
  unsigned long ops_run;
} dc__runner;

void dc__runner_init(dc__runner *r);
/* How many times the sequencer set the core's stop_select mode (ops.c; it
 * is the only caller of dc__select_set_mode). Deferred stop_selects are
 * queued only in deferred mode, so while this stays the same and the mode
 * is sync, a pending count seen to be 0 stays 0. */
extern _Atomic unsigned long dc__ss_mode_changes;
/* 1 if op is legal in the current state (the protocol model), else 0 with a
 * static reason in *why (why may be NULL). */
int dc__op_legal(const dc__runner *r, const dc__op *op, const char **why);
/* Executes one operation on the calling (emulator) thread. Returns 0, or
 * DC_ESTATE (nothing done) if the operation is not legal now. */
int dc__runner_exec(dc__runner *r, const dc__op *op);

/* State model queries (model.c), shared by the runner and the generator. */
#define DC__MAX_SLOT_EVENTS 64 /* selected fds per slot the model addresses */
/* The live port (any state but FREE/DEAD) in slot, or NULL. Inline: the
 * generator asks for every slot before every operation, and the model
 * again. A slot holds what dc__port_open returned, an element of
 * dc__g.ports, and elements are never reused within an emulator run, so
 * this is dc__port_live without the address arithmetic; the idx bound
 * still turns away a pointer kept across dc__emu_reset, as that does. */
static inline dc__port *dc__runner_port(const dc__runner *r, int slot) {
  if ((unsigned)slot >= DC__MAX_SLOTS || !r->slots[slot])
    return NULL;
  dc__port *p = r->slots[slot];
  int st = atomic_load_explicit(&p->state, memory_order_acquire);
  if (st < DC__PORT_STARTING || st > DC__PORT_EXITING)
    return NULL;
  return p->idx < atomic_load_explicit(&dc__g.nports, memory_order_acquire)
             ? p
             : NULL;
}
/* 1 if scenario process i can act: not spawned yet (spawned on first use)
 * or alive; 0 if it exited or i is out of range. */
int dc__runner_proc_ok(const dc__runner *r, int i);
/* The fds the slot's port selected for READ/WRITE, in fd order (the k of an
 * EVENT operation indexes this list): fds[i], modes[i] (caller-owned, cap
 * DC__MAX_SLOT_EVENTS). Returns the count (0 when the slot has no port). */
int dc__runner_events(const dc__runner *r, int slot, int *fds, int *modes);

/* Concurrency mode (conc.c). With ERL_DRV_FLAG_USE_PORT_LOCKING, per-slot
 * operations (command, control, call, event) are queued FIFO to one worker
 * thread (an emulator thread) per slot and run concurrently with other
 * slots; every other operation first waits for all queues to drain (a
 * barrier), then runs on the calling thread. Without port locking this is
 * dc__runner_exec. A queued operation returns 0 at once (its payload is
 * copied; an operation illegal by the time it runs is skipped by the runner).
 * Only one thread may dispatch. */
int dc__conc_exec(dc__runner *r, const dc__op *op);
/* Waits until every slot queue drained (before reading the state model). */
void dc__conc_barrier(void);
/* Drains and joins the workers (before dc__emu_reset / unload). */
void dc__conc_stop(void);

/* Entropy: where choices come from, a seeded PRNG or fuzz input bytes (the
 * same generator serves both, so fuzz bytes decode into legal operations). */
typedef struct dc__entropy {
  uint64_t rng;
  const unsigned char *bytes; /* not owned */
  size_t len, pos;
  int is_bytes;
} dc__entropy;
void dc__entropy_seed(dc__entropy *e, uint64_t seed);
void dc__entropy_bytes(dc__entropy *e, const void *bytes, size_t len);
/* A choice in [0, n) (n >= 1). Exhausted bytes yield 0. */
uint64_t dc__entropy_below(dc__entropy *e, uint64_t n);
/* 1 once a byte source is exhausted (never for a PRNG). */
int dc__entropy_done(const dc__entropy *e);

/* Targeted stimuli: biases of the generator so rare-but-legal situations
 * really happen. Bit i of a stimulus mask is (1u << DC__STIM_x). */
/* clang-format off */
#define DC__STIMULUS_MAP(X)                                                    \
  X(FALSE_EVENT, "false_event")                                                \
  X(BUSY_SEND, "busy_send")                                                    \
  X(SS_SYNC, "stop_select_sync")                                               \
  X(SS_DEFERRED, "stop_select_deferred")                                       \
  X(SS_AFTER_STOP, "stop_select_after_stop")                                   \
  X(CLOSE_QUEUED, "close_with_queued_data")                                    \
  X(SMALL_RLEN, "small_rlen")                                                  \
  X(PROC_EXIT, "monitored_process_exit")
/* clang-format on */
typedef enum {
#define DC__STIM_ENUM(e, s) DC__STIM_##e,
  DC__STIMULUS_MAP(DC__STIM_ENUM)
#undef DC__STIM_ENUM
      DC__STIM_COUNT
} dc__stimulus;
const char *dc__stimulus_name(dc__stimulus s);

/* A source of operations: the generator (entropy-driven) or a scenario. */
typedef struct dc__source {
  int is_scenario;
  /* generator */
  dc__entropy ent;
  unsigned stimuli; /* DC__STIM_* mask to favour */
  unsigned max_ops; /* then close everything and unload */
  unsigned produced;
  int phase;            /* 0 generating, 1 closing down, 2 ended */
  unsigned settles;     /* settles without progress while closing down */
  uint64_t min_backlog; /* least queued bytes + live ports seen then */
  /* Which scenario processes can act, as last computed (gen.c view_procs):
   * valid while r->procs still equals pids and dc__proc_deaths() deaths. */
  int procs_valid;
  unsigned long procs_deaths;
  ErlDrvTermData procs_pids[DC__MAX_SPROCS];
  unsigned procs_ok, procs_spawned; /* bit i: p<i> can act / is spawned */
  /* No deferred stop_select was pending, seen in sync mode after the
   * dc__ss_mode_changes-th mode change (-1: not known). */
  unsigned long ss_quiet;
  /* 1: command/control payloads are drawn but not filled; the caller
   * supplies their bytes (the fuzz loop: raw input bytes) */
  int defer_fill;
  /* scenario */
  const dc__scenario *scn;
  size_t pos;
  unsigned char buf[1 << 16]; /* payload of the last generated operation */
} dc__source;
void dc__source_gen(dc__source *src, uint64_t seed, unsigned stimuli,
                    unsigned max_ops);
void dc__source_fuzz(dc__source *src, const void *bytes, size_t len,
                     unsigned max_ops);
void dc__source_scenario(dc__source *src, const dc__scenario *s);
/* The next operation, legal in r's current state (generator) or the next
 * line (scenario; its legality is checked by dc__runner_exec). op->data may
 * point into src->buf until the next call, or into the generator's
 * immutable payload pools (static, never freed). Returns 1 with op filled, 0
 * at the end of the stream (the generator ends with unload). */
int dc__source_next(dc__source *src, dc__runner *r, dc__op *op);

/* splitmix64: the one PRNG of the sequencer (reproducible by seed). */
#define DC__RAND_STEP 0x9E3779B97F4A7C15ull
static inline uint64_t dc__rand_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static inline uint64_t dc__rand(uint64_t *state) {
  return dc__rand_mix(*state += DC__RAND_STEP);
}

/* Draws shared by the generator (gen.c) and the argument draws
 * (payload.c). Inline: an operation takes a dozen choices, and the PRNG
 * case is a multiply. */
static inline uint64_t dc__prng_below(dc__entropy *e, uint64_t n) {
  return (uint64_t)(((unsigned __int128)dc__rand(&e->rng) * n) >> 64);
}
/* A choice in [0, n) only when `cond` holds (else 0, and no entropy
 * spent), as `cond ? dc__below(src, n) : 0` would give. With the PRNG it
 * has no branch: splitmix64 advances its state by a constant, so the draw
 * is computed from the next state and the state is moved on only when the
 * draw counts (cond and n > 1; for n <= 1 the product is already 0). The
 * generator's choices are random by design, and a branch on each one
 * would mispredict about as often as it goes either way. */
static inline uint64_t dc__below_if(dc__source *src, int cond, uint64_t n) {
  dc__entropy *e = &src->ent;
  if (e->is_bytes)
    return cond ? dc__entropy_below(e, n) : 0;
  /* Masks, not ?: — the compiler turns those back into branches. */
  uint64_t counts = (uint64_t)(cond != 0), spends = counts & (n > 1);
  uint64_t z = dc__rand_mix(e->rng + DC__RAND_STEP);
  uint64_t v = (uint64_t)(((unsigned __int128)z * n) >> 64);
  e->rng += DC__RAND_STEP & -spends;
  return v & -counts;
}
static inline uint64_t dc__below(dc__source *src, uint64_t n) {
  return dc__below_if(src, 1, n);
}
/* 1 with probability pct/100. */
static inline int dc__chance(dc__source *src, unsigned pct) {
  return dc__below(src, 100) < pct;
}
/* Argument draws (payload.c). A payload size in [0, max]: mostly 0, 1, 4,
 * small and medium, sometimes up to max. */
size_t dc__gen_size(dc__source *src, size_t max);
/* Builds the payload pools once per process (idempotent, thread-safe). */
void dc__gen_pools(void);
/* Draws op's payload (op->len set) and, unless src->defer_fill, produces
 * its bytes: op->data points at pool memory or src->buf. */
void dc__gen_payload(dc__source *src, dc__op *op);
/* Splits a command into I/O vector pieces (op->nsegs/seg), odd and empty
 * ones included; the lengths add up to op->len. */
void dc__gen_split(dc__source *src, dc__op *op);
/* A control/call command number, mostly small. */
unsigned dc__gen_cmd(dc__source *src);
/* Appends a random term (atoms, integers, binaries, strings, tuples,
 * lists, nested up to a few levels) to x (caller-owned). */
void dc__gen_term(dc__source *src, ei_x_buff *x, int depth);
/* Stimuli actually applied so far in this process (a mask), for the summary:
 * set by the runner when an operation realises one (e.g. a false event). */
extern _Atomic unsigned dc__stimuli_applied;

/* Isolated execution (exec.c): one run unit = fresh emulator, load the
 * driver, run a source's operations, unload; by default in a forked child
 * watched by the parent, which records cb.crash / cb.hang when the driver
 * crashes or a callback hangs, and never dies with the driver. */
typedef struct dc__exec_config {
  const char *driver_path; /* not owned */
  int async_threads;       /* ERTS +A, >= 1 */
  int no_fork;             /* 1: run in this process (fuzzing, debuggers) */
  unsigned hang_ms;        /* hang limit per callback, 0 = 2000 */
} dc__exec_config;

/* What one unit runs: a source, or (smoke) the smoke scenario built in the
 * child from the loaded entry with seed. The source is not owned. */
typedef struct dc__exec_unit {
  dc__source *src;
  int smoke;
  uint64_t seed;
  int collect_trace;   /* 1: keep the Erlang-visible trace lines */
  int stop_on_illegal; /* 1: end the unit at the first DC_ESTATE op */
  /* A batch of random sequences in one child (batch >= 1): sequence k runs
   * the generator from the k-th dc__rand draw of `seeds`, max_ops long,
   * into src. The child ends the batch after a sequence with a finding,
   * after batch_ms, or when the next one could not start as fresh as in
   * its own child (exec.c, can_continue). */
  unsigned batch;
  uint64_t seeds;
  size_t max_ops;
  double batch_ms;
} dc__exec_unit;

/* Result of one unit; owned by the caller, freed with dc__exec_result_free. */
typedef struct dc__exec_result {
  int load_rc; /* dc__load_driver's result */
  char load_err[256];
  int have_entry;    /* entry copy valid (dc__loader_entry_copy) */
  ErlDrvEntry entry; /* function pointers only tell which are defined */
  char driver_name[64];
  dc__scenario ops;      /* operations executed, in order (with payloads) */
  dc__finding *findings; /* malloc'ed copy of the unit's findings */
  size_t nfindings;
  unsigned long callbacks[DC__CB_COUNT];
  unsigned stimuli; /* dc__stimuli_applied in the unit */
  /* findings each suppression hid in a forked unit (0 when the unit ran in
   * this process: those are counted here already) */
  unsigned supp_hits[DC__MAX_SUPPRESS];
  int illegal; /* an operation was not legal (DC_ESTATE) */
  unsigned illegal_step;
  int crashed, hung;    /* cb.crash / cb.hang recorded */
  char **trace;         /* trace lines (collect_trace), malloc'ed */
  unsigned *trace_step; /* operation index each trace line followed */
  size_t ntrace;
  /* batches: sequences started (the last one is what ops, findings and a
   * crash belong to; coverage counts all), and the last one's seed */
  unsigned batch_ran;
  uint64_t batch_seed;
} dc__exec_result;

typedef struct dc__exec dc__exec;
/* Creates an executor (shared memory set up once); *out owned by caller,
 * released with dc__exec_close. Returns 0 or DC_ENOMEM. */
int dc__exec_open(dc__exec **out, const dc__exec_config *cfg);
void dc__exec_close(dc__exec *ex);
/* Runs one unit isolated. Returns 0 (res filled, also after a crash or
 * hang), or DC_ENOMEM / DC_EIO when the child could not be run. */
int dc__exec_run(dc__exec *ex, const dc__exec_unit *u, dc__exec_result *res);
void dc__exec_result_free(dc__exec_result *res);

/* Shrinking (shrink.c): minimises `in` while `target` (same rule at the
 * same location, see dc__finding_same) still fires, re-running candidates
 * through ex; illegal candidates are rejected. out (initialised by the
 * caller) receives the result, at worst a copy of in. Bounded by
 * max_attempts runs and max_ms wall time. Returns the runs made. */
int dc__shrink(dc__exec *ex, const dc__scenario *in, const dc__finding *target,
               unsigned max_attempts, unsigned max_ms, dc__scenario *out);

/* Fuzzing (fuzzconv.c): the loop every driver fuzz target runs, and the
 * converter from a fuzz input to a scenario. */
/* Decoded operations per input, then wind down. */
#define DC__FUZZ_MAX_OPS 256
/* dc__source_fuzz with DC__FUZZ_MAX_OPS; bytes are not copied (not owned). */
void dc__fuzz_source(dc__source *src, const void *bytes, size_t len);
/* dc__source_next, then (byte sources) the payload of a command or control
 * is the next input bytes verbatim, so a fuzzer steers magic numbers and
 * length fields byte by byte: op->len is cut to the bytes that remain (and
 * a command's split clipped to it), op->data points into bytes. Same
 * contract otherwise. */
int dc__fuzz_next(dc__source *src, dc__runner *r, dc__op *op);
typedef void (*dc__fuzz_op_fn)(void *arg, const dc__op *op);
/* Runs the loaded driver through the operations decoded from bytes (fresh
 * runner, this thread, dc__runner_exec + entry.modified check); on_op (may
 * be NULL) sees each operation before it runs. Ends with the driver
 * unloaded (also when a port never drained). Returns operations run. The
 * caller resets the emulator and loads the driver first. */
unsigned dc__fuzz_run(const void *bytes, size_t len, dc__fuzz_op_fn on_op,
                      void *arg);
/* The first recorded finding of ERROR severity, or NULL (reporter-owned). */
const dc__finding *dc__fuzz_first_error(void);
/* "drvcheck: <rule-id>: <message> [callback] at <location>" into buf
 * (caller-owned); snprintf's return value. */
int dc__fuzz_format_finding(const dc__finding *f, char *buf, size_t cap);
/* Replays bytes through dc__fuzz_run on the driver at driver_path in a
 * fresh emulator in a forked child and appends the operations it executed
 * (up to and including one where the driver crashed or hung) to out
 * (initialised by the caller). Returns 0 with a note on how the run ended
 * in errbuf ("completed: N operations", "the driver crashed in ..."), or
 * the load error (DC_ENOENT, DC_ELOAD, ...) with its message, or
 * DC_EIO / DC_ENOMEM, or DC_ESTATE when a driver is loaded in this process
 * (the async pool is stopped before the fork). errbuf is caller-owned. */
int dc__fuzz_to_scenario(const void *bytes, size_t len, const char *driver_path,
                         dc__scenario *out, char *errbuf, size_t cap);

/* Sanitizer reports (sanitizer.c): a child's ASan/UBSan/TSan/LSan report
 * text becomes a san.* finding when one of its stack frames lies in the
 * driver object. Reports with no driver frame are the harness's own. */
#define DC__SAN_NONE 0   /* no sanitizer report in the text */
#define DC__SAN_DRIVER 1 /* a report with a frame in the driver: a finding */
#define DC__SAN_FOREIGN                                                        \
  2 /* reports, none in the driver: not a driver finding */
typedef struct dc__san_report {
  dc_rule rule;       /* DC_RULE_SAN_ADDRESS/UNDEFINED/THREAD/LEAK */
  char kind[64];      /* "heap-buffer-overflow", "data race", ... */
  char function[64];  /* driver frame's function, "" when unknown */
  char file[128];     /* its source file as reported, "" w/o debug info */
  unsigned line;      /* its source line, 0 without debug info */
  char location[160]; /* "function file:line" or "function (drv.so)" */
  char headline[200]; /* the report's first line */
  unsigned nreports;  /* reports found in the text */
} dc__san_report;
/* Parses report text (len bytes, need not be NUL-terminated; several
 * reports allowed: the first one with a driver frame wins, else the first
 * one). driver_path: the driver .so, matched by basename against the
 * frames' modules. out is caller-owned. Returns DC__SAN_*. */
int dc__san_parse(const char *text, size_t len, const char *driver_path,
                  dc__san_report *out);
/* 1 when this process has a sanitizer runtime (weak symbols resolved). */
int dc__san_active(void);
/* Per-executor report file prefix into buf (caller-owned): $DRVCHECK_SAN_LOG
 * if set, else $TMPDIR (or /tmp)/drvcheck-san.<pid>. */
void dc__san_log_prefix(char *buf, size_t cap);
/* Child, right after fork: reports go to <prefix>.<child pid> (no-op
 * without a sanitizer runtime). */
void dc__san_child_begin(const char *prefix);
/* Child, after the driver loaded (path as dladdr gives it): with a
 * sanitizer runtime, keeps the driver mapped after unload (RTLD_NODELETE)
 * so the leak check at the end still symbolizes the driver's frames. */
void dc__san_pin_driver(const char *loaded_path);
/* Child, just before _exit: runs the leak check _exit would skip. */
void dc__san_child_end(void);
/* Parent, after the child exited: reads and unlinks (kept with
 * DRVCHECK_SAN_KEEP=1) <prefix>.<pid> and
 * parses it into rep (caller-owned). With text non-NULL and a report found,
 * *text receives the malloc'ed report text (caller frees). DC__SAN_*. */
int dc__san_collect(const char *prefix, long pid, const char *driver_path,
                    dc__san_report *rep, char **text);
/* Sets f's rule, location, message (and count 1 if 0) from rep; the
 * caller fills step, callback, port, stimulus. */
void dc__san_finding(const dc__san_report *rep, dc__finding *f);

/* Builds the deterministic smoke scenario for the loaded driver: touches
 * every callback the entry defines. seed varies payloads and commands. */
int dc__smoke_build(dc__scenario *s, const ErlDrvEntry *e, uint64_t seed);

#endif
