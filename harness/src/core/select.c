/* driver_select and the mock's poller.
 *
 * The registry mirrors ERTS's check-io event state (erl_check_io.c): one
 * entry per fd, addressed directly by the fd number, holding the owner of
 * READ interest, the owner of WRITE interest, the ERL_DRV_USE flag and a
 * pending ("STOP_USE") stop_select. Entries live in fixed-size chunks that
 * are allocated on first use and never move, so lookups are O(1) and need
 * no table lock; entries are guarded by a small array of sharded mutexes.
 *
 * Events are delivered one-shot like ERTS: one poll round calls each ready
 * fd's ready_output then ready_input at most once; a driver that does not
 * consume the data is simply called again on the next round. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

#define CHUNK_BITS 10
#define CHUNK_SIZE (1 << CHUNK_BITS)
#define MAX_CHUNKS 4096
#define MAX_FD ((intptr_t)CHUNK_SIZE * MAX_CHUNKS) /* 4M fds */
#define NSHARDS 64
#define MODE_RW (ERL_DRV_READ | ERL_DRV_WRITE)
#define KNOWN_MODES (MODE_RW | ERL_DRV_USE_NO_CALLBACK)
#define API "driver_select"

typedef void (*stop_fn)(ErlDrvEvent, void *);

/* Per-fd state. All fields are guarded by the fd's shard mutex. */
typedef struct fd_entry {
  dc__port *in_port;  /* owner of READ interest, or NULL */
  dc__port *out_port; /* owner of WRITE interest, or NULL */
  dc__port *use_port; /* port that set ERL_DRV_USE */
  int events;         /* ERL_DRV_READ | ERL_DRV_WRITE currently selected */
  int used;           /* ERL_DRV_USE is on */
  int stop_pending;   /* deselected with USE, stop_select not yet run */
  unsigned stop_seq;  /* ticket of the pending stop (a cancelled one differs) */
  stop_fn stop;       /* the stop_select to run for the pending stop */
} fd_entry;

/* A deferred stop_select waiting for dc__select_run_deferred. */
typedef struct pending_stop {
  int fd;
  unsigned seq;
  dc__port *port; /* the port that deselected (slots are never reused) */
} pending_stop;

#define M1 PTHREAD_MUTEX_INITIALIZER
#define M8 M1, M1, M1, M1, M1, M1, M1, M1
static pthread_mutex_t shards[NSHARDS] = {M8, M8, M8, M8, M8, M8, M8, M8};

/* Chunks are published with a CAS and kept (dc__select_reset clears them). */
static _Atomic(fd_entry *) chunks[MAX_CHUNKS];
static atomic_int max_fd = -1; /* highest fd that ever got an entry */
static atomic_int ss_mode = DC__SS_SYNC;
static atomic_uint stop_tickets;

/* Deferred stop_select queue (lock order: shard, then deferred_lock). */
static pthread_mutex_t deferred_lock = PTHREAD_MUTEX_INITIALIZER;
static pending_stop *deferred;
static size_t ndeferred, deferred_cap;

/* The poller's scratch pollfd array; one poller at a time. */
static pthread_mutex_t poll_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pollfd *pbuf;
static size_t pcap;

static pthread_mutex_t *shard_of(int fd) { return &shards[fd % NSHARDS]; }

/* The entry of fd, allocating its chunk when create is set. NULL when the
 * chunk does not exist (create == 0) or cannot be allocated. */
static fd_entry *entry_get(int fd, int create) {
  _Atomic(fd_entry *) *slot = &chunks[fd >> CHUNK_BITS];
  fd_entry *c = atomic_load_explicit(slot, memory_order_acquire);
  if (!c) {
    if (!create)
      return NULL;
    fd_entry *fresh = calloc(CHUNK_SIZE, sizeof *fresh);
    if (!fresh)
      return NULL;
    if (atomic_compare_exchange_strong(slot, &c, fresh))
      c = fresh;
    else
      free(fresh); /* another thread published first; c holds its chunk */
  }
  if (create) {
    int cur = atomic_load(&max_fd);
    while (cur < fd && !atomic_compare_exchange_weak(&max_fd, &cur, fd))
      ;
  }
  return &c[fd & (CHUNK_SIZE - 1)];
}

static int known(const fd_entry *e) {
  return e->events || e->used || e->stop_pending;
}

static dc__port **owner_slot(fd_entry *e, int dir) {
  return dir == ERL_DRV_READ ? &e->in_port : &e->out_port;
}

