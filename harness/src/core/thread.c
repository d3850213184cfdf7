/* Driver threads and synchronisation: erl_drv_mutex_*, _cond_*, _rwlock_*,
 * _tsd_*, _thread_* (erts/emulator/beam/erl_drv_thread.c in ERTS).
 *
 * Every object is a thin wrapper over the pthread primitive plus cheap
 * ownership bookkeeping (owning thread of a mutex, writer of an rwlock, the
 * read locks a thread holds) so misuse can be reported with certainty. The
 * lock/unlock paths never take a global lock: only create/destroy touch the
 * registries, which exist so live objects can be counted and forgotten.
 *
 * Misuse that would hang or corrupt the harness is reported and then NOT
 * performed: a relock returns at once without locking (the real emulator
 * would self-deadlock), an unlock by a non-owner returns without unlocking,
 * destroying a busy object leaks it instead of freeing memory that other
 * threads still use. The driver keeps running so the run can go on.
 * NULL handles are fatal in ERTS (fatal_error -> erts_exit abort); the mock
 * prints a similar line and aborts. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Registries                                                               */

enum { REG_MUTEX, REG_COND, REG_RWLOCK, REG_THREAD, REG_KINDS };

/* Intrusive node; gen tells which registry generation the object joined, so
 * destroying an object forgotten by dc__thread_reset leaves the lists alone. */
typedef struct reg_node {
  struct reg_node *prev, *next;
  unsigned gen;
} reg_node;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static reg_node reg_head[REG_KINDS]; /* circular lists, lazily initialised */
static int reg_count[REG_KINDS];
static _Atomic unsigned reg_gen = 1; /* bumped by reset (under reg_lock) */

static void reg_init_heads(void) {
  for (int k = 0; k < REG_KINDS; k++)
    if (!reg_head[k].next)
      reg_head[k].next = reg_head[k].prev = &reg_head[k];
}

static void reg_add(int kind, reg_node *n) {
  pthread_mutex_lock(&reg_lock);
  reg_init_heads();
  n->gen = reg_gen;
  n->next = &reg_head[kind];
  n->prev = reg_head[kind].prev;
  n->prev->next = n;
  reg_head[kind].prev = n;
  reg_count[kind]++;
  pthread_mutex_unlock(&reg_lock);
}

/* Caller holds reg_lock. */
static void reg_unlink_locked(int kind, reg_node *n) {
  if (n->gen != reg_gen || !n->next)
    return; /* forgotten by a reset */
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->next = n->prev = NULL;
  reg_count[kind]--;
}

