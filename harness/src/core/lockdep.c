/* Lock dependency checking for driver locks (thread.lock_order) and locks
 * left held when a callback returns (thread.lock_held_on_return).
 *
 * Lockdep style: every blocking acquire of lock B while this thread holds
 * lock A records the edge A -> B in a global graph whose nodes are the lock
 * objects. Adding A -> B when B already reaches A (directly: B -> A, or
 * through other locks) closes a cycle: some interleaving of the threads
 * that took those orders deadlocks, even if this run did not. The
 * inverting edge is reported and kept as known but never followed, so each
 * cycle is reported once.
 *
 * Cost: the common case -- an edge this thread has seen before -- is a
 * lookup in a small per-thread direct-mapped cache, no global lock. A new
 * edge takes the graph lock and runs a DFS over the (small) graph. The
 * cache is invalidated by a generation count when a lock is destroyed,
 * because its address may be reused by an unrelated lock.
 *
 * Read acquisitions of rwlocks create no edge INTO the lock (readers share
 * it, so R(read) after M and M after R(read) cannot deadlock on their own);
 * edges FROM a read-held lock are kept. Trylocks never wait: no edge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_NODES 2048 /* hash slots; a full graph stops growing (no FP) */
#define MAX_HELD 32
#define CACHE 64

typedef struct edge {
  struct node *to;
  const void *site; /* where the order was first seen */
  int inverting;    /* reported inversion: kept so it is known, never
                       followed (the graph itself stays acyclic) */
} edge;

typedef struct node {
  const void *lock;
  char name[48];
  edge *out;
  int nout, cap;
  unsigned mark;       /* DFS epoch */
  struct node *parent; /* DFS tree, for the cycle message */
} node;

#define TOMB ((node *)1)

static pthread_mutex_t graph_lock = PTHREAD_MUTEX_INITIALIZER;
static node *table[MAX_NODES];
/* Slots filled since the last reset (0: the table is all NULL, so the
 * reset before every fuzz input need not scan it). */
static size_t nfilled;
static unsigned epoch;
static _Atomic unsigned edge_gen = 1, reset_gen = 1;

typedef struct held_lock {
  const void *lock;
  const char *name;
  const void *site;
  unsigned cb; /* callback sequence it was taken in, 0 outside callbacks */
} held_lock;

static _Thread_local held_lock held[MAX_HELD];
static _Thread_local int nheld, nlost;
static _Thread_local unsigned held_gen, cur_cb, cb_counter;
static _Thread_local struct { const void *a, *b; } cache[CACHE];
static _Thread_local unsigned cache_gen;

/* Drops thread-local state that predates a reset or a forget. */
static void sync_thread(void) {
  unsigned rg = atomic_load_explicit(&reset_gen, memory_order_acquire);
  if (held_gen != rg) {
    nheld = nlost = 0;
    held_gen = rg;
  }
  unsigned eg = atomic_load_explicit(&edge_gen, memory_order_acquire);
  if (cache_gen != eg) {
    memset(cache, 0, sizeof cache);
    cache_gen = eg;
  }
}

