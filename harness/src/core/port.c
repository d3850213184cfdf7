/* Port lifecycle: the port table and the Erlang-side
 * operations on a port (open_port, port_command, port_control, port_call,
 * exit/flush/terminate), following protocol.md §3.2–3.8.
 *
 * Memory: the port table is part of dc__g; slots are never reused, so a stale
 * ErlDrvPort keeps pointing at a DEAD slot and is recognised as invalid. All
 * buffers handed to callbacks here are owned by this file and released after
 * the callback returns, exactly where ERTS releases its own. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CONTROL_RLEN 64 /* ERL_ONHEAP_BINARY_LIMIT: port_control's rlen */
#define CALL_RLEN 255   /* port_call's rlen when executed immediately */
/* The default reply buffers are this much larger than the rlen the driver is
 * told, so that an overrun is reported as rbuf.overflow instead of smashing
 * the emulator's stack. */
#define RBUF_SLACK 4096

/* ------------------------------------------------------------------------ */
/* The table                                                                 */

dc__port *dc__port_lookup(ErlDrvPort h) {
  uintptr_t a = (uintptr_t)h, base = (uintptr_t)dc__g.ports;
  if (a < base)
    return NULL;
  uintptr_t off = a - base;
  if (off % sizeof(dc__port) != 0)
    return NULL;
  uintptr_t i = off / sizeof(dc__port);
  if (i >= atomic_load_explicit(&dc__g.nports, memory_order_acquire))
    return NULL;
  return &dc__g.ports[i];
}

static int state_live(int st) {
  return st >= DC__PORT_STARTING && st <= DC__PORT_EXITING;
}

dc__port *dc__port_live(ErlDrvPort h) {
  dc__port *p = dc__port_lookup(h);
  return p && state_live(p->state) ? p : NULL;
}

dc__port *dc__port_by_term(ErlDrvTermData t) {
  if (!DC__IS(t, DC__TAG_PORT))
    return NULL;
  ErlDrvTermData i = DC__IDX(t);
  if (i >= atomic_load_explicit(&dc__g.nports, memory_order_acquire))
    return NULL;
  dc__port *p = &dc__g.ports[i];
  return state_live(p->state) ? p : NULL;
}

dc__port *dc__port_next_live(unsigned from) {
  unsigned n = atomic_load_explicit(&dc__g.nports, memory_order_acquire);
  for (unsigned i = from; i < n; i++)
    if (state_live(dc__g.ports[i].state))
      return &dc__g.ports[i];
  return NULL;
}

dc__port *dc__port_api(ErlDrvPort h, const char *api, const void *site) {
  dc__port *p = dc__port_lookup(h);
  if (p) {
    int st = p->state;
    if (state_live(st))
      return p;
    if (st != DC__PORT_DEAD)
      return NULL; /* FREE: a slot being set up right now; not a misuse */
    /* Off the emulator threads a port may terminate at any moment (an async
     * job or a thread holding the PDL: driver_SUITE peek_non_existing_queue)
     * and stop_select may run after its port is gone by design; ERTS gives
     * the invalid-port value there, so a stale handle is no certain misuse. */
    if (dc__tls.kind != DC__THR_EMU || dc__tls.cb == DC__CB_STOP_SELECT)
      return NULL;
    dc__flag_at(DC_RULE_CTX_DEAD_PORT, api, site,
                "port #Port<0.%u> was used after it terminated", p->idx);
    return NULL;
  }
  dc__flag_at(DC_RULE_CTX_DEAD_PORT, api, site,
              "%p is not a port handle the emulator gave out", (void *)h);
  return NULL;
}

static void set_reason(dc__port *p, const char *atom, long num) {
  if (atom) {
    strncpy(p->exit_atom, atom, sizeof p->exit_atom - 1);
    p->exit_atom[sizeof p->exit_atom - 1] = '\0';
  } else {
    p->exit_atom[0] = '\0';
    p->exit_int = num;
  }
}