static void reg_del(int kind, reg_node *n) {
  pthread_mutex_lock(&reg_lock);
  reg_unlink_locked(kind, n);
  pthread_mutex_unlock(&reg_lock);
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

static const char no_name[] = "unknown";

/* ERTS: fatal_error() -> erts_exit(ERTS_ABORT_EXIT, "Fatal error in ..."). */
static _Noreturn void fatal(const char *fn, int err) {
  fprintf(stderr, "drvcheck: fatal error in %s: %s\n", fn, strerror(err));
  fflush(stderr);
  abort();
}

/* A per-thread address serves as a cheap, never-zero thread identity. */
static _Thread_local char self_token;
#define SELF ((uintptr_t)&self_token)

/* Allocates an object of size sz with the name copied behind it (one block,
 * like ERTS); *namep gets the copy or "unknown". */
static void *alloc_named(size_t sz, const char *name, const char **namep) {
  size_t nl = name ? strlen(name) + 1 : 0;
  char *p = calloc(1, sz + nl);
  if (!p)
    return NULL;
  if (name) {
    memcpy(p + sz, name, nl);
    *namep = p + sz;
  } else {
    *namep = no_name;
  }
  return p;
}

/* ------------------------------------------------------------------------ */
/* Mutexes                                                                   */

/* Owned by the driver from create to destroy. */
struct ErlDrvMutex_ {
  pthread_mutex_t mtx;
  _Atomic uintptr_t owner; /* SELF of the holder, 0 when unlocked */
  const char *name;
  reg_node node;
};

ErlDrvMutex *erl_drv_mutex_create(char *name) {
  DC__API(erl_drv_mutex_create);
  const char *nm;
  ErlDrvMutex *m = alloc_named(sizeof *m, name, &nm);
  if (!m)
    return NULL;
  if (pthread_mutex_init(&m->mtx, NULL) != 0) {
    free(m);
    return NULL;
  }
  m->name = nm;
  reg_add(REG_MUTEX, &m->node);
  return m;
}

void erl_drv_mutex_destroy(ErlDrvMutex *m) {
  DC__API(erl_drv_mutex_destroy);
  if (!m)
    fatal("erl_drv_mutex_destroy", EINVAL);
  if (atomic_load_explicit(&m->owner, memory_order_relaxed)) {
    dc__flag(DC_RULE_THREAD_DESTROY_BUSY, "erl_drv_mutex_destroy",
             "mutex '%s' destroyed while locked; leaked instead", m->name);
    return;
  }
  reg_del(REG_MUTEX, &m->node);
  dc__lockdep_forget(m); /* its address may be reused by another lock */
  pthread_mutex_destroy(&m->mtx);
  free(m);
}

char *erl_drv_mutex_name(ErlDrvMutex *m) {
  DC__API(erl_drv_mutex_name);
  return m ? (char *)m->name : NULL;
}

int erl_drv_mutex_trylock(ErlDrvMutex *m) {
  DC__API(erl_drv_mutex_trylock);
  if (!m)
    fatal("erl_drv_mutex_trylock", EINVAL);
  int rc = pthread_mutex_trylock(&m->mtx);
  if (rc == 0) {
    atomic_store_explicit(&m->owner, SELF, memory_order_relaxed);
    dc__lockdep_acquired(m, m->name, __builtin_return_address(0));
  }
  return rc;
}

void erl_drv_mutex_lock(ErlDrvMutex *m) {
  DC__API(erl_drv_mutex_lock);
  if (!m)
    fatal("erl_drv_mutex_lock", EINVAL);
  /* Only this thread can have stored SELF, so the check is race-free. */
  if (atomic_load_explicit(&m->owner, memory_order_relaxed) == SELF) {
    dc__flag(DC_RULE_THREAD_RELOCK, "erl_drv_mutex_lock",
             "mutex '%s' locked again by the thread holding it (the "
             "emulator would deadlock; not locked again)",
             m->name);
    return;
  }
  const void *site = __builtin_return_address(0);
  dc__lockdep_wait(m, m->name, 0, "erl_drv_mutex_lock", site);
  pthread_mutex_lock(&m->mtx);
  atomic_store_explicit(&m->owner, SELF, memory_order_relaxed);
  dc__lockdep_acquired(m, m->name, site);
}

void erl_drv_mutex_unlock(ErlDrvMutex *m) {
  DC__API(erl_drv_mutex_unlock);
  if (!m)
    fatal("erl_drv_mutex_unlock", EINVAL);
  uintptr_t o = atomic_load_explicit(&m->owner, memory_order_relaxed);
  if (o != SELF) {
    dc__flag(DC_RULE_THREAD_UNLOCK_NOT_OWNER, "erl_drv_mutex_unlock",
             "mutex '%s' unlocked by a thread that does not hold it (%s); "
             "not unlocked",
             m->name, o ? "another thread holds it" : "it is not locked");
    return;
  }
  atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
  dc__lockdep_released(m);
  pthread_mutex_unlock(&m->mtx);
}

/* ------------------------------------------------------------------------ */
/* Condition variables                                                       */

struct ErlDrvCond_ {
  pthread_cond_t cnd;
  _Atomic int waiters;
  const char *name;
  reg_node node;
};

ErlDrvCond *erl_drv_cond_create(char *name) {
  DC__API(erl_drv_cond_create);
  const char *nm;
  ErlDrvCond *c = alloc_named(sizeof *c, name, &nm);
  if (!c)
    return NULL;
  if (pthread_cond_init(&c->cnd, NULL) != 0) {
    free(c);
    return NULL;
  }
  c->name = nm;
  reg_add(REG_COND, &c->node);
  return c;
}

void erl_drv_cond_destroy(ErlDrvCond *c) {
  DC__API(erl_drv_cond_destroy);
  if (!c)
    fatal("erl_drv_cond_destroy", EINVAL);
  int w = atomic_load(&c->waiters);
  if (w > 0) {
    dc__flag(DC_RULE_THREAD_DESTROY_BUSY, "erl_drv_cond_destroy",
             "cond '%s' destroyed with %d waiting thread(s); leaked instead",
             c->name, w);
    return;
  }
  reg_del(REG_COND, &c->node);
  pthread_cond_destroy(&c->cnd);
  free(c);
}

char *erl_drv_cond_name(ErlDrvCond *c) {
  DC__API(erl_drv_cond_name);
  return c ? (char *)c->name : NULL;
}

void erl_drv_cond_signal(ErlDrvCond *c) {
  DC__API(erl_drv_cond_signal);
  if (!c)
    fatal("erl_drv_cond_signal", EINVAL);
  pthread_cond_signal(&c->cnd);
}

void erl_drv_cond_broadcast(ErlDrvCond *c) {
  DC__API(erl_drv_cond_broadcast);
  if (!c)
    fatal("erl_drv_cond_broadcast", EINVAL);
  pthread_cond_broadcast(&c->cnd);
}

void erl_drv_cond_wait(ErlDrvCond *c, ErlDrvMutex *m) {
  DC__API(erl_drv_cond_wait);
  if (!c || !m)
    fatal("erl_drv_cond_wait", EINVAL);
  if (atomic_load_explicit(&m->owner, memory_order_relaxed) != SELF) {
    /* Returning at once is a legal spurious wakeup for a correct caller. */
    dc__flag(DC_RULE_THREAD_UNLOCK_NOT_OWNER, "erl_drv_cond_wait",
             "waiting on cond '%s' without holding mutex '%s'; not waited",
             c->name, m->name);
    return;
  }
  atomic_fetch_add(&c->waiters, 1);
  atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
  pthread_cond_wait(&c->cnd, &m->mtx);
  atomic_store_explicit(&m->owner, SELF, memory_order_relaxed);
  atomic_fetch_sub(&c->waiters, 1);
}

/* ------------------------------------------------------------------------ */
/* Read/write locks                                                          */

struct ErlDrvRWLock_ {
  pthread_rwlock_t rw;
  _Atomic uintptr_t writer; /* SELF of the write holder, or 0 */
  _Atomic int readers;
  const char *name;
  reg_node node;
};

/* Read locks held by this thread: a short list, since drivers hold few. On
 * overflow entries are not recorded and "not held" is no longer certain. */
#define MAX_RHELD 32
static _Thread_local ErlDrvRWLock *rheld[MAX_RHELD];
static _Thread_local int nrheld, rheld_lost;

static int rheld_find(ErlDrvRWLock *l) {
  for (int i = nrheld - 1; i >= 0; i--)
    if (rheld[i] == l)
      return i;
  return -1;
}

static void rheld_push(ErlDrvRWLock *l) {
  if (nrheld < MAX_RHELD)
    rheld[nrheld++] = l;
  else
    rheld_lost++;
}

ErlDrvRWLock *erl_drv_rwlock_create(char *name) {
  DC__API(erl_drv_rwlock_create);
  const char *nm;
  ErlDrvRWLock *l = alloc_named(sizeof *l, name, &nm);
  if (!l)
    return NULL;
  if (pthread_rwlock_init(&l->rw, NULL) != 0) {
    free(l);
    return NULL;
  }
  l->name = nm;
  reg_add(REG_RWLOCK, &l->node);
  return l;
}

void erl_drv_rwlock_destroy(ErlDrvRWLock *l) {
  DC__API(erl_drv_rwlock_destroy);
  if (!l)
    fatal("erl_drv_rwlock_destroy", EINVAL);
  if (atomic_load(&l->writer) || atomic_load(&l->readers) > 0) {
    dc__flag(DC_RULE_THREAD_DESTROY_BUSY, "erl_drv_rwlock_destroy",
             "rwlock '%s' destroyed while locked; leaked instead", l->name);
    return;
  }
  reg_del(REG_RWLOCK, &l->node);
  dc__lockdep_forget(l);
  pthread_rwlock_destroy(&l->rw);
  free(l);
}

char *erl_drv_rwlock_name(ErlDrvRWLock *l) {
  DC__API(erl_drv_rwlock_name);
  return l ? (char *)l->name : NULL;
}

/* A thread asking for l while holding it for writing (any mode) or asking
 * for writing while holding it for reading deadlocks in ERTS. */
static int rw_relock(ErlDrvRWLock *l, int write, const char *api) {
  int held_w = atomic_load_explicit(&l->writer, memory_order_relaxed) == SELF;
  int held_r = write && rheld_find(l) >= 0;
  if (!held_w && !held_r)
    return 0;
  dc__flag(DC_RULE_THREAD_RELOCK, api,
           "rwlock '%s' requested for %s by a thread holding it for %s (the "
           "emulator would deadlock; not locked)",
           l->name, write ? "writing" : "reading",
           held_w ? "writing" : "reading");
  return 1;
}

int erl_drv_rwlock_tryrlock(ErlDrvRWLock *l) {
  DC__API(erl_drv_rwlock_tryrlock);
  if (!l)
    fatal("erl_drv_rwlock_tryrlock", EINVAL);
  if (atomic_load_explicit(&l->writer, memory_order_relaxed) == SELF)
    return EBUSY; /* glibc would say EDEADLK; ethread says busy */
  int rc = pthread_rwlock_tryrdlock(&l->rw);
  if (rc == 0) {
    atomic_fetch_add(&l->readers, 1);
    rheld_push(l);
    dc__lockdep_acquired(l, l->name, __builtin_return_address(0));
  } else if (rc != EBUSY) {
    rc = EBUSY;
  }
  return rc;
}

void erl_drv_rwlock_rlock(ErlDrvRWLock *l) {
  DC__API(erl_drv_rwlock_rlock);
  if (!l)
    fatal("erl_drv_rwlock_rlock", EINVAL);
  if (rw_relock(l, 0, "erl_drv_rwlock_rlock"))
    return;
  const void *site = __builtin_return_address(0);
  dc__lockdep_wait(l, l->name, 1, "erl_drv_rwlock_rlock", site);
  pthread_rwlock_rdlock(&l->rw);
  atomic_fetch_add(&l->readers, 1);
  rheld_push(l);
  dc__lockdep_acquired(l, l->name, site);
}

void erl_drv_rwlock_runlock(ErlDrvRWLock *l) {
  DC__API(erl_drv_rwlock_runlock);
  if (!l)
    fatal("erl_drv_rwlock_runlock", EINVAL);
  int i = rheld_find(l);
  if (i < 0 && !rheld_lost) {
    dc__flag(DC_RULE_THREAD_UNLOCK_NOT_OWNER, "erl_drv_rwlock_runlock",
             "rwlock '%s' read-unlocked by a thread not holding it for "
             "reading; not unlocked",
             l->name);
    return;
  }
  if (i >= 0)
    rheld[i] = rheld[--nrheld];
  else
    rheld_lost--;
  atomic_fetch_sub(&l->readers, 1);
  dc__lockdep_released(l);
  pthread_rwlock_unlock(&l->rw);
}

int erl_drv_rwlock_tryrwlock(ErlDrvRWLock *l) {
  DC__API(erl_drv_rwlock_tryrwlock);
  if (!l)
    fatal("erl_drv_rwlock_tryrwlock", EINVAL);
  int rc = pthread_rwlock_trywrlock(&l->rw);
  if (rc == 0) {
    atomic_store_explicit(&l->writer, SELF, memory_order_relaxed);
    dc__lockdep_acquired(l, l->name, __builtin_return_address(0));
  } else if (rc != EBUSY)
    rc = EBUSY;
  return rc;
}

void erl_drv_rwlock_rwlock(ErlDrvRWLock *l) {
  DC__API(erl_drv_rwlock_rwlock);
  if (!l)
    fatal("erl_drv_rwlock_rwlock", EINVAL);
  if (rw_relock(l, 1, "erl_drv_rwlock_rwlock"))
    return;
  const void *site = __builtin_return_address(0);
  dc__lockdep_wait(l, l->name, 0, "erl_drv_rwlock_rwlock", site);
  pthread_rwlock_wrlock(&l->rw);
  atomic_store_explicit(&l->writer, SELF, memory_order_relaxed);
  dc__lockdep_acquired(l, l->name, site);
}

void erl_drv_rwlock_rwunlock(ErlDrvRWLock *l) {
  DC__API(erl_drv_rwlock_rwunlock);
  if (!l)
    fatal("erl_drv_rwlock_rwunlock", EINVAL);
  uintptr_t w = atomic_load_explicit(&l->writer, memory_order_relaxed);
  if (w != SELF) {
    dc__flag(DC_RULE_THREAD_UNLOCK_NOT_OWNER, "erl_drv_rwlock_rwunlock",
             "rwlock '%s' write-unlocked by a thread not holding it for "
             "writing; not unlocked",
             l->name);
    return;
  }
  atomic_store_explicit(&l->writer, 0, memory_order_relaxed);
  dc__lockdep_released(l);
  pthread_rwlock_unlock(&l->rw);
}

/* ------------------------------------------------------------------------ */
/* Thread ids                                                                */

/* One per thread that called erl_drv_thread_self / tsd_set (foreign thread,
 * freed by the key destructor at its exit) or per erl_drv_thread_create
 * (freed by erl_drv_thread_join). */
struct ErlDrvTid_ {
  pthread_t tid;
  void *(*func)(void *);
  void *arg;
  int drv_thr; /* made by erl_drv_thread_create */
  const char *name;
  void **tsd; /* this thread's TSD values, indexed by key */
  int tsd_len;
  unsigned tsd_gen; /* registry generation the values belong to */
  reg_node node;    /* REG_THREAD, driver threads only */
};

static pthread_once_t tid_once = PTHREAD_ONCE_INIT;
static pthread_key_t tid_key;
static _Thread_local struct ErlDrvTid_ *self_tid;

/* Thread exit: TSD values go; the record too unless a join will free it. */
static void tid_exit(void *v) {
  struct ErlDrvTid_ *t = v;
  free(t->tsd);
  t->tsd = NULL;
  t->tsd_len = 0;
  if (!t->drv_thr)
    free(t);
}

static void tid_key_init(void) {
  if (pthread_key_create(&tid_key, tid_exit) != 0)
    fatal("erl_drv_thread_self", EAGAIN);
}

static void set_self(struct ErlDrvTid_ *t) {
  pthread_once(&tid_once, tid_key_init);
  self_tid = t;
  if (pthread_setspecific(tid_key, t) != 0)
    fatal("erl_drv_thread_self", ENOMEM);
}

ErlDrvTid erl_drv_thread_self(void) {
  DC__API(erl_drv_thread_self);
  if (!self_tid) {
    struct ErlDrvTid_ *t = calloc(1, sizeof *t);
    if (!t)
      fatal("erl_drv_thread_self", ENOMEM);
    t->tid = pthread_self();
    t->name = no_name;
    set_self(t);
  }
  return (ErlDrvTid)self_tid;
}

int erl_drv_equal_tids(ErlDrvTid a, ErlDrvTid b) {
  DC__API(erl_drv_equal_tids);
  if (!a || !b)
    fatal("erl_drv_equal_tids", EINVAL);
  return a == b;
}

char *erl_drv_thread_name(ErlDrvTid tid) {
  DC__API(erl_drv_thread_name);
  return tid ? (char *)((struct ErlDrvTid_ *)tid)->name : NULL;
}

ErlDrvThreadOpts *erl_drv_thread_opts_create(char *name) {
  DC__API(erl_drv_thread_opts_create);
  (void)name; /* ERTS ignores it too */
  ErlDrvThreadOpts *o = malloc(sizeof *o);
  if (o)
    o->suggested_stack_size = -1;
  return o;
}

void erl_drv_thread_opts_destroy(ErlDrvThreadOpts *opts) {
  DC__API(erl_drv_thread_opts_destroy);
  if (!opts)
    fatal("erl_drv_thread_opts_destroy", EINVAL);
  free(opts);
}

static void *thread_main(void *v) {
  struct ErlDrvTid_ *t = v;
  set_self(t);
  dc__tls.kind = DC__THR_DRIVER;
  return t->func(t->arg);
}

/* ethread: kilowords -> bytes, page aligned, one extra page for the system,
 * clamped. The lower clamp is higher than ethread's (~20 KB) because the
 * harness's own reporting runs on driver threads too. */
static size_t stack_bytes(int kw) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t b = (size_t)kw * 1024 * sizeof(void *);
  b = (b + page - 1) / page * page + page;
  size_t lo = PTHREAD_STACK_MIN > 65536 ? PTHREAD_STACK_MIN : 65536;
  size_t hi = (size_t)8192 * 1024 * sizeof(void *);
  return b < lo ? lo : b > hi ? hi : b;
}

