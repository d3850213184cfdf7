/* The Erlang side of the mock: processes, atoms, the ETF of the mock's own
 * term words, and trace events (trace.c) printed as trace lines (the terms
 * in them printed by etf.c).
 *
 * Pids print as <0.N.0> where N = DC__IDX(pid); like a fresh `erl` shell the
 * first spawned process is <0.80.0>. Atoms live forever (drivers cache the
 * values driver_mk_atom returns, even across an emulator reset). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PID_BASE 80
#define ATOM_LEN_MAX 255 /* MAX_ATOM_CHARACTERS; longer names are cut */
#define ATOM_HASH_SLOTS (2 * DC__MAX_ATOMS)

static pthread_once_t ei_once = PTHREAD_ONCE_INIT;
static void ei_init_once(void) { (void)ei_init(); }
void dc__ensure_ei(void) { pthread_once(&ei_once, ei_init_once); }

/* ------------------------------------------------------------------------ */
/* Processes                                                                 */

typedef struct proc {
  _Atomic int state; /* 0 never used, 1 alive, 2 dead */
  char name[32];
} proc;

static proc procs[DC__MAX_PROCS];
static _Atomic unsigned nprocs;

ErlDrvTermData dc__proc_spawn(const char *name) {
  unsigned i = atomic_fetch_add(&nprocs, 1);
  if (i >= DC__MAX_PROCS) {
    atomic_fetch_sub(&nprocs, 1);
    return DC__NIL;
  }
  /* A bounded copy without snprintf: the fuzz targets spawn processes in
   * every input. */
  size_t n = name ? strnlen(name, sizeof procs[i].name - 1) : 0;
  memcpy(procs[i].name, name ? name : "", n);
  procs[i].name[n] = '\0';
  atomic_store(&procs[i].state, 1); /* publishes the name */
  return DC__MK(DC__TAG_PID, PID_BASE + i);
}

/* Slot of a pid term, or NULL for non-pids and never-spawned numbers. */
static proc *proc_of(ErlDrvTermData pid) {
  if (!DC__IS(pid, DC__TAG_PID) || DC__IDX(pid) < PID_BASE)
    return NULL;
  ErlDrvTermData i = DC__IDX(pid) - PID_BASE;
  if (i >= DC__MAX_PROCS || atomic_load(&procs[i].state) == 0)
    return NULL;
  return &procs[i];
}

/* One load of the state (proc_of would load it twice): the sequencer's
 * state model asks this for several processes before every operation. */
int dc__proc_alive(ErlDrvTermData pid) {
  /* Below PID_BASE the unsigned difference wraps past DC__MAX_PROCS. */
  ErlDrvTermData i = DC__IDX(pid) - PID_BASE;
  return DC__IS(pid, DC__TAG_PID) && i < DC__MAX_PROCS &&
         atomic_load_explicit(&procs[i].state, memory_order_acquire) == 1;
}

/* Bumped after every death and reset (release, after the state store): a
 * reader that reads the count, then asks dc__proc_alive, may trust those
 * answers for as long as the count still reads the same. */
static _Atomic unsigned long deaths;

unsigned long dc__proc_deaths(void) {
  return atomic_load_explicit(&deaths, memory_order_acquire);
}

int dc__proc_known(ErlDrvTermData pid) { return proc_of(pid) != NULL; }

void dc__proc_mark_dead(ErlDrvTermData pid) {
  proc *p = proc_of(pid);
  if (p) {
    atomic_store(&p->state, 2);
    atomic_fetch_add_explicit(&deaths, 1, memory_order_release);
  }
}

void dc__proc_reset(void) {
  /* Only slots below nprocs were ever spawned into. */
  unsigned n = atomic_load(&nprocs);
  for (unsigned i = 0; i < n && i < DC__MAX_PROCS; i++)
    atomic_store(&procs[i].state, 0);
  atomic_store(&nprocs, 0);
  atomic_fetch_add_explicit(&deaths, 1, memory_order_release);
}

/* ------------------------------------------------------------------------ */
/* Atoms: open-addressing hash of slot numbers. Lookups are lock-free (a    */
/* slot, once published, never changes); inserts take a mutex.              */

static char *atom_names[DC__MAX_ATOMS];
static unsigned char atom_lens[DC__MAX_ATOMS];
static _Atomic int atom_hash[ATOM_HASH_SLOTS]; /* atom index + 1, 0 = empty */
static _Atomic unsigned natoms;
static pthread_mutex_t atom_mu = PTHREAD_MUTEX_INITIALIZER;

