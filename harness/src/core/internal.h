/* Mock emulator core: state shared between the erl_driver API areas.
 *
 * The erl_driver API has no context argument, so the emulator is one global
 * (dc__g). ErlDrvPort handles are pointers into a fixed port table, which
 * makes handle validation and lookup O(1). Each API area (one .c file each:
 * output, queue, binary, memory, timer, select, async, monitor, thread, term,
 * port, misc, erl) keeps its private state static in its own file and exposes
 * only what other areas need, in its section below (the Erlang-side
 * sections are in erlside.h).
 *
 * Every erl_driver entry point is a thin function: record (coverage/context),
 * check (rules via dc__flag), then emulate what ERTS does. */
#ifndef DC_CORE_INTERNAL_H
#define DC_CORE_INTERNAL_H

#include "msan_shim.h" /* MSan builds only: wrappers for ei (and cJSON) */
#include <ei.h>
#include <erl_driver.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../rules/internal.h"
#include "drvcheck/drvcheck.h"
#include "erlside.h" /* term words, processes, atoms, trace, ETF */

/* How much slower this build of the harness runs than a plain one (typical
 * slowdowns: TSan 5-15x, MSan ~3x, ASan ~2x): time budgets that measure the
 * harness's own work scale by it. */
#if defined(__SANITIZE_THREAD__)
#define DC__SAN_SLOWDOWN 10
#elif defined(__SANITIZE_ADDRESS__)
#define DC__SAN_SLOWDOWN 2
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DC__SAN_SLOWDOWN 10
#elif __has_feature(memory_sanitizer)
#define DC__SAN_SLOWDOWN 3
#elif __has_feature(address_sanitizer)
#define DC__SAN_SLOWDOWN 2
#endif
#endif
#ifndef DC__SAN_SLOWDOWN
#define DC__SAN_SLOWDOWN 1 /* plain builds */
#endif
#define DC__TSAN (DC__SAN_SLOWDOWN == 10) /* a ThreadSanitizer build */

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                 */

/* clang-format off */
#define DC__CALLBACK_MAP(X)                                                    \
  X(INIT, "init")                                                              \
  X(START, "start")                                                            \
  X(STOP, "stop")                                                              \
  X(OUTPUT, "output")                                                          \
  X(READY_INPUT, "ready_input")                                                \
  X(READY_OUTPUT, "ready_output")                                              \
  X(FINISH, "finish")                                                          \
  X(CONTROL, "control")                                                        \
  X(TIMEOUT, "timeout")                                                        \
  X(OUTPUTV, "outputv")                                                        \
  X(READY_ASYNC, "ready_async")                                                \
  X(FLUSH, "flush")                                                            \
  X(CALL, "call")                                                              \
  X(PROCESS_EXIT, "process_exit")                                              \
  X(STOP_SELECT, "stop_select")                                                \
  X(EMERGENCY_CLOSE, "emergency_close")                                        \
  X(ASYNC_INVOKE, "async_invoke")                                              \
  X(ASYNC_FREE, "async_free")
/* clang-format on */

typedef enum {
  DC__CB_NONE = 0,
#define DC__CB_ENUM(e, s) DC__CB_##e,
  DC__CALLBACK_MAP(DC__CB_ENUM)
#undef DC__CB_ENUM
      DC__CB_COUNT
} dc__cb;

/* Returns "output", "stop", ... ("none" for DC__CB_NONE); static storage. */
const char *dc__cb_name(dc__cb cb);

/* ------------------------------------------------------------------------ */
/* Ports (port.c)                                                            */

#define DC__MAX_PORTS 1024

typedef enum {
  DC__PORT_FREE = 0, /* slot never used */
  DC__PORT_STARTING, /* inside start() */
  DC__PORT_OPEN,
  DC__PORT_CLOSING, /* flush called, waiting for the queue to drain */
  DC__PORT_EXITING, /* inside terminate (stop running) */
  DC__PORT_DEAD     /* terminated; the handle stays invalid forever */
} dc__port_state;

/* The driver queue (queue.c). One contiguous SysIOVec/binv array pair with
 * free slack at the front and back, so driver_peekq can return a pointer into
 * it and pushq is O(1) amortized. iov[head .. head+len) are live. */
typedef struct dc__ioq {
  SysIOVec *iov;
  ErlDrvBinary **binv;
  size_t cap;  /* slots allocated */
  size_t head; /* first live slot */
  size_t len;  /* live slots */
  ErlDrvSizeT size;
} dc__ioq;

/* Port open options the model supports (open_port/2 options). */
#define DC__OPT_BINARY 1 /* binary */
#define DC__OPT_EOF 2    /* eof */