int erl_drv_thread_create(char *name, ErlDrvTid *tid, void *(*func)(void *),
                          void *args, ErlDrvThreadOpts *opts) {
  DC__API(erl_drv_thread_create);
  const char *nm;
  struct ErlDrvTid_ *t = alloc_named(sizeof *t, name, &nm);
  if (!t)
    return ENOMEM;
  t->name = nm;
  t->func = func;
  t->arg = args;
  t->drv_thr = 1;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_JOINABLE);
  if (opts && opts->suggested_stack_size >= 0)
    pthread_attr_setstacksize(&attr, stack_bytes(opts->suggested_stack_size));
  reg_add(REG_THREAD, &t->node); /* before start: join must find it */
  int rc = pthread_create(&t->tid, &attr, thread_main, t);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    reg_del(REG_THREAD, &t->node);
    free(t);
    return rc;
  }
  if (name) {
    char os_name[16]; /* Linux limit, like ethread's naming */
    snprintf(os_name, sizeof os_name, "%s", name);
    pthread_setname_np(t->tid, os_name);
  }
  *tid = (ErlDrvTid)t;
  return 0;
}

void erl_drv_thread_exit(void *resp) {
  DC__API(erl_drv_thread_exit);
  if (self_tid && self_tid->drv_thr)
    pthread_exit(resp);
  dc__flag(DC_RULE_THREAD_BAD_JOIN, "erl_drv_thread_exit",
           "erl_drv_thread_exit from a thread not created by "
           "erl_drv_thread_create (the emulator aborts)");
  fatal("erl_drv_thread_exit", EACCES);
}