static void drop_modes(fd_entry *e, int modes) {
  e->events &= ~modes;
  if (modes & ERL_DRV_READ)
    e->in_port = NULL;
  if (modes & ERL_DRV_WRITE)
    e->out_port = NULL;
}

static void clear_use(fd_entry *e) {
  e->used = 0;
  e->use_port = NULL;
}

static int port_running(const dc__port *p) {
  int st = p->state;
  return st == DC__PORT_OPEN || st == DC__PORT_CLOSING;
}

static int port_gone(const dc__port *p) {
  int st = p->state;
  return st == DC__PORT_DEAD || st == DC__PORT_FREE;
}

/* Runs stop_select on this thread. It is no port callback (no lock is
 * taken, no epilogue), so the context is set by hand. */
static void call_stop_select(int fd, stop_fn stop) {
  if (!stop)
    return; /* ERTS substitutes a stub that only logs */
  dc__cb prev = dc__tls.cb;
  dc__tls.cb = DC__CB_STOP_SELECT;
  dc__tls.depth++;
  dc__g.cb_count[DC__CB_STOP_SELECT]++;
  stop((ErlDrvEvent)(intptr_t)fd, NULL);
  dc__tls.depth--;
  dc__tls.cb = prev;
}

/* ------------------------------------------------------------------------ */
/* driver_select                                                             */

/* A selected fd in blocking mode makes a false event block the scheduler.
 * Only fd kinds where a read or write can block are reported: regular
 * files and memory devices (/dev/null...) never block. */
static void check_blocking(int fd, const void *site) {
  int fl = fcntl(fd, F_GETFL);
  struct stat st;
  if (fl < 0 || (fl & O_NONBLOCK) || fstat(fd, &st) != 0)
    return;
  if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
      (S_ISCHR(st.st_mode) && major(st.st_rdev) != 1))
    dc__flag_at(DC_RULE_SELECT_BLOCKING_FD, API, site,
                "fd %d is selected but not in non-blocking mode (O_NONBLOCK)",
                fd);
}

/* Argument checks; returns the fd, or -1 when ERTS refuses the event. */
static int check_event(ErlDrvEvent event, int mode, const void *site) {
  intptr_t v = (intptr_t)event;
  if (mode & ~KNOWN_MODES)
    dc__flag_at(DC_RULE_SELECT_BAD_EVENT, API, site, "unknown mode bits 0x%x",
                (unsigned)(mode & ~KNOWN_MODES));
  if (v < 0 || v >= MAX_FD) {
    dc__flag_at(DC_RULE_SELECT_BAD_EVENT, API, site,
                "event %ld is not a valid file descriptor", (long)v);
    return -1;
  }
  if (fcntl((int)v, F_GETFD) < 0)
    dc__flag_at(DC_RULE_SELECT_BAD_EVENT, API, site,
                "fd %d is not an open file descriptor", (int)v);
  return (int)v;
}

/* Drops interest in `mode` held by other ports. A live owner loses it with
 * an error report (ERTS "stealing control of fd"); a dead owner's interest
 * is stale and dropped silently (it was reported as a leak at its stop). */
static void steal(fd_entry *e, dc__port *p, int fd, int mode,
                  const void *site) {
  int stolen = 0;
  dc__port *victim = NULL;
  for (int dir = ERL_DRV_READ; dir <= ERL_DRV_WRITE; dir <<= 1) {
    dc__port *o = *owner_slot(e, dir);
    if (!(mode & dir) || !o || o == p)
      continue;
    if (!port_gone(o)) {
      stolen |= dir;
      victim = o;
    }
    drop_modes(e, dir);
  }
  if (stolen)
    dc__flag_at(DC_RULE_SELECT_STEAL, API, site,
                "fd %d (%s) taken over from port %lu, which still selects it",
                fd,
                stolen == MODE_RW        ? "input/output"
                : stolen == ERL_DRV_READ ? "input"
                                         : "output",
                (unsigned long)DC__IDX(victim->id));
}