dc__port *dc__port_alloc(const char *name, ErlDrvTermData owner, int opts) {
  unsigned n = atomic_load(&dc__g.nports);
  do {
    if (n >= DC__MAX_PORTS)
      return NULL;
  } while (!atomic_compare_exchange_weak(&dc__g.nports, &n, n + 1));
  dc__port *p = &dc__g.ports[n];
  int no_msgq =
      dc__g.entry && (dc__g.entry->driver_flags & ERL_DRV_FLAG_NO_BUSY_MSGQ);
  memset(p, 0, sizeof *p);
  p->idx = n;
  p->id = DC__MK(DC__TAG_PORT, n);
  p->owner = owner;
  p->caller = DC__NIL;
  p->owner_linked = 1;
  strncpy(p->name, name ? name : "", sizeof p->name - 1);
  p->opts = opts;
  /* Defaults from erl_port_task.h; NO_BUSY_MSGQ drivers have no limits. */
  p->msgq_low = no_msgq ? ERL_DRV_BUSY_MSGQ_DISABLED : 4096;
  p->msgq_high = no_msgq ? ERL_DRV_BUSY_MSGQ_DISABLED : 8192;
  p->os_pid = -1; /* ERTS default until erl_drv_set_os_pid */
  set_reason(p, "normal", 0);
  pthread_mutex_init(&p->lock, NULL);
  atomic_store(&p->state, DC__PORT_STARTING);
  return p;
}

/* ------------------------------------------------------------------------ */
/* Trace helpers                                                             */

static void emit(dc__ev_kind k, ErlDrvTermData to, ErlDrvTermData from,
                 ei_x_buff *x) {
  dc__trace_add(k, to, from, x->buff, (size_t)x->index);
  ei_x_free(x);
}

/* The atom replies (badarg, notsup...) are short: a stack buffer, no ei_x. */
static void emit_atom(dc__ev_kind k, ErlDrvTermData to, dc__port *p,
                      const char *atom) {
  if (!dc__g.trace_enabled) /* the trace is its only consumer */
    return;
  char buf[16 + MAXATOMLEN_UTF8];
  int i = 0;
  ei_encode_version(buf, &i);
  ei_encode_atom(buf, &i, atom);
  dc__trace_add(k, to, p ? p->id : DC__NIL, buf, (size_t)i);
}

static void encode_reason(ei_x_buff *x, const dc__port *p) {
  if (p->exit_atom[0])
    ei_x_encode_atom(x, p->exit_atom);
  else
    ei_x_encode_long(x, p->exit_int);
}

/* The messages below only go into the Erlang-visible trace: with the trace
 * off (random sequences, the fuzz target) nothing is encoded. */
void dc__port_send_tag(dc__port *p, const char *tag) {
  if (!dc__g.trace_enabled || !dc__proc_alive(p->owner))
    return;
  ei_x_buff x;
  ei_x_new_with_version(&x);
  ei_x_encode_tuple_header(&x, 2);
  dc__x_encode_port(&x, p->id);
  ei_x_encode_atom(&x, tag);
  emit(DC__EV_MSG, p->owner, p->id, &x);
}

void dc__port_open_reply(dc__port *p, const char *error) {
  if (!dc__g.trace_enabled)
    return;
  ei_x_buff x;
  ei_x_new_with_version(&x);
  if (error) {
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "error");
    ei_x_encode_atom(&x, error);
  } else {
    dc__x_encode_port(&x, p->id);
  }
  emit(DC__EV_OPEN, p->owner, p->id, &x);
}

/* ------------------------------------------------------------------------ */
/* open_port                                                                 */

/* start()'s error returns (io.c erts_open_driver); NULL when it succeeded. */
static const char *start_error(ErlDrvData d, int err) {
  if (d == ERL_DRV_ERROR_GENERAL)
    return "einval";
  if (d == ERL_DRV_ERROR_ERRNO)
    return erl_errno_id(err);
  if (d == ERL_DRV_ERROR_BADARG)
    return "badarg";
  return NULL;
}