static unsigned hash2(const void *a, const void *b) {
  uintptr_t h = (uintptr_t)a * 0x9E3779B97F4A7C15ull ^ (uintptr_t)b;
  return (unsigned)((h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ull >> 40) % CACHE;
}

/* ------------------------------------------------------------------------ */
/* The graph (graph_lock held)                                               */

static size_t slot_of(const void *lock) {
  return (size_t)(((uintptr_t)lock >> 4) * 0x9E3779B97F4A7C15ull >> 32) %
         MAX_NODES;
}

/* The node of lock, created when `make`; NULL when absent or full. */
static node *node_get(const void *lock, const char *name, int make) {
  size_t i = slot_of(lock), free_at = MAX_NODES;
  for (size_t n = 0; n < MAX_NODES; n++, i = (i + 1) % MAX_NODES) {
    node *x = table[i];
    if (!x)
      break;
    if (x == TOMB) {
      if (free_at == MAX_NODES)
        free_at = i;
    } else if (x->lock == lock) {
      return x;
    }
  }
  if (!make)
    return NULL;
  if (free_at == MAX_NODES && !table[i])
    free_at = i;
  if (free_at == MAX_NODES)
    return NULL;
  node *x = calloc(1, sizeof *x);
  if (!x)
    return NULL;
  x->lock = lock;
  snprintf(x->name, sizeof x->name, "%s", name ? name : "unnamed");
  table[free_at] = x;
  nfilled++;
  return x;
}

static int has_edge(const node *a, const node *b) {
  for (int i = 0; i < a->nout; i++)
    if (a->out[i].to == b)
      return 1;
  return 0;
}

static void add_edge(node *a, node *b, const void *site, int inverting) {
  if (a->nout == a->cap) {
    int cap = a->cap ? a->cap * 2 : 4;
    edge *e = realloc(a->out, (size_t)cap * sizeof *e);
    if (!e)
      return;
    a->out = e;
    a->cap = cap;
  }
  a->out[a->nout++] = (edge){b, site, inverting};
}

/* Depth-first search from `from` for `to`; parents are left in the nodes. */
static int reaches(node *from, node *to) {
  from->mark = epoch;
  if (from == to)
    return 1;
  for (int i = 0; i < from->nout; i++) {
    node *n = from->out[i].to;
    if (n->mark == epoch || from->out[i].inverting)
      continue;
    n->parent = from;
    if (reaches(n, to))
      return 1;
  }
  return 0;
}

static const void *edge_site(const node *a, const node *b) {
  for (int i = 0; i < a->nout; i++)
    if (a->out[i].to == b && !a->out[i].inverting)
      return a->out[i].site;
  return NULL;
}

/* held -> taken closes a cycle taken -> ... -> held: names the path. */
static void report_cycle(node *h, node *t, const char *api, const void *site) {
  char path[200] = "", where[96];
  size_t at = 0;
  for (node *n = h; n && n != t && at < sizeof path; n = n->parent)
    at += (size_t)snprintf(path + at, sizeof path - at, "'%s' <- ", n->name);
  if (at < sizeof path)
    snprintf(path + at, sizeof path - at, "'%s'", t->name);
  /* The last edge of the old path, into the lock held now. */
  dc__describe_site(h->parent ? edge_site(h->parent, h) : NULL, where,
                    sizeof where);
  dc__flag_at(DC_RULE_THREAD_LOCK_ORDER, api, site,
              "lock '%s' taken while holding '%s', but the opposite order "
              "was taken before (%s%s%s): a deadlock is possible",
              t->name, h->name, path, where[0] ? " at " : "", where);
}

static void new_edge(const held_lock *h, const void *lock, const char *name,
                     const char *api, const void *site) {
  pthread_mutex_lock(&graph_lock);
  node *a = node_get(h->lock, h->name, 1), *b = node_get(lock, name, 1);
  if (a && b && !has_edge(a, b)) {
    epoch++;
    b->parent = NULL;
    int cycle = reaches(b, a);
    if (cycle)
      report_cycle(a, b, api, site);
    add_edge(a, b, site, cycle); /* known from now on: reported once */
  }
  pthread_mutex_unlock(&graph_lock);
}

/* ------------------------------------------------------------------------ */
/* Hooks                                                                     */

void dc__lockdep_wait(const void *lock, const char *name, int read,
                      const char *api, const void *site) {
  sync_thread();
  if (read)
    return;
  for (int i = 0; i < nheld; i++) {
    if (held[i].lock == lock)
      continue;
    unsigned k = hash2(held[i].lock, lock);
    if (cache[k].a == held[i].lock && cache[k].b == lock)
      continue; /* known: no global lock */
    new_edge(&held[i], lock, name, api, site);
    cache[k].a = held[i].lock;
    cache[k].b = lock;
  }
}

void dc__lockdep_acquired(const void *lock, const char *name,
                          const void *site) {
  sync_thread();
  if (nheld == MAX_HELD) {
    nlost++;
    return;
  }
  held[nheld++] = (held_lock){lock, name, site, cur_cb};
}

void dc__lockdep_released(const void *lock) {
  sync_thread();
  for (int i = nheld - 1; i >= 0; i--)
    if (held[i].lock == lock) {
      memmove(&held[i], &held[i + 1], (size_t)(nheld - i - 1) * sizeof *held);
      nheld--;
      return;
    }
  if (nlost)
    nlost--;
}

static void drop_node(node *x) {
  for (size_t i = 0; i < MAX_NODES; i++) {
    node *n = table[i];
    if (!n || n == TOMB)
      continue;
    for (int j = 0; j < n->nout; j++)
      if (n->out[j].to == x)
        n->out[j--] = n->out[--n->nout];
  }
  free(x->out);
  free(x);
}

void dc__lockdep_forget(const void *lock) {
  pthread_mutex_lock(&graph_lock);
  node *x = node_get(lock, NULL, 0);
  if (x) {
    for (size_t i = 0; i < MAX_NODES; i++)
      if (table[i] == x)
        table[i] = TOMB;
    drop_node(x);
    atomic_fetch_add(&edge_gen, 1);
  }
  pthread_mutex_unlock(&graph_lock);
}

void dc__lockdep_cb_enter(void) {
  sync_thread();
  cur_cb = ++cb_counter ? cb_counter : ++cb_counter; /* never 0 */
}

void dc__lockdep_cb_leave(void) {
  sync_thread();
  for (int i = 0; i < nheld; i++) {
    if (!cur_cb || held[i].cb != cur_cb)
      continue;
    held[i].cb = 0; /* reported once */
    dc__flag_at(DC_RULE_THREAD_LOCK_HELD_ON_RETURN, "", held[i].site,
                "callback returned while holding lock '%s' it took",
                held[i].name ? held[i].name : "unnamed");
  }
  cur_cb = 0;
}

void dc__lockdep_reset(void) {
  pthread_mutex_lock(&graph_lock);
  for (size_t i = 0; nfilled && i < MAX_NODES; i++) {
    node *n = table[i];
    if (n && n != TOMB) {
      free(n->out);
      free(n);
    }
    table[i] = NULL;
  }
  nfilled = 0;
  atomic_fetch_add(&edge_gen, 1);
  atomic_fetch_add(&reset_gen, 1);
  pthread_mutex_unlock(&graph_lock);
  nheld = nlost = 0;
  cur_cb = 0;
}