/* on=1. Returns the READ/WRITE modes newly added. */
static int select_on(fd_entry *e, dc__port *p, int fd, int mode,
                     const void *site) {
  if (e->stop_pending) {
    /* ERTS cancels the pending stop_select: it will never run. */
    dc__flag_at(DC_RULE_SELECT_RESELECT_BEFORE_STOP_SELECT, API, site,
                "fd %d selected again before stop_select ran for it", fd);
    e->stop_pending = 0;
    e->stop = NULL;
    clear_use(e);
  }
  steal(e, p, fd, mode, site);
  int add = mode & MODE_RW & ~e->events;
  e->events |= add;
  if (add & ERL_DRV_READ)
    e->in_port = p;
  if (add & ERL_DRV_WRITE)
    e->out_port = p;
  /* As in ERTS, USE is only recorded together with newly added events. */
  if (add && (mode & ERL_DRV_USE)) {
    e->used = 1;
    e->use_port = p;
  }
  return add;
}

/* on=0. Returns 1 when stop_select must be called now (after unlocking). */
static int select_off(fd_entry *e, dc__port *p, int fd, int mode, stop_fn stop,
                      const void *site) {
  int use_cb = (mode & ERL_DRV_USE_NO_CALLBACK) == ERL_DRV_USE;
  if (!known(e))
    return use_cb; /* never selected: ERTS calls stop_select at once */
  if (e->stop_pending)
    return 0; /* ERTS ignores the repeated call; the stop stays pending */
  if (use_cb)
    mode |= MODE_RW;
  steal(e, p, fd, mode, site);
  drop_modes(e, mode & MODE_RW);
  if (!e->events && ((mode & ERL_DRV_USE) || !e->used))
    clear_use(e);
  /* Without a stop_select (already reported as select.no_stop_select) there
   * is nothing to wait for: a pending stop would only turn the driver's
   * later reuse of the fd number into a second, consequential finding. */
  if (!use_cb || !stop)
    return 0;
  if (atomic_load(&ss_mode) == DC__SS_SYNC)
    return 1;
  e->stop_pending = 1;
  e->stop = stop;
  e->stop_seq = atomic_fetch_add(&stop_tickets, 1) + 1;
  pthread_mutex_lock(&deferred_lock);
  if (ndeferred == deferred_cap) {
    size_t cap = deferred_cap ? deferred_cap * 2 : 16;
    pending_stop *n = realloc(deferred, cap * sizeof *n);
    if (n) {
      deferred = n;
      deferred_cap = cap;
    }
  }
  if (ndeferred < deferred_cap)
    deferred[ndeferred++] = (pending_stop){fd, e->stop_seq, p};
  pthread_mutex_unlock(&deferred_lock);
  return 0;
}