/* A failed start kills the port without calling stop; selected fds stay. */
static void open_failed(dc__port *p) {
  dc__timer_cancel_port(p);
  dc__queue_clear(p);
  dc__monitor_port_gone(p);
  dc__pdl_port_gone(p);
  p->owner_linked = 0;
  p->state = DC__PORT_DEAD;
}

dc__open_result dc__port_open(const char *cmd, int opts, ErlDrvTermData owner) {
  dc__open_result r = {NULL, NULL};
  ErlDrvEntry *e = dc__g.entry;
  if (!dc__g.loaded || !e || !cmd) {
    r.error = "badarg";
    return r;
  }
  dc__port *p = dc__port_alloc(cmd, owner, opts);
  if (!p) {
    r.error = "system_limit";
    return r;
  }
  /* start gets a private writable copy, freed when open_port returns (ERTS
   * passes a temporary buffer), so a driver keeping the pointer is caught. */
  size_t n = strlen(cmd);
  char *arg = malloc(n + 1);
  if (!arg) {
    open_failed(p);
    r.error = "enomem";
    return r;
  }
  memcpy(arg, cmd, n + 1);
  ErlDrvData d = NULL;
  int err = 0;
  if (e->start) {
    dc__cbframe f;
    dc__cb_enter(p, DC__CB_START, owner, &f);
    errno = 0;
    d = e->start(dc__port_handle(p), arg);
    err = errno;
    dc__cb_leave(p, &f);
  }
  free(arg);
  r.error = start_error(d, err);
  if (r.error) {
    open_failed(p);
    dc__port_open_reply(p, r.error);
    return r;
  }
  p->drv_data = d;
  r.port = p;
  if (p->state != DC__PORT_STARTING) { /* driver_failure inside start */
    dc__port_open_reply(p, NULL);
    return r;
  }
  /* open_port applies its options only after start returned (§3.2). */
  p->flags = (opts & DC__OPT_BINARY) ? PORT_FLAG_BINARY : 0;
  p->state = DC__PORT_OPEN;
  if (e->driver_flags & ERL_DRV_FLAG_USE_INIT_ACK)
    p->init_ack_pending = 1; /* the reply waits for erl_drv_init_ack */
  else
    dc__port_open_reply(p, NULL);
  return r;
}

/* ------------------------------------------------------------------------ */
/* Input buffers                                                             */

/* The private copy output, control and call get of the sender's data. Plain
 * builds reuse one buffer per thread instead of a malloc and free per
 * operation. Sanitizer builds take a fresh exact-size malloc each time, so
 * ASan still catches a driver reading the buffer after its callback
 * returned (use after free) or beyond its length. A nested operation on the
 * same thread (while the buffer is taken) falls back to malloc too. */
#if DC__SAN_SLOWDOWN == 1
#define REUSE_INPUT 1
#else
#define REUSE_INPUT 0
#endif
#define REUSE_MAX (256u << 10) /* larger inputs are not worth keeping */

#if REUSE_INPUT
static _Thread_local struct {
  char *mem;
  size_t cap;
  int busy;
} tl_in;
static pthread_key_t in_key; /* frees a thread's buffer when it exits */
static pthread_once_t in_once = PTHREAD_ONCE_INIT;

static void in_key_init(void) { pthread_key_create(&in_key, free); }

/* Grows the thread's buffer to hold len bytes; 0, or -1 on failure. */
static int in_grow(size_t len) {
  size_t cap = tl_in.cap ? tl_in.cap : 256;
  while (cap < len)
    cap *= 2;
  char *m = realloc(tl_in.mem, cap);
  if (!m)
    return -1;
  pthread_once(&in_once, in_key_init);
  pthread_setspecific(in_key, m);
  tl_in.mem = m;
  tl_in.cap = cap;
  return 0;
}
#endif