typedef struct dc__port {
  unsigned idx;          /* slot index in dc__g.ports */
  ErlDrvTermData id;     /* port term (#Port<0.N>) */
  _Atomic int state;     /* dc__port_state */
  ErlDrvData drv_data;   /* start()'s (or init_ack's) value */
  ErlDrvTermData owner;  /* connected process */
  ErlDrvTermData caller; /* driver_caller(): set around start/output/... */
  int owner_linked;      /* owner linked (driver_exit unlinks it) */
  char name[128];        /* port name: the full open command */
  int opts;              /* DC__OPT_* requested at open */
  int flags;             /* PORT_FLAG_* as get_port_flags reports */
  int control_flags;     /* set_port_control_flags */
  /* Atomic: the sequencer's state model reads these between dispatches
   * while another thread may run this port's callbacks (concurrency mode). */
  _Atomic int busy; /* set_busy_port */
  ErlDrvSizeT msgq_low, msgq_high;
  _Atomic int
      init_ack_pending; /* USE_INIT_ACK open waiting for erl_drv_init_ack */
  int init_acked;       /* erl_drv_init_ack done */
  ErlDrvSInt os_pid;
  int timeslice_used;   /* percent consumed in the current callback */
  pthread_mutex_t lock; /* port lock (with ERL_DRV_FLAG_USE_PORT_LOCKING) */
  /* queue.c */
  dc__ioq q;
  ErlDrvPDL pdl; /* driver_pdl_create, or NULL */
  /* timer.c */
  _Atomic int timer_armed;         /* atomic: read by the state model */
  _Atomic uint64_t timer_deadline; /* virtual ms */
  /* per-port statistics */
  unsigned long callbacks;
  /* port.c: the exit in progress (kept for a CLOSING port's terminate) */
  int exit_bang;      /* Port ! {Owner, close}: {Port,closed} owed */
  long exit_int;      /* integer reason (driver_failure) if !exit_atom[0] */
  char exit_atom[64]; /* exit reason atom text */
} dc__port;

/* O(1): the port behind a handle, or NULL when h does not point at a slot of
 * the table (garbage handle). Does not check state. */
dc__port *dc__port_lookup(ErlDrvPort h);
/* As dc__port_lookup, and NULL unless the port is alive (STARTING, OPEN,
 * CLOSING or EXITING): the ERTS "invalid port" check. */
dc__port *dc__port_live(ErlDrvPort h);
/* Same check for a port term (driver_mk_port value). */
dc__port *dc__port_by_term(ErlDrvTermData t);
static inline ErlDrvPort dc__port_handle(dc__port *p) { return (ErlDrvPort)p; }

/* Erlang-side operations on ports (the sequencer drives these). All run on
 * the calling thread as an emulator (scheduler) thread. */

/* Result of open_port. */
typedef struct dc__open_result {
  dc__port *port;    /* NULL on failure */
  const char *error; /* "einval", "badarg", errno atom..., or NULL */
} dc__open_result;

/* open_port({spawn_driver, cmd}, opts) from owner. Calls start(); records a
 * DC__EV_OPEN event. */
dc__open_result dc__port_open(const char *cmd, int opts, ErlDrvTermData owner);
/* port_command(Port, Data) from sender: outputv if the driver has it (iov[0]
 * empty placeholder), else output with a private copy. The data is given as
 * `n` segments (each delivered as one piece of the I/O vector). force = the
 * [force] option. Returns 0 delivered, DC_ESTATE when the port is busy and
 * the command would suspend (not delivered), DC_EINVAL for badarg. */
int dc__port_command(dc__port *p, ErlDrvTermData sender, const SysIOVec *segs,
                     int n, int force);
/* port_control(Port, Cmd, Data): records a DC__EV_CONTROL_REPLY. */
int dc__port_control(dc__port *p, ErlDrvTermData caller, unsigned cmd,
                     const char *buf, size_t len);
/* As dc__port_control with a smaller reply buffer (rlen <= 64): ERTS always
 * offers 64 bytes, a robust driver must honour whatever rlen it is given. */
int dc__port_control_rlen(dc__port *p, ErlDrvTermData caller, unsigned cmd,
                          const char *buf, size_t len, size_t rlen);
/* erlang:port_call(Port, Cmd, Term) where etf/len = term_to_binary(Term). */
int dc__port_call(dc__port *p, ErlDrvTermData caller, unsigned cmd,
                  const char *etf, size_t len);
/* Exit signal to the port with reason (ETF of the reason term; "normal" for
 * port_close/1). bang_close = Port ! {Owner, close} (then {Port,closed} is
 * sent to the owner after stop). Implements flush/CLOSING/terminate. */
int dc__port_exit(dc__port *p, const char *reason_atom, int bang_close);
/* Terminates the port now: cancel timer, stop(), free queue, state DEAD. */
void dc__port_terminate(dc__port *p, const char *reason_atom);
/* Called after every callback (outermost): a CLOSING port whose queue is
 * empty terminates (the ERTS callback epilogue). */
void dc__port_epilogue(dc__port *p);
/* Iterates live ports: returns the first live port with idx >= from, or NULL.
 */
dc__port *dc__port_next_live(unsigned from);

/* The check at the top of every erl_driver entry taking an ErlDrvPort: the
 * live port, or NULL (the caller returns the ERTS invalid-port value). Reports
 * ctx.dead_port (api, site = return address into the driver) only when h
 * points at no slot at all, or at a terminated slot on an emulator thread
 * outside stop_select (elsewhere a port may die at any moment). */