int driver_select(ErlDrvPort port, ErlDrvEvent event, int mode, int on) {
  const void *site = __builtin_return_address(0);
  dc__port *p = DC__API_PORT(driver_select, port);
  if (!p)
    return -1;
  int fd = check_event(event, mode, site);
  if (fd < 0)
    return -1;
  stop_fn stop = dc__g.entry ? dc__g.entry->stop_select : NULL;
  if ((mode & ERL_DRV_USE) && !stop)
    dc__flag_at(DC_RULE_SELECT_NO_STOP_SELECT, API, site,
                "ERL_DRV_USE used but the driver has no stop_select");
  fd_entry *e = entry_get(fd, 1);
  if (!e)
    return -1;
  int added = 0, call_stop = 0;
  pthread_mutex_lock(shard_of(fd));
  if (on)
    added = select_on(e, p, fd, mode, site);
  else
    call_stop = select_off(e, p, fd, mode, stop, site);
  pthread_mutex_unlock(shard_of(fd));
  if (added)
    check_blocking(fd, site);
  /* ERTS calls it after releasing the fd lock, with the port lock held. */
  if (call_stop)
    call_stop_select(fd, stop);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Event dispatch                                                            */

/* ERTS's stub for a NULL ready_input/ready_output deselects the mode with
 * ERL_DRV_USE_NO_CALLBACK. */
static void deselect_missing(int fd, dc__port *p, int dir) {
  pthread_mutex_lock(shard_of(fd));
  fd_entry *e = entry_get(fd, 0);
  if (e && (e->events & dir) && *owner_slot(e, dir) == p) {
    drop_modes(e, dir);
    if (!e->events)
      clear_use(e);
  }
  pthread_mutex_unlock(shard_of(fd));
}

/* The running owner of fd's `dir` interest, or NULL. Interest of a dead
 * owner is stale and dropped (ERTS: stale_drv_select). */
static dc__port *event_owner(int fd, int dir) {
  dc__port *p = NULL;
  pthread_mutex_lock(shard_of(fd));
  fd_entry *e = entry_get(fd, 0);
  if (e && (e->events & dir)) {
    p = *owner_slot(e, dir);
    if (port_gone(p)) {
      drop_modes(e, dir);
      if (!e->events)
        clear_use(e);
      p = NULL;
    } else if (!port_running(p)) {
      p = NULL;
    }
  }
  pthread_mutex_unlock(shard_of(fd));
  return p;
}

/* Calls ready_output (dir WRITE) or ready_input (READ) for fd if it is
 * still selected by a running port. Returns 1 if a callback ran. */
static int dispatch(int fd, int dir, const char *stimulus) {
  dc__port *p = event_owner(fd, dir);
  if (!p)
    return 0;
  ErlDrvEntry *de = dc__g.entry;
  void (*cb)(ErlDrvData, ErlDrvEvent) = !de ? NULL
                                        : dir == ERL_DRV_READ
                                            ? de->ready_input
                                            : de->ready_output;
  if (!cb) {
    deselect_missing(fd, p, dir);
    return 0;
  }
  dc__cbframe f;
  dc__cb_enter(p,
               dir == ERL_DRV_READ ? DC__CB_READY_INPUT : DC__CB_READY_OUTPUT,
               DC__NIL, &f);
  /* Re-check under the port lock: a callback on another thread may have
   * closed the port or deselected the fd meanwhile. */
  int run = port_running(p) && event_owner(fd, dir) == p;
  if (run) {
    const char *prev = dc__tls.stimulus;
    if (stimulus)
      dc__tls.stimulus = stimulus;
    cb(p->drv_data, (ErlDrvEvent)(intptr_t)fd);
    dc__tls.stimulus = prev;
  }
  dc__cb_leave(p, &f);
  return run;
}

/* POLLNVAL: the fd was closed while still selected. ERTS logs "Bad fd in
 * erts_poll()" and forgets the fd without calling the driver. */
static void bad_fd(int fd) {
  dc__port *p = NULL;
  pthread_mutex_lock(shard_of(fd));
  fd_entry *e = entry_get(fd, 0);
  if (e) {
    p = e->in_port ? e->in_port : e->out_port;
    drop_modes(e, MODE_RW);
    clear_use(e);
  }
  pthread_mutex_unlock(shard_of(fd));
  dc__port *prev = dc__tls.port;
  dc__tls.port = p;
  dc__flag_at(DC_RULE_SELECT_BAD_EVENT, API, NULL,
              "fd %d was closed while still selected", fd);
  dc__tls.port = prev;
}

/* Fills pbuf with the selected fds; returns how many. */
static size_t collect(void) {
  size_t n = 0;
  int top = atomic_load(&max_fd);
  for (int fd = 0; fd <= top; fd++) {
    if (!atomic_load_explicit(&chunks[fd >> CHUNK_BITS],
                              memory_order_acquire)) {
      fd |= CHUNK_SIZE - 1; /* skip the whole missing chunk */
      continue;
    }
    pthread_mutex_lock(shard_of(fd));
    int ev = entry_get(fd, 0)->events;
    pthread_mutex_unlock(shard_of(fd));
    if (!ev)
      continue;
    if (n == pcap) {
      size_t cap = pcap ? pcap * 2 : 64;
      struct pollfd *nb = realloc(pbuf, cap * sizeof *nb);
      if (!nb)
        break;
      pbuf = nb;
      pcap = cap;
    }
    pbuf[n++] = (struct pollfd){fd,
                                (short)((ev & ERL_DRV_READ ? POLLIN : 0) |
                                        (ev & ERL_DRV_WRITE ? POLLOUT : 0)),
                                0};
  }
  return n;
}

/* READ/WRITE readiness in a poll result. Errors and hang-ups wake every
 * selected direction so the driver sees them (ERTS does the same). */
static int ready_modes(const struct pollfd *pf) {
  int m = 0;
  if (pf->revents & (POLLERR | POLLHUP))
    m = (pf->events & POLLIN ? ERL_DRV_READ : 0) |
        (pf->events & POLLOUT ? ERL_DRV_WRITE : 0);
  if (pf->revents & (POLLIN | POLLPRI))
    m |= ERL_DRV_READ;
  if (pf->revents & POLLOUT)
    m |= ERL_DRV_WRITE;
  return m;
}

int dc__select_poll(int timeout_ms) {
  int ran = 0;
  pthread_mutex_lock(&poll_lock);
  size_t n = collect();
  int r = 0;
  if (n > 0) {
    do
      r = poll(pbuf, (nfds_t)n, timeout_ms);
    while (r < 0 && errno == EINTR);
  }
  for (size_t i = 0; r > 0 && i < n; i++) {
    if (!pbuf[i].revents)
      continue;
    if (pbuf[i].revents & POLLNVAL) {
      bad_fd(pbuf[i].fd);
      continue;
    }
    int m = ready_modes(&pbuf[i]);
    /* ERTS schedules output before input. */
    if (m & ERL_DRV_WRITE)
      ran += dispatch(pbuf[i].fd, ERL_DRV_WRITE, NULL);
    if (m & ERL_DRV_READ)
      ran += dispatch(pbuf[i].fd, ERL_DRV_READ, NULL);
  }
  pthread_mutex_unlock(&poll_lock);
  return ran;
}

int dc__select_fire(int fd, int mode) {
  if (fd < 0 || fd >= MAX_FD)
    return -1;
  int dirs = 0;
  for (int dir = ERL_DRV_READ; dir <= ERL_DRV_WRITE; dir <<= 1)
    if ((mode & dir) && event_owner(fd, dir))
      dirs |= dir;
  if (!dirs)
    return -1;
  struct pollfd pf = {fd,
                      (short)((dirs & ERL_DRV_READ ? POLLIN : 0) |
                              (dirs & ERL_DRV_WRITE ? POLLOUT : 0)),
                      0};
  int ready = poll(&pf, 1, 0) > 0 ? ready_modes(&pf) : 0;
  if (dirs & ERL_DRV_WRITE)
    dispatch(fd, ERL_DRV_WRITE, ready & ERL_DRV_WRITE ? NULL : "false_event");
  if (dirs & ERL_DRV_READ)
    dispatch(fd, ERL_DRV_READ, ready & ERL_DRV_READ ? NULL : "false_event");
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Deferred stop_select                                                      */

typedef struct deferred_batch {
  pending_stop *items;
  size_t n;
  int ran;
} deferred_batch;

/* Runs a batch as ERTS's poll thread does: no port or driver lock, no
 * port context; a stop cancelled by a re-select is skipped. */
static void *deferred_main(void *arg) {
  deferred_batch *b = arg;
  dc__ctx saved = dc__tls;
  memset(&dc__tls, 0, sizeof dc__tls);
  dc__tls.kind = DC__THR_POLL;
  dc__tls.stimulus = saved.stimulus; /* findings name the sequencer's doing */
  for (size_t i = 0; i < b->n; i++) {
    int fd = b->items[i].fd;
    stop_fn stop = NULL;
    int due = 0;
    pthread_mutex_lock(shard_of(fd));
    fd_entry *e = entry_get(fd, 0);
    if (e && e->stop_pending && e->stop_seq == b->items[i].seq) {
      stop = e->stop;
      e->stop_pending = 0;
      e->stop = NULL;
      due = 1;
    }
    pthread_mutex_unlock(shard_of(fd));
    if (due && stop) {
      call_stop_select(fd, stop);
      b->ran++;
    }
  }
  dc__tls = saved;
  return NULL;
}

int dc__select_run_deferred(void) {
  deferred_batch b = {NULL, 0, 0};
  pthread_mutex_lock(&deferred_lock);
  b.items = deferred;
  b.n = ndeferred;
  deferred = NULL;
  ndeferred = deferred_cap = 0;
  pthread_mutex_unlock(&deferred_lock);
  if (b.n == 0) {
    free(b.items);
    return 0;
  }
  pthread_t t;
  if (pthread_create(&t, NULL, deferred_main, &b) == 0)
    pthread_join(t, NULL);
  else
    deferred_main(&b); /* no thread available: still run them, unlocked */
  free(b.items);
  return b.ran;
}

void dc__select_set_mode(dc__stop_select_mode m) { atomic_store(&ss_mode, m); }

/* ------------------------------------------------------------------------ */
/* Inspection and reset                                                      */

/* Modes of a selected entry (READ/WRITE/USE), 0 when nothing is selected. */
static int entry_modes(const fd_entry *e) {
  return e->events | (e->used ? ERL_DRV_USE : 0);
}

int dc__select_count(dc__port *p) {
  int n = 0, top = atomic_load(&max_fd);
  for (int fd = 0; fd <= top; fd++) {
    if (!atomic_load_explicit(&chunks[fd >> CHUNK_BITS],
                              memory_order_acquire)) {
      fd |= CHUNK_SIZE - 1;
      continue;
    }
    pthread_mutex_lock(shard_of(fd));
    fd_entry *e = entry_get(fd, 0);
    if (e->in_port == p || e->out_port == p || (e->used && e->use_port == p))
      n++;
    pthread_mutex_unlock(shard_of(fd));
  }
  return n;
}

int dc__select_next(int after, int *mode, dc__port **port) {
  int top = atomic_load(&max_fd);
  for (int fd = after < 0 ? 0 : after + 1; fd <= top; fd++) {
    if (!atomic_load_explicit(&chunks[fd >> CHUNK_BITS],
                              memory_order_acquire)) {
      fd |= CHUNK_SIZE - 1;
      continue;
    }
    pthread_mutex_lock(shard_of(fd));
    fd_entry *e = entry_get(fd, 0);
    int m = entry_modes(e);
    dc__port *o = e->in_port    ? e->in_port
                  : e->out_port ? e->out_port
                                : e->use_port;
    pthread_mutex_unlock(shard_of(fd));
    if (!m)
      continue;
    if (mode)
      *mode = m;
    if (port)
      *port = o;
    return fd;
  }
  return -1;
}

int dc__select_port_fds(const dc__port *p, int *fds, int *modes, int cap) {
  int n = 0, top = atomic_load(&max_fd);
  for (int fd = 0; fd <= top && n < cap; fd++) {
    if (!atomic_load_explicit(&chunks[fd >> CHUNK_BITS],
                              memory_order_acquire)) {
      fd |= CHUNK_SIZE - 1;
      continue;
    }
    pthread_mutex_lock(shard_of(fd));
    fd_entry *e = entry_get(fd, 0);
    int m =
        ((e->events & ERL_DRV_READ) && e->in_port == p ? ERL_DRV_READ : 0) |
        ((e->events & ERL_DRV_WRITE) && e->out_port == p ? ERL_DRV_WRITE : 0);
    pthread_mutex_unlock(shard_of(fd));
    if (!m)
      continue;
    fds[n] = fd;
    modes[n++] = m;
  }
  return n;
}

int dc__select_deferred_pending(int *dead) {
  int n = 0, gone = 0;
  /* Lock order is shard, then deferred_lock: copy the list first. The
   * sequencer asks before every operation, so a short list is copied to
   * the stack rather than to a malloc'ed buffer. */
  pending_stop local[16];
  pthread_mutex_lock(&deferred_lock);
  size_t cnt = ndeferred;
  pending_stop *copy = cnt <= 16 ? local : malloc(cnt * sizeof *copy);
  if (copy && cnt)
    memcpy(copy, deferred, cnt * sizeof *copy);
  pthread_mutex_unlock(&deferred_lock);
  for (size_t i = 0; copy && i < cnt; i++) {
    int fd = copy[i].fd;
    pthread_mutex_lock(shard_of(fd));
    fd_entry *e = entry_get(fd, 0);
    int due = e && e->stop_pending && e->stop_seq == copy[i].seq;
    pthread_mutex_unlock(shard_of(fd));
    if (!due)
      continue; /* cancelled by a re-select */
    n++;
    gone += copy[i].port && port_gone(copy[i].port);
  }
  if (copy != local)
    free(copy);
  if (dead)
    *dead = gone;
  return n;
}

void dc__select_reset(void) {
  /* Entries above max_fd were never touched since the last reset: clear
   * only fds 0..max_fd and keep the chunks (the fuzz targets reset before
   * every input; freeing and scanning all chunks would dominate). */
  int top = atomic_load(&max_fd);
  for (int i = 0; top >= 0 && i <= (top >> CHUNK_BITS); i++) {
    fd_entry *c = atomic_load(&chunks[i]);
    int last = top - (i << CHUNK_BITS);
    size_t n = last >= CHUNK_SIZE ? CHUNK_SIZE : (size_t)last + 1;
    if (c)
      memset(c, 0, n * sizeof *c);
  }
  atomic_store(&max_fd, -1);
  atomic_store(&ss_mode, DC__SS_SYNC);
  pthread_mutex_lock(&deferred_lock);
  free(deferred);
  deferred = NULL;
  ndeferred = deferred_cap = 0;
  pthread_mutex_unlock(&deferred_lock);
}