/* A buffer for len bytes, released with in_give; NULL when out of memory.
 * Owned by this file; the driver may write it during its callback. */
static char *in_take(size_t len) {
#if REUSE_INPUT
  if (!tl_in.busy && len <= REUSE_MAX &&
      ((tl_in.mem && len <= tl_in.cap) || in_grow(len) == 0)) {
    tl_in.busy = 1;
    return tl_in.mem;
  }
#endif
  return malloc(len ? len : 1);
}

static void in_give(char *buf) {
#if REUSE_INPUT
  if (tl_in.busy && buf == tl_in.mem) {
    tl_in.busy = 0;
    return;
  }
#endif
  free(buf);
}

static char *copy_in(const char *buf, size_t len) {
  char *in = in_take(len);
  if (in && len)
    memcpy(in, buf, len);
  return in;
}

/* ------------------------------------------------------------------------ */
/* port_command                                                              */

/* outputv: iov[0] is the empty placeholder ERTS always puts first; every
 * segment is backed by a fresh binary that is released after the callback.
 * Short vectors live on the stack, as in ERTS (io.c, SMALL_WRITE_VEC). */
#define SMALL_VEC 16

static int command_v(dc__port *p, ErlDrvTermData sender, const SysIOVec *segs,
                     int n) {
  static char empty[1];
  int vsize = n + 1 + (n == 0);
  SysIOVec iov_st[SMALL_VEC];
  ErlDrvBinary *binv_st[SMALL_VEC], *own_st[SMALL_VEC];
  SysIOVec *iov = iov_st;
  ErlDrvBinary **binv = binv_st, **own = own_st; /* own: survives a driver
                                                     editing binv */
  char *mem = NULL;
  if (vsize > SMALL_VEC) {
    mem = malloc((size_t)vsize * (sizeof *iov + 2 * sizeof *binv));
    if (!mem)
      return DC_ENOMEM;
    iov = (SysIOVec *)mem;
    binv = (ErlDrvBinary **)(iov + vsize);
    own = binv + vsize;
  }
  ErlDrvSizeT size = 0;
  iov[0].iov_base = NULL;
  iov[0].iov_len = 0;
  binv[0] = own[0] = NULL;
  if (n == 0) { /* an empty command still has one (empty) segment */
    iov[1].iov_base = empty;
    iov[1].iov_len = 0;
    binv[1] = own[1] = NULL;
  }
  for (int i = 0; i < n; i++) {
    ErlDrvBinary *b = driver_alloc_binary(segs[i].iov_len);
    if (!b) {
      while (i-- > 0)
        driver_free_binary(own[i + 1]);
      free(mem);
      return DC_ENOMEM;
    }
    if (segs[i].iov_len)
      memcpy(b->orig_bytes, segs[i].iov_base, segs[i].iov_len);
    iov[i + 1].iov_base = b->orig_bytes;
    iov[i + 1].iov_len = segs[i].iov_len;
    binv[i + 1] = own[i + 1] = b;
    size += segs[i].iov_len;
  }
  ErlIOVec ev = {vsize, size, iov, binv};
  dc__cbframe f;
  dc__cb_enter(p, DC__CB_OUTPUTV, sender, &f);
  dc__g.entry->outputv(p->drv_data, &ev);
  /* bin.write_after_delivery for segments the driver kept: the sender's
   * bytes in segs are the reference, no checksum is needed beforehand. */
  if (n > 0)
    dc__dlv_outputv_retained(own + 1, segs, n,
                             (const void *)dc__g.entry->outputv);
  dc__cb_leave(p, &f);
  for (int i = 1; i < vsize; i++)
    if (own[i])
      driver_free_binary(own[i]);
  free(mem);
  return 0;
}