/* 1 if t is a driver thread not yet joined. Looks only at addresses, so a
 * stale or foreign tid is never dereferenced. */
static int thread_registered(struct ErlDrvTid_ *t) {
  int found = 0;
  pthread_mutex_lock(&reg_lock);
  reg_init_heads();
  for (reg_node *n = reg_head[REG_THREAD].next; n != &reg_head[REG_THREAD];
       n = n->next)
    if (n == &t->node) {
      found = 1;
      break;
    }
  pthread_mutex_unlock(&reg_lock);
  return found;
}

/* Joined records are not freed at once: malloc would hand the address to
 * the next erl_drv_thread_create, and a driver joining a stale tid (the
 * thread.bad_join defect) would then join that new, unrelated thread and
 * hang instead of being told. The last GRAVE_SLOTS records stay
 * allocated (and unregistered), so a stale tid stays unknown. */
#define GRAVE_SLOTS 4096
static struct ErlDrvTid_ *grave[GRAVE_SLOTS];
static unsigned grave_next;

static void bury(struct ErlDrvTid_ *t) {
  pthread_mutex_lock(&reg_lock);
  struct ErlDrvTid_ *old = grave[grave_next];
  grave[grave_next] = t;
  grave_next = (grave_next + 1) % GRAVE_SLOTS;
  pthread_mutex_unlock(&reg_lock);
  free(old);
}

