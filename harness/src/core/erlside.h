/* Erlang side of the mock emulator: term words (ErlDrvTermData encoding),
 * processes, atoms, the event trace and ETF checks/printers (erl.c, term.c,
 * etf.c, trace.c). Included through core/internal.h only, never directly. */
#ifndef DC_CORE_ERLSIDE_H
#define DC_CORE_ERLSIDE_H

#include <ei.h>
#include <erl_driver.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* Terms: the mock's ErlDrvTermData encoding (erl.c, term.c)                 */
/* Low 6 bits are a tag, the rest an index. driver_term_nil is 0x3B, the     */
/* value OTP 25 uses on 64-bit, so drivers comparing against it still work.  */

#define DC__TAG_BITS 6
#define DC__TAG_MASK ((ErlDrvTermData)0x3F)
#define DC__TAG_PID ((ErlDrvTermData)0x03)
#define DC__TAG_PORT ((ErlDrvTermData)0x07)
#define DC__TAG_ATOM ((ErlDrvTermData)0x0B)
#define DC__NIL ((ErlDrvTermData)0x3B)
#define DC__MK(tag, idx) ((((ErlDrvTermData)(idx)) << DC__TAG_BITS) | (tag))
#define DC__IDX(t) ((t) >> DC__TAG_BITS)
#define DC__IS(t, tag) (((t)&DC__TAG_MASK) == (tag))

/* ------------------------------------------------------------------------ */
/* Erlang-side model (erl.c, etf.c): processes, atoms, the trace, ETF        */

#define DC__MAX_PROCS 256
#define DC__MAX_ATOMS 4096

/* Kinds of Erlang-visible events. */
typedef enum {
  DC__EV_MSG = 1,       /* a message `to` receives (etf = the message term) */
  DC__EV_OPEN,          /* open_port result: etf = port id or {error,Reason} */
  DC__EV_CONTROL_REPLY, /* port_control result: etf = list/binary or badarg */
  DC__EV_CALL_REPLY,    /* port_call result: etf = term or badarg */
  DC__EV_COMMAND,       /* port_command result when not true (badarg/false) */
  DC__EV_PORT_EXIT      /* the port terminated: etf = exit reason */
} dc__ev_kind;

/* One trace entry; owned by the trace (arena memory of trace.c), valid
 * until dc__trace_reset(). */
typedef struct dc__event {
  /* atomic: linked under the trace lock by emulator threads while the
   * executor's thread walks the list without it */
  struct dc__event *_Atomic next;
  uint64_t seq;
  dc__ev_kind kind;
  ErlDrvTermData to;   /* receiving pid (DC__EV_MSG) or the caller */
  ErlDrvTermData from; /* sending port or pid */
  size_t len;          /* bytes of etf */
  char *etf;           /* external term format, starts with 131 */
} dc__event;

/* Creates a live process (pid term); name is for printing only, copied. */
ErlDrvTermData dc__proc_spawn(const char *name);
/* 1 if pid denotes a live process, 0 otherwise (also for non-pid terms). */
int dc__proc_alive(ErlDrvTermData pid);
/* Marks pid dead (no callbacks: monitors are fired by dc__proc_exit in
 * monitor.c which calls this). */
void dc__proc_mark_dead(ErlDrvTermData pid);
/* A count that grows whenever a process dies (dc__proc_mark_dead) or all
 * are forgotten (dc__proc_reset): while it stays the same, every
 * dc__proc_alive answer stays the same. Lets the sequencer's generator
 * cache liveness across operations. */
unsigned long dc__proc_deaths(void);
/* 1 if pid was ever spawned (alive or dead), 0 otherwise. */
int dc__proc_known(ErlDrvTermData pid);
/* Forgets all processes (pid numbering restarts at <0.80.0>); atoms are kept
 * because drivers cache atom values. Called by dc__emu_reset. */
void dc__proc_reset(void);
/* Index in the atom table for `name` (interned; thread-safe), or -1 if the
 * table is full. */
ErlDrvTermData dc__atom(const char *name);
/* Text of an atom term, or NULL if t is not a valid atom; static storage. */
const char *dc__atom_text(ErlDrvTermData t);

/* Reads n bytes at p, as ERTS reads data it copies into a message, when
 * the harness itself keeps no copy (trace off): a bad pointer or length
 * faults or trips a sanitizer inside the driver's API call. */
void dc__touch(const void *p, size_t n);