/* output: one flattened private copy, released after the callback. */
static int command_flat(dc__port *p, ErlDrvTermData sender,
                        const SysIOVec *segs, int n) {
  size_t total = 0;
  for (int i = 0; i < n; i++)
    total += segs[i].iov_len;
  char *buf = in_take(total);
  if (!buf)
    return DC_ENOMEM;
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    if (segs[i].iov_len)
      memcpy(buf + at, segs[i].iov_base, segs[i].iov_len);
    at += segs[i].iov_len;
  }
  dc__cbframe f;
  dc__cb_enter(p, DC__CB_OUTPUT, sender, &f);
  dc__g.entry->output(p->drv_data, buf, total);
  dc__cb_leave(p, &f);
  in_give(buf);
  return 0;
}

int dc__port_command(dc__port *p, ErlDrvTermData sender, const SysIOVec *segs,
                     int n, int force) {
  ErlDrvEntry *e = dc__g.entry;
  if (!p || !e || p->state != DC__PORT_OPEN || n < 0 || (n > 0 && !segs)) {
    emit_atom(DC__EV_COMMAND, sender, p, "badarg");
    return DC_EINVAL;
  }
  /* [force] needs SOFT_BUSY whether or not the port is busy (§3.8). */
  if (force && !(e->driver_flags & ERL_DRV_FLAG_SOFT_BUSY)) {
    emit_atom(DC__EV_COMMAND, sender, p, "notsup");
    return DC_EINVAL;
  }
  if (p->busy && !force)
    return DC_ESTATE; /* the sender would be suspended */
  if (e->outputv)
    return command_v(p, sender, segs, n);
  if (e->output)
    return command_flat(p, sender, segs, n);
  return 0; /* ERTS substitutes a no-op output */
}

/* ------------------------------------------------------------------------ */
/* port_control                                                              */

/* Encodes the control reply term into buf, or only measures it when buf is
 * NULL; returns its size. data NULL gives [], else a binary (binary mode)
 * or a string/list. */
static size_t encode_reply(char *buf, int bin, const char *data, size_t m) {
  int i = 0;
  ei_encode_version(buf, &i);
  if (!data)
    ei_encode_empty_list(buf, &i);
  else if (bin)
    ei_encode_binary(buf, &i, data, (long)m);
  else
    ei_encode_string_len(buf, &i, data, (int)m);
  return (size_t)i;
}

/* The reply event, encoded in place in the trace's memory (one copy, no
 * ei_x buffer) and published later by dc__trace_commit; NULL when tracing
 * is off. */
static dc__event *reply_event(ErlDrvTermData to, const dc__port *p, int bin,
                              const char *data, size_t m) {
  if (!dc__g.trace_enabled)
    return NULL;
  size_t len = encode_reply(NULL, bin, data, m);
  dc__event *ev = dc__trace_reserve(DC__EV_CONTROL_REPLY, to, p->id, len);
  if (ev)
    encode_reply(ev->etf, bin, data, m);
  return ev;
}

/* A reply in a buffer the driver allocated (§3.4): binary mode wants an
 * ErlDrvBinary (n ignored), list mode driver_alloc memory. Consumes it. */
static int replaced_reply(dc__port *p, ErlDrvTermData to, ErlDrvSSizeT n,
                          char *rbuf, dc__event **ev) {
  const void *site = (const void *)dc__g.entry->control;
  if (p->control_flags & PORT_CONTROL_FLAG_BINARY) {
    ErlDrvBinary *b = (ErlDrvBinary *)rbuf;
    if (!dc__bin_valid(b)) {
      dc__flag_at(DC_RULE_RBUF_FOREIGN, "control", site,
                  "binary-mode *rbuf %p is not from driver_alloc_binary",
                  (void *)rbuf);
      return -1; /* cannot be interpreted; ERTS would corrupt memory */
    }
    *ev = reply_event(to, p, 1, b->orig_bytes, (size_t)b->orig_size);
    /* A driver keeping a reference must not write it any more. */
    dc__dlv_record(b, b->orig_bytes, (size_t)b->orig_size, DC__DLV_SENT,
                   "control", site);
    driver_free_binary(b); /* consumes the one reference handed over */
    return 0;
  }
  *ev = reply_event(to, p, 0, rbuf, (size_t)n);
  if (dc__mem_valid(rbuf))
    driver_free(rbuf);
  else
    dc__flag_at(DC_RULE_RBUF_FOREIGN, "control", site,
                "list-mode *rbuf %p is not from driver_alloc", (void *)rbuf);
  return 0;
}