dc__port *dc__port_api(ErlDrvPort h, const char *api, const void *site);
/* Takes a fresh slot (never reused) for a port named `name` (copied) owned by
 * and linked to owner; state STARTING, drv_data 0. NULL when the table is
 * full. Used by open_port and driver_create_port. */
dc__port *dc__port_alloc(const char *name, ErlDrvTermData owner, int opts);
/* Records the open_port result for the opener: the port id (error NULL) or
 * {error, error}. */
void dc__port_open_reply(dc__port *p, const char *error);
/* As dc__port_exit; reason_atom NULL means the integer reason reason_int
 * (driver_failure(port, N)). */
int dc__port_exit_ex(dc__port *p, const char *reason_atom, long reason_int,
                     int bang_close);
/* Sends {Port, Tag} to the owner (eof, closed) if the owner is alive. */
void dc__port_send_tag(dc__port *p, const char *tag);

/* Callback framing: every driver callback goes through dc__cb_enter/leave,
 * which take the port (or driver) lock unless this thread already holds it,
 * set driver_caller, record coverage and the calling context, and run the
 * epilogue when the outermost callback returns. */
typedef struct dc__cbframe {
  dc__port *prev_port;
  dc__cb prev_cb;
  int took_lock;
  ErlDrvTermData prev_caller;
} dc__cbframe;
void dc__cb_enter(dc__port *p, dc__cb cb, ErlDrvTermData caller,
                  dc__cbframe *f);
void dc__cb_leave(dc__port *p, dc__cbframe *f);

/* Liveness watch for crash/hang isolation (sequencer/exec.c): when
 * dc__cb_watch is set (it points into memory shared with the supervising
 * parent; owned by exec.c), dc__cb_enter/leave bump `beat` and record the
 * callback running on an emulator thread, so the parent's watchdog can tell
 * a hung callback from a slow run without any clock call in the child. */
typedef struct dc__watch {
  _Atomic unsigned long beat; /* bumped at every callback entry and exit */
  _Atomic int emu_cb;         /* dc__cb running on an emulator thread */
  _Atomic int any_cb;         /* dc__cb last entered on any thread */
  _Atomic int port;           /* port index of emu_cb, -1 when none */
} dc__watch;
extern dc__watch *volatile dc__cb_watch;

/* ------------------------------------------------------------------------ */
/* Calling context (who runs what on this thread)                           */

typedef enum {
  DC__THR_OTHER = 0, /* unknown thread */
  DC__THR_EMU,       /* emulator (scheduler) thread */
  DC__THR_ASYNC,     /* async pool worker */
  DC__THR_DRIVER,    /* created with erl_drv_thread_create */
  DC__THR_POLL       /* delivers deferred stop_select */
} dc__thr_kind;

typedef struct dc__ctx {
  dc__thr_kind kind;
  dc__port *port;       /* port whose callback runs on this thread */
  dc__cb cb;            /* callback running (DC__CB_NONE between callbacks) */
  int depth;            /* callback nesting (stop inside driver_failure...) */
  const char *stimulus; /* what the sequencer is doing ("false_event"...) */
} dc__ctx;

extern _Thread_local dc__ctx dc__tls;

/* Reports a finding in the current context (callback, port, stimulus taken
 * from dc__tls; site = the caller's return address into the driver). */
#define dc__flag(rule, api, ...)                                               \
  dc__flag_at((rule), (api), __builtin_return_address(0), __VA_ARGS__)