/* trace.c. Appends an event to the trace. etf/len are copied (etf may be an
 * ei_x_buff buffer, including the 131 version byte). Thread-safe. */
void dc__trace_add(dc__ev_kind kind, ErlDrvTermData to, ErlDrvTermData from,
                   const char *etf, size_t len);
/* Two-step append for writers that encode in place (one copy of the data):
 * reserve returns an unpublished event whose etf has room for len bytes
 * (owned by the trace; NULL when tracing is off or memory ran out); the
 * caller fills etf[0..len) and publishes it with dc__trace_commit (the event
 * gets its seq then). An event never committed is simply not in the trace.
 * Thread-safe. */
dc__event *dc__trace_reserve(dc__ev_kind kind, ErlDrvTermData to,
                             ErlDrvTermData from, size_t len);
void dc__trace_commit(dc__event *ev);
/* Records the message {Port,{data,Data}} that `to` receives, Data built
 * from header bytes and segments as dc__deliver_data (output.c) describes;
 * the bytes are read during the call only and copied once, into the
 * trace's own memory. Returns 0 (also when tracing is off), -1 when Data
 * cannot be encoded (over 2 GiB) or memory ran out. Thread-safe. */
int dc__trace_port_data(ErlDrvTermData to, ErlDrvTermData port, int binary,
                        const char *hbuf, size_t hlen, const SysIOVec *segs,
                        int nsegs);
/* First trace event (oldest), or NULL. Walking `next` is safe while
 * writers append (a walker sees complete events only). */
const dc__event *dc__trace_first(void);
/* Number of events recorded. */
size_t dc__trace_count(void);
/* Forgets all events and frees their memory. No writer may run meanwhile. */
void dc__trace_reset(void);

/* Checks that etf[0..len) starts with one complete, valid external-format
 * term (version byte 131 first), without reading outside the buffer; extra
 * bytes after it are allowed (as ERTS allows them). *used = bytes of the
 * version byte + term. Returns 0, -1 invalid, -2 valid but not supported by
 * the mock (compressed terms, funs). */
int dc__etf_check(const char *etf, size_t len, size_t *used);
/* Decodes the float at *i like ei_decode_double, but an old-style
 * FLOAT_EXT is read from exactly its 31 text bytes (ei's sscanf would run
 * on past them while digits follow). The caller has checked that the 31
 * bytes are in the buffer. Returns 0 (*i advanced, *d set if d) or -1. */
int dc__etf_decode_double(const char *b, int *i, double *d);
/* Prints a term in the style of io:format("~w") into buf (NUL-terminated,
 * truncated with "..." when it does not fit). Pids as <0.N.0>, ports as
 * #Port<0.N>. Returns 0, or -1 when etf is not valid external format. */
int dc__etf_print(const char *etf, size_t len, char *buf, size_t cap);
/* Output of the ~w printers; buf is the caller's, who NUL-ends it at len. */
typedef struct dc__wr {
  char *buf;
  size_t cap, len;
  int full; /* output was cut; "..." written */
} dc__wr;
/* Appends s[0..n) to w, or as much as fits and then "..."; copies s. */
void dc__put(dc__wr *w, const char *s, size_t n);
/* Appends the NUL-terminated s to w (as dc__put); copies s. */
void dc__puts(dc__wr *w, const char *s);
/* Appends printf output, cut to 63 bytes, to w (as dc__put). */
void dc__putf(dc__wr *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends a UTF-8 atom name as io_lib:write_atom does; reads utf8 only. */
void dc__put_atom(dc__wr *w, const char *utf8);
/* Appends the dc__etf_check'ed term at b[i] as ~w does; b is only read. */
int dc__etf_print_walk(dc__wr *w, const char *b, int i);
/* Prints one event as a trace line, e.g. "<0.80.0> <- {#Port<0.3>,...}". */
int dc__event_print(const dc__event *ev, char *buf, size_t cap);

/* ETF encoding helpers for the mock's own term words (atoms, pids, ports),
 * on top of ei_x_encode_*. Return 0 or -1. */
int dc__x_encode_term_word(ei_x_buff *x, ErlDrvTermData t);
int dc__x_encode_pid(ei_x_buff *x, ErlDrvTermData pid);
int dc__x_encode_port(ei_x_buff *x, ErlDrvTermData port);
/* Runs ei_init once (thread-safe); call before any ei_* function. */
void dc__ensure_ei(void);

#endif