/* Checks the control reply and encodes it into *ev (§3.4). Returns 0, or
 * -1 for badarg (*ev stays NULL). */
static int control_reply(dc__port *p, ErlDrvTermData to, ErlDrvSSizeT n,
                         char *rbuf, const char *def, size_t rlen,
                         dc__event **ev) {
  const void *site = (const void *)dc__g.entry->control;
  int bin = p->control_flags & PORT_CONTROL_FLAG_BINARY;
  if (n < 0)
    return -1;
  if (!rbuf) {
    *ev = reply_event(to, p, bin, NULL, 0);
    return 0;
  }
  size_t m = (size_t)n;
  if (rbuf == def) {
    /* Only an overrun of the buffer ERTS really offers (64 bytes) is a
     * finding: a driver that ignores a smaller rlen (the small_rlen
     * stimulus) works in the real emulator, which always passes 64. */
    if (m > rlen && m > CONTROL_RLEN) {
      dc__flag_at(DC_RULE_RBUF_OVERFLOW, "control", site,
                  "control returned %zu bytes in the %d-byte default buffer", m,
                  CONTROL_RLEN);
    }
    if (m > CONTROL_RLEN + RBUF_SLACK)
      m = CONTROL_RLEN + RBUF_SLACK;
    *ev = reply_event(to, p, bin, def, m);
    return 0;
  }
  /* Registry lookups and a checksum: not the driver's time (cb.lengthy);
   * the default-buffer path above is too cheap to be worth the clock. */
  long ovh = dc__overhead_begin();
  int rc = replaced_reply(p, to, n, rbuf, ev);
  dc__overhead_end(&ovh);
  return rc;
}

int dc__port_control(dc__port *p, ErlDrvTermData caller, unsigned cmd,
                     const char *buf, size_t len) {
  return dc__port_control_rlen(p, caller, cmd, buf, len, CONTROL_RLEN);
}