static uint32_t name_hash(const char *s, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

/* Probes for name; returns the atom index, or -1 with *slot = the empty
 * slot where it would go (or -1 when the table is full). */
static int atom_find(const char *s, size_t n, uint32_t h, int *slot) {
  for (unsigned k = 0; k < ATOM_HASH_SLOTS; k++) {
    unsigned at = (h + k) % ATOM_HASH_SLOTS;
    int v = atomic_load_explicit(&atom_hash[at], memory_order_acquire);
    if (v == 0) {
      *slot = (int)at;
      return -1;
    }
    if (atom_lens[v - 1] == n && memcmp(atom_names[v - 1], s, n) == 0)
      return v - 1;
  }
  *slot = -1;
  return -1;
}

ErlDrvTermData dc__atom(const char *name) {
  size_t n = strlen(name);
  if (n > ATOM_LEN_MAX)
    n = ATOM_LEN_MAX; /* erts_atom_put truncates driver atoms */
  uint32_t h = name_hash(name, n);
  int slot, idx = atom_find(name, n, h, &slot);
  if (idx >= 0)
    return DC__MK(DC__TAG_ATOM, idx);
  pthread_mutex_lock(&atom_mu);
  idx = atom_find(name, n, h, &slot); /* another thread may have won */
  if (idx < 0 && slot >= 0 && atomic_load(&natoms) < DC__MAX_ATOMS) {
    idx = (int)atomic_load(&natoms);
    atom_names[idx] = malloc(n + 1);
    if (atom_names[idx]) {
      memcpy(atom_names[idx], name, n);
      atom_names[idx][n] = '\0';
      atom_lens[idx] = (unsigned char)n;
      atomic_store(&natoms, (unsigned)idx + 1);
      atomic_store_explicit(&atom_hash[slot], idx + 1, memory_order_release);
    } else {
      idx = -1;
    }
  }
  pthread_mutex_unlock(&atom_mu);
  return idx < 0 ? (ErlDrvTermData)-1 : DC__MK(DC__TAG_ATOM, idx);
}

const char *dc__atom_text(ErlDrvTermData t) {
  if (!DC__IS(t, DC__TAG_ATOM) || DC__IDX(t) >= atomic_load(&natoms))
    return NULL;
  return atom_names[DC__IDX(t)];
}

/* ------------------------------------------------------------------------ */
/* Encoding the mock's term words                                            */

int dc__x_encode_pid(ei_x_buff *x, ErlDrvTermData pid) {
  if (!DC__IS(pid, DC__TAG_PID))
    return -1;
  dc__ensure_ei();
  erlang_pid p;
  memset(&p, 0, sizeof p);
  strcpy(p.node, "nonode@nohost");
  p.num = (unsigned)DC__IDX(pid);
  return ei_x_encode_pid(x, &p);
}

int dc__x_encode_port(ei_x_buff *x, ErlDrvTermData port) {
  if (!DC__IS(port, DC__TAG_PORT))
    return -1;
  dc__ensure_ei();
  erlang_port p;
  memset(&p, 0, sizeof p);
  strcpy(p.node, "nonode@nohost");
  p.id = DC__IDX(port);
  return ei_x_encode_port(x, &p);
}

int dc__x_encode_term_word(ei_x_buff *x, ErlDrvTermData t) {
  if (t == DC__NIL)
    return ei_x_encode_empty_list(x);
  if (DC__IS(t, DC__TAG_PID))
    return dc__x_encode_pid(x, t);
  if (DC__IS(t, DC__TAG_PORT))
    return dc__x_encode_port(x, t);
  const char *a = dc__atom_text(t);
  if (!a)
    return -1;
  dc__ensure_ei();
  /* Driver atoms are Latin-1 (driver_mk_atom); OTP 25 sends them as UTF-8. */
  return ei_x_encode_atom_len_as(x, a, (int)strlen(a), ERLANG_LATIN1,
                                 ERLANG_UTF8);
}

/* ------------------------------------------------------------------------ */
/* Trace lines                                                              */

/* A term word as ~w prints it (pids, ports, atoms, []). */
static void put_word(dc__wr *w, ErlDrvTermData t) {
  if (t == DC__NIL)
    dc__put(w, "[]", 2);
  else if (DC__IS(t, DC__TAG_PID))
    dc__putf(w, "<0.%lu.0>", (unsigned long)DC__IDX(t));
  else if (DC__IS(t, DC__TAG_PORT))
    dc__putf(w, "#Port<0.%lu>", (unsigned long)DC__IDX(t));
  else if (dc__atom_text(t)) {
    char u[2 * ATOM_LEN_MAX + 1], *o = u; /* Latin-1 name as UTF-8 */
    for (const unsigned char *c = (const void *)dc__atom_text(t); *c; c++)
      if (*c < 0x80)
        *o++ = (char)*c;
      else
        *o++ = (char)(0xC0 | (*c >> 6)), *o++ = (char)(0x80 | (*c & 0x3F));
    *o = '\0';
    dc__put_atom(w, u);
  } else
    dc__putf(w, "?%#lx", (unsigned long)t);
}

/* Trace line layout (fixed; tests compare against it):
 *   DC__EV_MSG            "<to> <- <term>"        e.g. <0.80.0> <-
 * {#Port<0.3>,{data,[104,105]}} DC__EV_OPEN           "open <term>" e.g. open
 * #Port<0.3>, open {error,einval} DC__EV_CONTROL_REPLY  "control <from> ->
 * <term>" DC__EV_CALL_REPLY     "call <from> -> <term>" DC__EV_COMMAND "command
 * <from> -> <term>" DC__EV_PORT_EXIT      "exit <from> -> <term>" where <from>
 * is the port the event concerns. */
int dc__event_print(const dc__event *ev, char *buf, size_t cap) {
  static const char *const verbs[] = {"",     "<-",      "open", "control",
                                      "call", "command", "exit"};
  if (!ev || !buf || cap == 0 || ev->kind < DC__EV_MSG ||
      ev->kind > DC__EV_PORT_EXIT)
    return -1;
  dc__wr w = {buf, cap, 0, 0};
  if (ev->kind == DC__EV_MSG) {
    put_word(&w, ev->to);
    dc__put(&w, " <- ", 4);
  } else {
    dc__puts(&w, verbs[ev->kind]);
    dc__put(&w, " ", 1);
    if (ev->kind != DC__EV_OPEN) {
      put_word(&w, ev->from);
      dc__put(&w, " -> ", 4);
    }
  }
  int rc = 0;
  if (dc__etf_check(ev->etf, ev->len, NULL) == 0)
    dc__etf_print_walk(&w, ev->etf, 1);
  else
    dc__puts(&w, "<bad etf>"), rc = -1;
  buf[w.len] = '\0';
  return rc;
}