int erl_drv_thread_join(ErlDrvTid tid, void **respp) {
  DC__API(erl_drv_thread_join);
  struct ErlDrvTid_ *t = (struct ErlDrvTid_ *)tid;
  if (!t || !thread_registered(t)) {
    /* ERTS: EINVAL for tids of threads it did not create; joined tids are
     * freed there (undefined), here they are simply unknown. */
    dc__flag(DC_RULE_THREAD_BAD_JOIN, "erl_drv_thread_join",
             "join of a thread id not created by erl_drv_thread_create, or "
             "already joined");
    return EINVAL;
  }
  if (t == self_tid) {
    dc__flag(DC_RULE_THREAD_BAD_JOIN, "erl_drv_thread_join",
             "a driver thread joins itself");
    return EDEADLK;
  }
  int rc = pthread_join(t->tid, respp);
  if (rc == 0) {
    reg_del(REG_THREAD, &t->node);
    bury(t);
  }
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Thread-specific data                                                      */

/* Key slots: name when in use, NULL when free. Key 0 is taken by the
 * emulator itself: on OTP 25 the first key a driver gets is 1 [OTP25 run]. */
#define MAX_TSD_KEYS 4096
static _Atomic(const char *) tsd_used[MAX_TSD_KEYS];
static const char tsd_emu_name[] = "erts internal";
static int tsd_nkeys; /* live driver keys; guarded by reg_lock */

static void tsd_check(ErlDrvTSDKey key, const char *fn) {
  if (key <= 0 || key >= MAX_TSD_KEYS || !atomic_load(&tsd_used[key]))
    fatal(fn, EINVAL);
}

int erl_drv_tsd_key_create(char *name, ErlDrvTSDKey *key) {
  DC__API(erl_drv_tsd_key_create);
  if (!key)
    fatal("erl_drv_tsd_key_create", EINVAL);
  const char *nm = no_name;
  if (name && !(nm = strdup(name))) {
    *key = -1;
    return ENOMEM;
  }
  int k;
  pthread_mutex_lock(&reg_lock);
  atomic_store(&tsd_used[0], tsd_emu_name);
  /* ERTS hands out the lowest free key, so keys are reused at once. */
  for (k = 1; k < MAX_TSD_KEYS && atomic_load(&tsd_used[k]); k++)
    ;
  if (k < MAX_TSD_KEYS) {
    atomic_store(&tsd_used[k], nm);
    tsd_nkeys++;
  }
  pthread_mutex_unlock(&reg_lock);
  if (k == MAX_TSD_KEYS) {
    if (nm != no_name)
      free((char *)nm);
    *key = -1;
    return ENOMEM;
  }
  *key = k;
  return 0;
}

/* The calling thread's value array, cleared when it predates a reset. */
static struct ErlDrvTid_ *tsd_self(int alloc) {
  struct ErlDrvTid_ *t =
      alloc ? (struct ErlDrvTid_ *)erl_drv_thread_self() : self_tid;
  if (t && t->tsd_gen != reg_gen) {
    if (t->tsd)
      memset(t->tsd, 0, (size_t)t->tsd_len * sizeof *t->tsd);
    t->tsd_gen = reg_gen;
  }
  return t;
}

void erl_drv_tsd_key_destroy(ErlDrvTSDKey key) {
  DC__API(erl_drv_tsd_key_destroy);
  tsd_check(key, "erl_drv_tsd_key_destroy");
  struct ErlDrvTid_ *t = tsd_self(0);
  if (t && key < t->tsd_len && t->tsd[key])
    dc__flag(DC_RULE_THREAD_DESTROY_BUSY, "erl_drv_tsd_key_destroy",
             "TSD key %d destroyed while the calling thread still has a "
             "value set (keys are reused at once)",
             key);
  pthread_mutex_lock(&reg_lock);
  const char *nm = atomic_exchange(&tsd_used[key], NULL);
  if (nm)
    tsd_nkeys--;
  pthread_mutex_unlock(&reg_lock);
  if (!nm)
    fatal("erl_drv_tsd_key_destroy", EINVAL); /* raced with another destroy */
  if (nm != no_name)
    free((char *)nm);
}

void erl_drv_tsd_set(ErlDrvTSDKey key, void *data) {
  DC__API(erl_drv_tsd_set);
  tsd_check(key, "erl_drv_tsd_set");
  struct ErlDrvTid_ *t = tsd_self(1);
  if (key >= t->tsd_len) {
    int len = key + 10; /* grow with slack, as ERTS does */
    void **v = realloc(t->tsd, (size_t)len * sizeof *v);
    if (!v)
      fatal("erl_drv_tsd_set", ENOMEM);
    memset(v + t->tsd_len, 0, (size_t)(len - t->tsd_len) * sizeof *v);
    t->tsd = v;
    t->tsd_len = len;
  }
  t->tsd[key] = data;
}

void *erl_drv_tsd_get(ErlDrvTSDKey key) {
  DC__API(erl_drv_tsd_get);
  tsd_check(key, "erl_drv_tsd_get");
  struct ErlDrvTid_ *t = tsd_self(0);
  return t && key < t->tsd_len ? t->tsd[key] : NULL;
}

/* ------------------------------------------------------------------------ */
/* Emulator hooks                                                            */

void dc__thread_live_counts(int *threads, int *locks) {
  pthread_mutex_lock(&reg_lock);
  if (threads)
    *threads = reg_count[REG_THREAD];
  if (locks)
    *locks = reg_count[REG_MUTEX] + reg_count[REG_COND] +
             reg_count[REG_RWLOCK] + tsd_nkeys;
  pthread_mutex_unlock(&reg_lock);
}

/* Forgets every registered object (the driver is gone); the memory of
 * objects still alive is deliberately leaked, as a driver may hold them. */
void dc__thread_reset(void) {
  pthread_mutex_lock(&reg_lock);
  for (int k = 0; k < REG_KINDS; k++) {
    reg_head[k].next = reg_head[k].prev = &reg_head[k];
    reg_count[k] = 0;
  }
  /* tsd_nkeys counts the used slots >= 1: stop after the last of them. */
  for (int k = 1, left = tsd_nkeys; k < MAX_TSD_KEYS && left > 0; k++) {
    const char *nm = atomic_exchange(&tsd_used[k], NULL);
    left -= nm != NULL;
    if (nm && nm != no_name)
      free((char *)nm); /* our copy, not the driver's */
  }
  tsd_nkeys = 0;
  reg_gen++;
  pthread_mutex_unlock(&reg_lock);
  nrheld = rheld_lost = 0;
  dc__lockdep_reset();
}