int dc__port_control_rlen(dc__port *p, ErlDrvTermData caller, unsigned cmd,
                          const char *buf, size_t len, size_t rlen) {
  ErlDrvEntry *e = dc__g.entry;
  if (!p || !e || p->state != DC__PORT_OPEN || !e->control) {
    emit_atom(DC__EV_CONTROL_REPLY, caller, p, "badarg");
    return DC_EINVAL;
  }
  char *in = copy_in(buf, len);
  if (!in)
    return DC_ENOMEM;
  char def[CONTROL_RLEN + RBUF_SLACK];
  char *rbuf = def;
  if (rlen > CONTROL_RLEN) /* the sequencer only ever shrinks it */
    rlen = CONTROL_RLEN;
  dc__event *ev = NULL;
  dc__cbframe f;
  dc__cb_enter(p, DC__CB_CONTROL, caller, &f);
  ErlDrvSSizeT n = e->control(p->drv_data, cmd, in, len, &rbuf, rlen);
  /* The reply is built under the port lock, flags read now; it is delivered
   * even if the driver failed the port inside control (§3.4), after what
   * the callback's epilogue sent (the event's place is its commit). */
  int rc = control_reply(p, caller, n, rbuf, def, rlen, &ev);
  dc__cb_leave(p, &f);
  in_give(in);
  if (rc != 0) {
    emit_atom(DC__EV_CONTROL_REPLY, caller, p, "badarg");
    return DC_EINVAL;
  }
  dc__trace_commit(ev);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* port_call                                                                 */

/* Length of the one term in rbuf[0..n) including the version byte, or -1.
 * dc__etf_check never trusts the length fields of a broken reply. */
static ErlDrvSSizeT reply_term_len(const char *rbuf, ErlDrvSSizeT n) {
  size_t used = 0;
  if (n <= 0 || !rbuf)
    return -1;
  int rc = dc__etf_check(rbuf, (size_t)n, &used);
  if (rc == -2)
    return n; /* valid for ERTS (fun, export...), just not measured here */
  return rc < 0 ? -1 : (ErlDrvSSizeT)used;
}

static void call_reply(dc__port *p, ErlDrvTermData caller, ErlDrvSSizeT n,
                       const char *rbuf, const char *def) {
  const void *site = (const void *)dc__g.entry->call;
  if (rbuf == def && n > CALL_RLEN) {
    dc__flag_at(DC_RULE_RBUF_OVERFLOW, "call", site,
                "call returned %zd bytes in the %d-byte default buffer",
                (ssize_t)n, CALL_RLEN);
    if (n > CALL_RLEN + RBUF_SLACK)
      n = CALL_RLEN + RBUF_SLACK;
  }
  ErlDrvSSizeT tl = reply_term_len(rbuf, n);
  if (tl < 0) {
    if (n > 0) /* a negative/zero return is the driver's own badarg */
      dc__flag_at(DC_RULE_CALL_BAD_ETF, "call", site,
                  "call reply of %zd bytes is not an external-format term",
                  (ssize_t)n);
    emit_atom(DC__EV_CALL_REPLY, caller, p, "badarg");
    return;
  }
  if (tl != n) /* ERTS decodes the first term and ignores the rest */
    dc__flag_at(DC_RULE_CALL_BAD_ETF, "call", site,
                "call reply has %zd bytes after its term", (ssize_t)n - tl);
  dc__trace_add(DC__EV_CALL_REPLY, caller, p->id, rbuf, (size_t)tl);
}

int dc__port_call(dc__port *p, ErlDrvTermData caller, unsigned cmd,
                  const char *etf, size_t len) {
  ErlDrvEntry *e = dc__g.entry;
  if (!p || !e || p->state != DC__PORT_OPEN || !e->call) {
    emit_atom(DC__EV_CALL_REPLY, caller, p, "badarg");
    return DC_EINVAL;
  }
  char *in = copy_in(etf, len);
  if (!in)
    return DC_ENOMEM;
  char def[CALL_RLEN + RBUF_SLACK];
  char *rbuf = def;
  unsigned flags = 0;
  dc__cbframe f;
  dc__cb_enter(p, DC__CB_CALL, caller, &f);
  ErlDrvSSizeT n = e->call(p->drv_data, cmd, in, len, &rbuf, CALL_RLEN, &flags);
  long ovh = dc__overhead_begin(); /* reply checks: not the driver's time */
  call_reply(p, caller, n, rbuf, def);
  dc__overhead_end(&ovh);
  /* ERTS frees a replaced buffer on every path unless KEEP_BUFFER. */
  if (rbuf && rbuf != def && !(flags & DRIVER_CALL_KEEP_BUFFER)) {
    if (dc__mem_valid(rbuf))
      driver_free(rbuf);
    else
      dc__flag_at(DC_RULE_RBUF_FOREIGN, "call", (const void *)e->call,
                  "*rbuf %p is not from driver_alloc and "
                  "DRIVER_CALL_KEEP_BUFFER is not set",
                  (void *)rbuf);
  }
  dc__cb_leave(p, &f);
  in_give(in);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Exit, flush, terminate (§3.6)                                             */

/* The link to the owner breaks: a trapping owner gets {'EXIT',Port,Reason}
 * (kill arrives as killed, as for any exit signal), unless driver_exit or a
 * failed init_ack unlinked it first. */
static void send_exit_signal(dc__port *p) {
  if (!p->owner_linked)
    return;
  p->owner_linked = 0;
  if (!dc__g.trace_enabled || !dc__proc_alive(p->owner))
    return;
  ei_x_buff x;
  ei_x_new_with_version(&x);
  ei_x_encode_tuple_header(&x, 3);
  ei_x_encode_atom(&x, "EXIT");
  dc__x_encode_port(&x, p->id);
  if (strcmp(p->exit_atom, "kill") == 0)
    ei_x_encode_atom(&x, "killed");
  else
    encode_reason(&x, p);
  emit(DC__EV_MSG, p->owner, p->id, &x);
}

static void terminate_now(dc__port *p) {
  ErlDrvEntry *e = dc__g.entry;
  p->busy = 0;
  dc__monitor_port_gone(p);
  dc__timer_cancel_port(p); /* before stop, as terminate_port does */
  p->state = DC__PORT_EXITING;
  if (e && e->stop) {
    dc__cbframe f;
    dc__cb_enter(p, DC__CB_STOP, DC__NIL, &f);
    e->stop(p->drv_data);
    dc__cb_leave(p, &f);
  }
  dc__lifecycle_port_stopped(p); /* select.leak_at_stop, mem.leak suspects */
  dc__timer_cancel_port(p);      /* a timer armed inside stop never fires */
  dc__queue_clear(p);
  dc__pdl_port_gone(p);
  p->state = DC__PORT_DEAD;
  if (p->exit_bang)
    dc__port_send_tag(p, "closed");
  if (!dc__g.trace_enabled)
    return;
  ei_x_buff x;
  ei_x_new_with_version(&x);
  encode_reason(&x, p);
  emit(DC__EV_PORT_EXIT, p->owner, p->id, &x);
}

int dc__port_exit_ex(dc__port *p, const char *reason_atom, long reason_int,
                     int bang_close) {
  if (!p)
    return DC_EINVAL;
  int st = p->state;
  if (st != DC__PORT_OPEN && st != DC__PORT_STARTING)
    return DC_ESTATE; /* already closing, exiting or dead: ignored */
  set_reason(p, reason_atom, reason_int);
  p->exit_bang = bang_close;
  p->state = DC__PORT_EXITING;
  p->busy = 0;
  /* Links first, before flush/stop; the owner is modelled as trapping. */
  send_exit_signal(p);
  dc__monitor_port_gone(p); /* silently: no process_exit */
  int kill = reason_atom && strcmp(reason_atom, "kill") == 0;
  if (!kill && dc__queue_size(p) > 0) {
    p->state = DC__PORT_CLOSING;
    ErlDrvEntry *e = dc__g.entry;
    if (e && e->flush) {
      dc__cbframe f;
      dc__cb_enter(p, DC__CB_FLUSH, DC__NIL, &f);
      e->flush(p->drv_data);
      dc__cb_leave(p, &f); /* its epilogue terminates a drained port */
    }
    return 0;
  }
  terminate_now(p);
  return 0;
}

int dc__port_exit(dc__port *p, const char *reason_atom, int bang_close) {
  return dc__port_exit_ex(p, reason_atom ? reason_atom : "normal", 0,
                          bang_close);
}

void dc__port_terminate(dc__port *p, const char *reason_atom) {
  if (!p)
    return;
  int st = p->state;
  if (st == DC__PORT_FREE || st == DC__PORT_EXITING || st == DC__PORT_DEAD)
    return;
  if (reason_atom)
    set_reason(p, reason_atom, 0);
  send_exit_signal(p); /* e.g. driver_unloaded: no exit signal sent yet */
  terminate_now(p);
}

void dc__port_epilogue(dc__port *p) {
  if (p && p->state == DC__PORT_CLOSING && dc__queue_size(p) == 0)
    terminate_now(p);
}