void dc__flag_at(dc_rule rule, const char *api, const void *site,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ------------------------------------------------------------------------ */
/* Calling-context checks at every erl_driver entry point (ctx.c)           */
/* The thread-safety class of each of the 111 API functions, from the Thread */
/* column of protocol.md §1, in header order. PURE: touches caller memory or */
/* constants only (n/s, plus driver_mk_term_nil and null_func, which return  */
/* constants); TS: documented thread-safe; TS_PDL: thread-safe with the     */
/* port data lock (queue functions; queue.c owns that rule); SCHED: defined */
/* to return ERL_DRV_TIME_ERROR off a scheduler, so never a misuse by thread */
/* kind; EMU: everything else (EMU, NTS, UNDOC): emulator callbacks only.    */

/* clang-format off */
#define DC__API_MAP(X)                                                         \
  X(erl_drv_busy_msgq_limits, EMU) X(driver_select, EMU)                       \
  X(driver_output, EMU) X(driver_output2, EMU) X(driver_output_binary, EMU)    \
  X(driver_outputv, EMU) X(driver_vec_to_buf, PURE) X(driver_set_timer, EMU)   \
  X(driver_cancel_timer, EMU) X(driver_read_timer, EMU)                        \
  X(erl_drv_consume_timeslice, EMU) X(erl_errno_id, PURE)                      \
  X(driver_failure_eof, EMU) X(driver_failure_atom, EMU)                       \
  X(driver_failure_posix, EMU) X(driver_failure, EMU) X(driver_exit, EMU)      \
  X(driver_pdl_create, EMU) X(driver_pdl_lock, TS) X(driver_pdl_unlock, TS)    \
  X(driver_pdl_get_refc, TS) X(driver_pdl_inc_refc, TS)                        \
  X(driver_pdl_dec_refc, TS) X(driver_monitor_process, EMU)                    \
  X(driver_demonitor_process, EMU) X(driver_get_monitored_process, EMU)        \
  X(driver_compare_monitors, PURE) X(set_busy_port, EMU)                       \
  X(set_port_control_flags, EMU) X(get_port_flags, EMU)                        \
  X(driver_free_binary, TS) X(driver_alloc_binary, TS)                         \
  X(driver_realloc_binary, TS) X(driver_binary_get_refc, TS)                   \
  X(driver_binary_inc_refc, TS) X(driver_binary_dec_refc, TS)                  \
  X(driver_free, TS) X(driver_alloc, TS) X(driver_realloc, TS)                 \
  X(driver_enq, TS_PDL) X(driver_pushq, TS_PDL) X(driver_deq, TS_PDL)          \
  X(driver_sizeq, TS_PDL) X(driver_enq_bin, TS_PDL)                            \
  X(driver_pushq_bin, TS_PDL) X(driver_peekqv, TS_PDL) X(driver_peekq, TS_PDL) \
  X(driver_enqv, TS_PDL) X(driver_pushqv, TS_PDL) X(add_driver_entry, EMU)     \
  X(remove_driver_entry, EMU) X(driver_system_info, EMU)                       \
  X(erl_drv_mutex_destroy, TS) X(erl_drv_mutex_create, TS)                     \
  X(erl_drv_mutex_trylock, TS) X(erl_drv_mutex_lock, TS)                       \
  X(erl_drv_mutex_unlock, TS) X(erl_drv_cond_destroy, TS)                      \
  X(erl_drv_cond_create, TS) X(erl_drv_cond_signal, TS)                        \
  X(erl_drv_cond_broadcast, TS) X(erl_drv_cond_wait, TS)                       \
  X(erl_drv_rwlock_destroy, TS) X(erl_drv_rwlock_create, TS)                   \
  X(erl_drv_rwlock_tryrlock, TS) X(erl_drv_rwlock_rlock, TS)                   \
  X(erl_drv_rwlock_runlock, TS) X(erl_drv_rwlock_tryrwlock, TS)                \
  X(erl_drv_rwlock_rwlock, TS) X(erl_drv_rwlock_rwunlock, TS)                  \
  X(erl_drv_tsd_key_create, TS) X(erl_drv_tsd_key_destroy, TS)                 \
  X(erl_drv_tsd_set, TS) X(erl_drv_tsd_get, TS)                                \
  X(erl_drv_thread_opts_destroy, TS) X(erl_drv_thread_opts_create, TS)         \
  X(erl_drv_thread_create, TS) X(erl_drv_thread_self, TS)                      \
  X(erl_drv_equal_tids, TS) X(erl_drv_thread_exit, TS)                         \
  X(erl_drv_thread_join, TS) X(erl_drv_mutex_name, PURE)                       \
  X(erl_drv_cond_name, PURE) X(erl_drv_rwlock_name, PURE)                      \
  X(erl_drv_thread_name, PURE) X(null_func, PURE) X(driver_mk_atom, EMU)       \
  X(driver_mk_port, EMU) X(driver_connected, EMU) X(driver_caller, EMU)        \
  X(driver_mk_term_nil, PURE) X(driver_create_port, EMU)                       \
  X(driver_output_term, EMU) X(driver_send_term, TS)                           \
  X(erl_drv_output_term, TS) X(erl_drv_send_term, TS)                          \
  X(driver_async_port_key, EMU) X(driver_async, EMU)                           \
  X(driver_lock_driver, EMU) X(driver_get_now, EMU)                            \
  X(erl_drv_monotonic_time, SCHED) X(erl_drv_time_offset, SCHED)               \
  X(erl_drv_convert_time_unit, PURE) X(driver_dl_open, EMU)                    \
  X(driver_dl_sym, EMU) X(driver_dl_close, EMU) X(driver_dl_error, EMU)        \
  X(erl_drv_putenv, TS) X(erl_drv_getenv, TS) X(erl_drv_init_ack, EMU)         \
  X(erl_drv_set_os_pid, EMU)
/* clang-format on */

typedef enum {
#define DC__API_ENUM(name, cls) DC__API_##name,
  DC__API_MAP(DC__API_ENUM)
#undef DC__API_ENUM
      DC__API_COUNT
} dc__api;

typedef enum {
  DC__APICLS_PURE = 0,
  DC__APICLS_TS,
  DC__APICLS_TS_PDL,
  DC__APICLS_SCHED,
  DC__APICLS_EMU
} dc__api_class;

/* Indexed by dc__api; static data in ctx.c. */
extern const unsigned char dc__api_class_of[DC__API_COUNT];
/* The function's name ("driver_output"); static storage. */
const char *dc__api_name(dc__api api);

/* The out-of-line part of dc__api_check: reports ctx.api_in_stop_select or
 * ctx.thread_unsafe_api for api called from site. */
void dc__api_slow(dc__api api, const void *site);

/* The check at the top of every erl_driver entry. Costs two thread-local
 * loads when an emulator thread calls outside stop_select (the hot path). */
static inline void dc__api_check(dc__api api, const void *site) {
  if (__builtin_expect(
          dc__tls.kind == DC__THR_EMU && dc__tls.cb != DC__CB_STOP_SELECT, 1))
    return;
  dc__api_slow(api, site);
}

/* dc__api_check plus the port checks of an entry taking an ErlDrvPort: the
 * live port or NULL (ctx.dead_port reported via dc__port_api), and
 * ctx.foreign_port (port-level locking, a callback of another port). */
dc__port *dc__api_port(dc__api api, ErlDrvPort h, const void *site);

/* The one line at the top of each entry; site is evaluated in the entry, so
 * it is the return address into the driver. */
#define DC__API(name) dc__api_check(DC__API_##name, __builtin_return_address(0))
#define DC__API_PORT(name, h)                                                  \
  dc__api_port(DC__API_##name, (h), __builtin_return_address(0))

/* queue.c: ctx.foreign_port for a queue function (class TS_PDL) on p. */
void dc__ctx_foreign_queue(dc__port *p, const char *api, const void *site);
/* driver_create_port: the new port may be touched by this thread until the
 * outermost callback returns (ERTS keeps it locked until then). */
void dc__ctx_port_created(dc__port *p);
/* port.c: 1 if this thread holds p's port lock through dc__cb_enter. */
int dc__port_lock_held(const dc__port *p);
/* Callback timing for cb.lengthy, called by dc__cb_enter/leave around the
 * outermost callback on an emulator thread; leave reports with the
 * callback's context still set. */
void dc__ctx_cb_outer_enter(void);
void dc__ctx_cb_outer_leave(dc__port *p, dc__cb cb);
/* erl_drv_consume_timeslice: percent (1..100) of a 1 ms slice reported by
 * the running callback; deducted from its measured time. */
void dc__ctx_consumed(int percent);
/* cb.lengthy budget in microseconds of thread CPU time (default 1000);
 * <= 0 disables the measurement. A callback is reported when (a lower bound
 * of) its own CPU time, minus harness work and erl_drv_consume_timeslice
 * reports, exceeds the budget plus a 4 ms allowance for kernel noise; wall
 * time pre-filters, so the CPU clock is rarely read (see ctx.c). */
void dc__set_lengthy_budget_us(long us);
/* Called by dc__emu_reset (keeps the budget). */
void dc__ctx_reset(void);
/* Harness-only work inside a timed callback (trace encoding, checksums of
 * delivered binaries) is excluded from cb.lengthy: begin returns a token
 * (-1 when nothing is timed, so the clock is read only then), end adds the
 * wall time since begin (>= its CPU time) to the callback's excluded time.
 * Nestable. */
long dc__overhead_begin(void);
void dc__overhead_end(long *token);
/* The check for entries whose emulation does such heavy work: as DC__API,
 * and the rest of the entry is excluded from cb.lengthy. */
#define DC__OVERHEAD()                                                         \
  long dc__ovh __attribute__((cleanup(dc__overhead_end), unused)) =            \
      dc__overhead_begin()
#define DC__API_HEAVY(name)                                                    \
  DC__API(name);                                                               \
  DC__OVERHEAD()

/* ------------------------------------------------------------------------ */
/* The emulator                                                              */

typedef struct dc__emu {
  ErlDrvEntry *entry;   /* the driver's entry (as handed over) */
  ErlDrvEntry snapshot; /* copy taken at load, for entry.modified */
  char driver_name[64];
  int port_locking;         /* ERL_DRV_FLAG_USE_PORT_LOCKING */
  int loaded;               /* init() succeeded, finish() not yet called */
  int is_static;            /* linked in, not dlopen'ed */
  int locked_driver;        /* driver_lock_driver called */
  pthread_mutex_t drv_lock; /* driver-level lock (no port locking) */
  dc__port ports[DC__MAX_PORTS];
  _Atomic unsigned nports; /* slots used so far (never reused) */
  _Atomic uint64_t now_ms; /* virtual clock, advanced by the sequencer */
  int async_threads;       /* pool size */
  _Atomic unsigned long cb_count[DC__CB_COUNT]; /* coverage */
  int trace_enabled; /* record Erlang-visible events */
} dc__emu;

extern dc__emu dc__g;

/* Resets the whole emulator to a fresh state (every area's reset). Must be
 * called with no driver threads running. */
void dc__emu_reset(int async_threads);

/* ------------------------------------------------------------------------ */
/* Per-area hooks (called by port.c / the runner)                            */

/* queue.c: frees all queue contents (stopq); returns bytes dropped. */
ErlDrvSizeT dc__queue_clear(dc__port *p);
/* queue.c: current size without rule checks (the emulator's own view). */
ErlDrvSizeT dc__queue_size(dc__port *p);
/* queue.c: drops the port's reference to its PDL at termination. */
void dc__pdl_port_gone(dc__port *p);

/* binary.c: number of live driver binaries; validation used by others:
 * returns 1 if bin is a live binary made by driver_alloc_binary. */
int dc__bin_valid(const ErlDrvBinary *bin);
size_t dc__bin_live_count(void);
void dc__bin_reset(void);

/* memory.c: live driver_alloc blocks and bytes; reset frees nothing (the
 * driver owns them) but forgets them. */
size_t dc__mem_live_count(size_t *bytes);
/* 1 if ptr is a live block returned by driver_alloc/driver_realloc. */
int dc__mem_valid(const void *ptr);
void dc__mem_reset(void);
/* memory.c: makes the n-th next allocation (driver_alloc, driver_realloc,
 * driver_alloc_binary, driver_realloc_binary, also those the queue makes)
 * return NULL; n <= 0 disarms. For failing-allocation tests. */
void dc__mem_fail_after(long n);
/* memory.c: one step of that countdown; 1 when this allocation must fail. */
int dc__mem_fail_now(void);
/* memory.c: size, owner port index (-1: none) and call site of a live
 * driver_alloc block; any out pointer may be NULL. 0, or -1 if not live. */
int dc__mem_info(const void *ptr, size_t *size, int *owner, const void **site);
/* memory.c: calls fn for every live driver_alloc block (leak reports); fn
 * must not allocate or free driver memory. */
void dc__mem_foreach(void (*fn)(void *arg, const void *ptr, size_t size,
                                int owner, const void *site),
                     void *arg);
/* memory.c: as dc__mem_foreach for the live blocks whose owner is port index
 * `port` only, in O(those blocks) (port stop checks); same rules for fn. */
void dc__mem_foreach_port(int port,
                          void (*fn)(void *arg, const void *ptr, size_t size,
                                     int owner, const void *site),
                          void *arg);

/* memory.c: the registry of blocks the emulator handed out (driver_alloc
 * memory, driver binaries, PDLs), sharded by address so lookups are O(1)
 * without a global lock. A block starts with its dc__blk; the registry owns
 * nothing while the block is live and releases it when it leaves the
 * quarantine of recently released blocks: PDL blocks (plain malloc) with
 * free(), MEM and BIN blocks, which must come from dc__blk_new, back to its
 * size-class pool. */
typedef enum { DC__BLK_MEM = 1, DC__BLK_BIN, DC__BLK_PDL } dc__blk_kind;
typedef enum { DC__BLK_LIVE = 1, DC__BLK_FREED } dc__blk_state;
typedef struct dc__blk {
  const void *key;  /* the pointer the driver sees */
  size_t size;      /* bytes requested */
  const void *site; /* return address of the allocating API call */
  int owner;        /* idx of the port whose callback allocated, or -1 */
  unsigned char kind, state;
  uint16_t magic; /* live / freed poison, for sanity checks */
  uint8_t cls;    /* pool size class (set by dc__blk_new only) */
} dc__blk;
/* A malloc-compatible block of at least `bytes` (>= sizeof(dc__blk)) with
 * its dc__blk at the start, for MEM and BIN blocks: the caller owns it until
 * dc__blk_add, may free() it before that, and must fill in the other
 * fields. Recycled from blocks that left the quarantine (not in sanitizer
 * builds). NULL when out of memory. */
void *dc__blk_new(size_t bytes);
/* Registers b (kind, key, size, site, owner filled in) as live. */
void dc__blk_add(dc__blk *b);
/* The entry for key of that kind in any state, or NULL; *state gets its
 * state. A FREED entry may be evicted at any time: do not dereference it. */
dc__blk *dc__blk_find(const void *key, int kind, int *state);
/* Live -> freed (quarantined, freed later). 0 done, 1 already freed, -1
 * not a known block of that kind. */
int dc__blk_release(const void *key, int kind);
/* Live blocks of kind and their bytes (bytes may be NULL). */
size_t dc__blk_live(int kind, size_t *bytes);
/* Forgets live blocks of kind (not freed) and frees quarantined ones. */
void dc__blk_reset(int kind);

/* binary.c: validates bin for an emulator use on behalf of API `api` called
 * from `site`: 1 if it is a live binary, else reports bin.foreign/bin.refc
 * and returns 0. */
int dc__bin_check(const ErlDrvBinary *bin, const char *api, const void *site);
/* binary.c: the emulator takes a reference (queue, delivered data): as
 * dc__bin_check, then refc+1. Returns 0, or -1 (nothing taken). */
int dc__bin_ref(ErlDrvBinary *bin, const char *api, const void *site);
/* binary.c: the emulator drops a reference it took; frees at 0. */
void dc__bin_unref(ErlDrvBinary *bin);

/* timer.c: advance the virtual clock by ms, firing due timeouts in deadline
 * order. Returns the number of timeouts fired. */
int dc__timer_advance(uint64_t ms);
/* timer.c: earliest armed deadline, or UINT64_MAX. */
uint64_t dc__timer_next(void);
void dc__timer_cancel_port(dc__port *p);
/* timer.c: forgets the armed-timer count (dc__emu_reset, which clears the
 * ports). */
void dc__timer_reset(void);

/* select.c: one entry per fd the driver selected. */
typedef enum {
  DC__SS_SYNC = 0, /* stop_select inside driver_select (usual case) */
  DC__SS_DEFERRED  /* later, from another thread, no lock held (an fd that
                      was never selected still gets it at once, as in ERTS) */
} dc__stop_select_mode;
void dc__select_set_mode(dc__stop_select_mode m);
/* Polls selected fds (timeout_ms, 0 = no wait) and dispatches ready_output
 * then ready_input for real events. Returns callbacks run. */
int dc__select_poll(int timeout_ms);
/* Delivers an event for fd/mode (ERL_DRV_READ or ERL_DRV_WRITE) whether or
 * not the fd is ready (a false event when it is not). Returns 0, or -1 when
 * the fd is not selected for that mode by a live port. */
int dc__select_fire(int fd, int mode);
/* Runs deferred stop_select calls on a separate thread with no lock held
 * (and waits for it). Returns how many ran. */
int dc__select_run_deferred(void);
/* Number of fds currently selected by port p (any mode, incl. USE). */
int dc__select_count(dc__port *p);
/* The fds on which p holds READ or WRITE interest, in fd order: fds[i] and
 * modes[i] (ERL_DRV_READ|ERL_DRV_WRITE bits p owns) for at most cap fds
 * (caller-owned arrays). Returns how many were written. */
int dc__select_port_fds(const dc__port *p, int *fds, int *modes, int cap);
/* Deferred stop_select calls still due (not cancelled by a re-select); *dead
 * (may be NULL) gets how many of them were requested by a port that has
 * terminated since. */
int dc__select_deferred_pending(int *dead);
/* Visits selected fds: returns the next selected fd > after, or -1; *mode
 * gets the modes and *port the owner. */
int dc__select_next(int after, int *mode, dc__port **port);
void dc__select_reset(void);

/* async.c */
/* Delivers completed jobs on this (emulator) thread: ready_async for live
 * ports, async_free otherwise. max < 0 = all. Returns jobs delivered. */
int dc__async_deliver(int max);
/* Waits until all queued jobs finished running (not delivered). */
void dc__async_wait_idle(void);
/* Jobs queued or running, and completed-but-undelivered. */
int dc__async_pending(int *completed);
void dc__async_start(int nthreads);
void dc__async_stop(void); /* joins workers; undelivered jobs get async_free */
/* A fresh pool of nthreads workers for a new emulator run (dc__emu_reset):
 * as dc__async_stop + dc__async_start, but an existing pool of that size
 * keeps its threads (queued jobs are discarded, running ones finish, and
 * jobs and completions get async_free as in dc__async_stop; ids restart). */
void dc__async_reset(int nthreads);
/* Delivers completed job number i (0 = oldest completion) as
 * dc__async_deliver does, so a sequencer can pick the order. Returns 1, or 0
 * when fewer than i+1 jobs have completed. */
int dc__async_deliver_one(size_t i);

/* monitor.c */
/* A process exits: fires process_exit for every driver monitor on it (port
 * locked), then marks it dead. Ports it owns get an exit signal with reason. */
void dc__proc_exit(ErlDrvTermData pid, const char *reason_atom);
/* Number of live driver monitors (all ports) on process pid. O(1), lock-free:
 * any thread, also while other ports' callbacks run. */
int dc__monitor_count_on(ErlDrvTermData pid);
/* Silently removes all driver monitors of port p (port exit). */
void dc__monitor_port_gone(dc__port *p);
void dc__monitor_reset(void);

/* thread.c */
/* Joins nothing; reports counts of live driver threads/mutexes/conds/rwlocks/
 * tsd keys (for thread.leak_at_finish later). */
void dc__thread_live_counts(int *threads, int *locks);
void dc__thread_reset(void);

/* misc.c */
void dc__misc_reset(void); /* emulated environment, dl error state */

/* term.c: builds the term described by an ERL_DRV_* spec into x (ETF with
 * version byte). x must be initialized by the caller (ei_x_new) and is
 * appended to; the caller frees it. Returns 0, or -1 when the spec is invalid
 * (a term.* finding has been reported via dc__flag with api). */
int dc__term_build(const ErlDrvTermData *spec, int n, ei_x_buff *x,
                   const char *api);

/* output.c: sends {Port,{data,Data}} to the owner where Data is header bytes
 * hbuf[0..hlen) followed by the segments (list mode: one flat list; binary
 * mode: one binary per segment, empty ones included, the last one as the
 * tail: [H1..Hn, <<S1>>, ... | <<Sn>>]; one segment and no header gives the
 * plain binary; nsegs == 0 gives just the header list, possibly []; as
 * io.c deliver_vec_message/deliver_read_message, checked on OTP 25).
 * Segments are read during the call only. Returns 0, -1 (dead port). */
int dc__deliver_data(dc__port *p, const char *hbuf, size_t hlen,
                     const SysIOVec *segs, int nsegs);

/* ------------------------------------------------------------------------ */
/* Rule checks across areas (deliver.c, lockdep.c, lifecycle.c)             */

/* deliver.c: bin.write_after_delivery. A record per delivered binary (owned
 * by deliver.c, found O(1) through a slot in the binary's hidden header)
 * holds checksummed byte ranges; recently delivered binaries are re-checked
 * after every outermost callback, all of them at free and at unload. */
typedef struct dc__dlv dc__dlv;
typedef enum {
  DC__DLV_SENT = 0, /* shared with Erlang while the driver holds the binary */
  DC__DLV_QUEUED    /* held by a port queue until dequeued */
} dc__dlv_kind;
/* binary.c: the delivery-record slot in live binary bin's hidden header. */
dc__dlv **dc__bin_dlv_slot(const ErlDrvBinary *bin);
/* binary.c: the reference count of bin when it is a live binary with a
 * count > 0, else 0; never reports (harness-side check). */
ErlDrvSInt dc__bin_refc(const ErlDrvBinary *bin);
/* data[0..len) of live binary bin was delivered by api (called from site,
 * a driver address for the finding's location). Ignored unless the range
 * lies inside the binary. */
void dc__dlv_record(ErlDrvBinary *bin, const char *data, size_t len,
                    dc__dlv_kind kind, const char *api, const void *site);
/* queue.c: the first `consumed` bytes of queued slice data[0..len) of bin
 * leave the queue (checked first; the rest stays tracked). */
void dc__dlv_unqueue(ErlDrvBinary *bin, const char *data, size_t len,
                     size_t consumed);
/* Re-checks bin's tracked bytes now (driver_free_binary, realloc). */
void dc__dlv_check(ErlDrvBinary *bin);
/* Checks, then stops tracking bin (released, or the driver is its only
 * holder again). */
void dc__dlv_drop(ErlDrvBinary *bin);
/* dc__cb_leave, outermost: re-checks the recently delivered binaries. */
void dc__dlv_after_callback(void);
/* Re-checks every tracked binary (unload). */
void dc__dlv_check_all(void);
/* port.c outputv, after the callback (still inside it): binv[i] (n
 * entries, NULL skipped) was filled from src[i] just before the callback;
 * those of >= ERL_SMALL_IO_BIN_LIMIT bytes the driver retained (refc > 1)
 * must still equal src[i] (compared, not written; the caller keeps src
 * unchanged during the callback) and are then tracked as delivered by the
 * outputv callback at site. */
void dc__dlv_outputv_retained(ErlDrvBinary *const *binv, const SysIOVec *src,
                              int n, const void *site);
/* Forgets every record and unprotects strict pages (binary reset). */
void dc__dlv_reset(void);
/* Opt-in precise mode (--strict-binaries): binaries allocated while it is on
 * have their data page-aligned in their own mapping; delivered ones are made
 * read-only and a SIGSEGV handler names the writing instruction. Cost: at
 * least two pages per binary and an mprotect per delivery. */
void dc__set_strict_binaries(int on);
int dc__strict_binaries(void);
/* binary.c, strict mode: maps `bytes` so that offset data_off is page
 * aligned; NULL on failure. dc__dlv_page_free unmaps it. */
void *dc__dlv_page_alloc(size_t data_off, size_t bytes);
void dc__dlv_page_free(void *mem, size_t data_off, size_t bytes);

/* lockdep.c: thread.lock_order and thread.lock_held_on_return for driver
 * locks (mutexes, rwlocks, PDLs taken by the driver). `name` must live as
 * long as the lock (it is copied into the graph). */
/* Before a blocking acquire: records held -> lock edges, reports cycles.
 * read: a read lock (edges into it are not recorded: readers share). */
void dc__lockdep_wait(const void *lock, const char *name, int read,
                      const char *api, const void *site);
/* The lock is now held by this thread (after lock or successful trylock). */
void dc__lockdep_acquired(const void *lock, const char *name, const void *site);
void dc__lockdep_released(const void *lock);
/* The lock is destroyed: its edges go (the address may be reused). */
void dc__lockdep_forget(const void *lock);
/* dc__cb_enter/leave of an outermost callback on this thread. The leave
 * reports locks taken during the callback and still held. */
void dc__lockdep_cb_enter(void);
void dc__lockdep_cb_leave(void);
void dc__lockdep_reset(void);

/* lifecycle.c: checks at port stop and at unload. */
/* After stop() returned: select.leak_at_stop, and remembers blocks the
 * port's callbacks allocated and its stop did not free (mem.leak
 * suspects). */
void dc__lifecycle_port_stopped(dc__port *p);
/* Live ports left stuck (init_ack.missing, cb.flush_stuck, cb.busy_stuck)
 * with nothing pending that could change that; at unload or sequence end. */
void dc__lifecycle_check_ports(void);
/* lifecycle.c: cb.busy_stuck for one port now (before it is closed): busy,
 * nothing pending, nothing Erlang could send would clear it. */
void dc__lifecycle_check_busy(dc__port *p);
/* Appends "; suspects: ..." for still-live blocks noted at port stops to
 * buf (caller-owned) and forgets the notes. Returns chars appended. */
size_t dc__lifecycle_leak_suspects(char *buf, size_t cap);
/* After finish(): thread.leak_at_finish. */
void dc__lifecycle_check_finish(void);

#endif
