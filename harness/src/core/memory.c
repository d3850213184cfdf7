/* driver_alloc / driver_realloc / driver_free through a tracking allocator,
 * and the block registry the binary and PDL code share.
 *
 * Every block handed to a driver starts with a dc__blk header and is entered
 * in a hash table keyed by the pointer the driver sees. Validation is a
 * table lookup, never a read before the driver's pointer, so a foreign or
 * garbage pointer is recognised without touching it and the harness
 * survives. The table is split into shards by address, each with its own
 * small lock, so threads allocating different blocks rarely meet (no global
 * lock). Each shard is an open-addressing table of (key, block) pairs: a
 * lookup compares keys in one contiguous array and reads the header of the
 * matching block only, never the (cold) headers of its neighbours.
 *
 * Released blocks are not returned at once: they stay in a small per-shard
 * FIFO quarantine marked FREED (contents poisoned), so a double free or a
 * use after free is told apart from a foreign pointer, and the address
 * cannot be recycled by the next driver_alloc while the mistake is likely.
 * A block leaving the quarantine goes to a per-thread pool of its size class
 * and serves a later allocation of that class without malloc/free; builds
 * with a sanitizer skip the pool (exact malloc sizes, every block freed), so
 * ASan/MSan keep seeing overflows, use after free and uninitialised reads of
 * driver memory. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NSHARDS 64
#define QCAP 8                /* quarantined blocks per shard */
#define QMAX_BYTES (16 << 10) /* larger blocks skip the quarantine */
/* ... and the bytes one shard's quarantine holds, about: 64 shards keep at
 * most ~512 KiB, which stays in cache. A longer quarantine (32 blocks a
 * shard, unbounded bytes) cycled megabytes of payload-sized binaries: each
 * allocation then began with cache misses on a cold recycled block, and
 * the sequencer ran ~10% slower (scripts/bench/sequencer). A double free
 * is still told apart for the next 8 frees of its shard (~500 frees in
 * all); sanitizer builds have ASan's own quarantine as well. */
#define QSHARD_BYTES (8 << 10)
#define QEVICT 4 /* oldest entries evicted per insert, at most */
#define POISON 0xDD
#define MAGIC_LIVE 0xA11C
#define MAGIC_FREED 0xDEAD
#define NKINDS 4

/* ------------------------------------------------------------------------ */
/* Locks                                                                     */

/* Registry critical sections are a few dozen instructions: a test-and-set
 * lock costs one atomic exchange and a plain store, about half of an
 * uncontended pthread mutex round trip, and needs no initialisation. A
 * waiter yields the CPU soon, as a preempted holder may need it. */
typedef struct spin {
  _Atomic int held;
} spin;

static void spin_wait(spin *l) {
  for (unsigned n = 0;; n++) {
    if (!atomic_load_explicit(&l->held, memory_order_relaxed) &&
        !atomic_exchange_explicit(&l->held, 1, memory_order_acquire))
      return;
    if (n >= 64)
      sched_yield();
  }
}

static inline void spin_lock(spin *l) {
  if (atomic_exchange_explicit(&l->held, 1, memory_order_acquire))
    spin_wait(l);
}

static inline void spin_unlock(spin *l) {
  atomic_store_explicit(&l->held, 0, memory_order_release);
}

/* ------------------------------------------------------------------------ */
/* Size-class pool                                                           */

#if DC__SAN_SLOWDOWN > 1 /* any sanitizer (internal.h) */
#define POOLED 0
#else
#define POOLED 1
#endif

/* Classes: 64 bytes, then four steps per power of two up to 32 KiB (at most
 * 25% slack). Class numbers start at 1; 0 means "plain malloc". */
#define NCLS 37
#define POOL_DEPTH 64 /* blocks kept per class and thread, at most */
/* ... and at most about this many bytes. */
#define POOL_CLASS_BYTES (128 << 10)

static unsigned class_of(size_t n) {
  if (n <= 64)
    return 1;
  size_t m = n - 1;
  unsigned e = 63u - (unsigned)__builtin_clzll((unsigned long long)m);
  if (e > 14)
    return 0;
  return 2 + (e - 6) * 4 + (unsigned)((m - ((size_t)1 << e)) >> (e - 2));
}

static size_t class_size(unsigned c) {
  if (c == 1)
    return 64;
  unsigned e = 6 + (c - 2) / 4, k = (c - 2) % 4;
  return ((size_t)1 << e) + ((size_t)(k + 1) << (e - 2));
}

static unsigned class_depth(unsigned c) {
  size_t d = POOL_CLASS_BYTES / class_size(c);
  return d < 8 ? 8 : d > POOL_DEPTH ? POOL_DEPTH : (unsigned)d;
}

/* Per-thread stacks of free blocks by class; owned by the thread, emptied
 * by a key destructor when it exits. Pointers only: a pooled block is not
 * touched until it is reused (it is cold by then anyway). */
typedef struct pool {
  unsigned n[NCLS + 1];
  void *stk[NCLS + 1][POOL_DEPTH];
} pool;

static _Thread_local pool *my_pool;
static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_drain(void *arg) {
  pool *p = arg;
  for (unsigned c = 1; c <= NCLS; c++)
    while (p->n[c])
      free(p->stk[c][--p->n[c]]);
  free(p);
  my_pool = NULL;
}

static void pool_key_init(void) { pthread_key_create(&pool_key, pool_drain); }

static pool *pool_get(void) {
  if (__builtin_expect(my_pool != NULL, 1))
    return my_pool;
  pthread_once(&pool_once, pool_key_init);
  pool *p = calloc(1, sizeof *p);
  if (p && pthread_setspecific(pool_key, p) != 0) {
    free(p);
    p = NULL;
  }
  return my_pool = p;
}

/* A block of class c (or plain, c == 0) leaves the registry for good. */
static void pool_put(void *b, unsigned c) {
  pool *p = c ? pool_get() : NULL;
  if (p && p->n[c] < class_depth(c))
    p->stk[c][p->n[c]++] = b;
  else
    free(b);
}

void *dc__blk_new(size_t bytes) {
  unsigned c = POOLED ? class_of(bytes) : 0;
  dc__blk *b = NULL;
  if (c) {
    pool *p = pool_get();
    if (p && p->n[c])
      b = p->stk[c][--p->n[c]];
    else
      b = malloc(class_size(c));
  } else {
    b = malloc(bytes < sizeof *b ? sizeof *b : bytes);
  }
  if (b)
    b->cls = (uint8_t)c;
  return b;
}

/* ------------------------------------------------------------------------ */
/* Shards                                                                    */

typedef struct slot {
  const void *key; /* NULL: empty */
  dc__blk *b;
} slot;

typedef struct qent {
  const void *key;
  dc__blk *b;
  uint32_t size;           /* block size, for the byte bound */
  unsigned char cls, kind; /* copied at retirement: eviction and reset
                              never read the (cold) block */
} qent;

typedef struct shard {
  _Alignas(64) spin mu;
  slot *tab;   /* open addressing, linear probing, power of two */
  size_t cap;  /* 0 until the first insert */
  size_t used; /* live + quarantined entries */
  size_t live[NKINDS], bytes[NKINDS];
  qent quar[QCAP]; /* FIFO of FREED entries, oldest at qhead */
  unsigned qhead, qlen;
  size_t qbytes; /* sum of their sizes */
} shard;

static shard shards[NSHARDS];
static _Atomic long fail_countdown;

/* Per kind, bit i set: shard i may hold entries of that kind (live or
 * quarantined). A shard's bit is only set or cleared under that shard's
 * lock, so counting and resets visit the few shards in use instead of all
 * 64 (a fuzz input touches a handful). Once set, a bit stays until reset:
 * the hot path reads it and writes it only on the shard's first block. */
static _Atomic uint64_t in_use[NKINDS];

static void mark_in_use(const shard *s, int kind) {
  uint64_t bit = (uint64_t)1 << (s - shards);
  if (!(atomic_load_explicit(&in_use[kind], memory_order_relaxed) & bit))
    atomic_fetch_or_explicit(&in_use[kind], bit, memory_order_relaxed);
}

static inline uint64_t mix(const void *key) {
  return (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull;
}

static inline shard *shard_of(const void *key) {
  return &shards[mix(key) >> 58]; /* top 6 bits: 64 shards */
}

/* The well-mixed bits just below the shard bits pick the home slot. */
static inline size_t home_of(const shard *s, const void *key) {
  return (size_t)(mix(key) >> 26) & (s->cap - 1);
}

static void put(shard *s, const void *key, dc__blk *b) {
  size_t m = s->cap - 1, i = home_of(s, key);
  while (s->tab[i].key)
    i = (i + 1) & m;
  s->tab[i].key = key;
  s->tab[i].b = b;
}

/* Doubles the table (load stays <= 1/2); returns 0, or -1 when out of
 * memory and no free slot would be left. */
static int grow(shard *s) {
  size_t n = s->cap ? s->cap * 2 : 64, old = s->cap;
  slot *t = calloc(n, sizeof *t), *ot = s->tab;
  if (!t)
    return s->used + 1 < s->cap ? 0 : -1; /* just fuller meanwhile */
  s->tab = t;
  s->cap = n;
  for (size_t i = 0; i < old; i++)
    if (ot[i].key)
      put(s, ot[i].key, ot[i].b);
  free(ot);
  return 0;
}

/* Removes the entry at `at` by shifting later entries of its probe run
 * back (no tombstones: lookups stay short however many frees happened). */
static void drop(shard *s, slot *at) {
  size_t m = s->cap - 1, i = (size_t)(at - s->tab), j = i;
  for (;;) {
    j = (j + 1) & m;
    if (!s->tab[j].key)
      break;
    size_t k = home_of(s, s->tab[j].key);
    /* s->tab[j] may fill the hole at i unless its home lies in (i, j]. */
    if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
      s->tab[i] = s->tab[j];
      i = j;
    }
  }
  s->tab[i].key = NULL;
  s->tab[i].b = NULL;
  s->used--;
}

/* Prefers a live entry: a quarantined entry may share its key with a live
 * one (a strict binary's page is unmapped at once and may come back). */
static slot *lookup(shard *s, const void *key, int kind) {
  if (!s->cap)
    return NULL;
  size_t m = s->cap - 1;
  slot *freed = NULL;
  for (size_t i = home_of(s, key); s->tab[i].key; i = (i + 1) & m) {
    if (s->tab[i].key != key || s->tab[i].b->kind != kind)
      continue;
    if (s->tab[i].b->state == DC__BLK_LIVE)
      return &s->tab[i];
    freed = &s->tab[i];
  }
  return freed;
}

/* The slot holding exactly b (for eviction: compares pointers only). */
static slot *slot_of(shard *s, const void *key, const dc__blk *b) {
  size_t m = s->cap - 1;
  for (size_t i = home_of(s, key); s->tab[i].key; i = (i + 1) & m)
    if (s->tab[i].b == b)
      return &s->tab[i];
  return NULL;
}

void dc__blk_add(dc__blk *b) {
  shard *s = shard_of(b->key);
  b->state = DC__BLK_LIVE;
  b->magic = MAGIC_LIVE;
  spin_lock(&s->mu);
  if ((s->used + 1) * 2 > s->cap && grow(s) != 0) {
    spin_unlock(&s->mu);
    abort(); /* no memory for a few table slots: nothing sane is left */
  }
  put(s, b->key, b);
  mark_in_use(s, b->kind);
  s->used++;
  s->live[b->kind]++;
  s->bytes[b->kind] += b->size;
  spin_unlock(&s->mu);
}

dc__blk *dc__blk_find(const void *key, int kind, int *state) {
  shard *s = shard_of(key);
  spin_lock(&s->mu);
  slot *at = lookup(s, key, kind);
  dc__blk *b = at ? at->b : NULL;
  if (state)
    *state = b ? b->state : 0;
  spin_unlock(&s->mu);
  return b;
}

/* How a block leaving the registry is given back: PDLs are plain malloc
 * blocks (queue.c); driver memory and binaries come from dc__blk_new. */
static unsigned char cls_of(const dc__blk *b) {
  return b->kind == DC__BLK_PDL ? 0 : b->cls;
}

/* Entries a retirement hands back, to be pooled outside the shard lock. */
typedef struct evicted {
  unsigned n;
  qent q[QEVICT];
} evicted;

static void release_evicted(const evicted *ev) {
  for (unsigned i = 0; i < ev->n; i++)
    pool_put(ev->q[i].b, ev->q[i].cls);
}

/* Puts a freed entry at the tail of the FIFO, first evicting the oldest
 * ones while the FIFO is full or over its bytes (at most QEVICT per call:
 * the bound is approached within a few frees, never overshot for long). */
static void quarantine(shard *s, const void *key, dc__blk *b, evicted *ev) {
  while (s->qlen && (s->qlen == QCAP || s->qbytes + b->size > QSHARD_BYTES) &&
         ev->n < QEVICT) {
    qent out = s->quar[s->qhead];
    drop(s, slot_of(s, out.key, out.b));
    s->qhead = (s->qhead + 1) % QCAP;
    s->qlen--;
    s->qbytes -= out.size;
    ev->q[ev->n++] = out;
  }
  /* A full FIFO always loses its oldest entry above: there is room. */
  s->quar[(s->qhead + s->qlen) % QCAP] =
      (qent){key, b, (uint32_t)b->size, cls_of(b), b->kind};
  s->qlen++;
  s->qbytes += b->size;
}

static void port_unlink(dc__blk *b);

/* Live -> freed under s->mu; ev gets the entries to release outside the
 * lock. */
static void retire(shard *s, slot *at, evicted *ev) {
  dc__blk *b = at->b;
  if (b->kind == DC__BLK_MEM)
    port_unlink(b);
  b->state = DC__BLK_FREED;
  b->magic = MAGIC_FREED;
  s->live[b->kind]--;
  s->bytes[b->kind] -= b->size;
  if (b->size > QMAX_BYTES) {
    ev->q[ev->n++] = (qent){at->key, b, (uint32_t)b->size, cls_of(b), b->kind};
    drop(s, at);
    return;
  }
  quarantine(s, at->key, b, ev);
}

int dc__blk_release(const void *key, int kind) {
  shard *s = shard_of(key);
  evicted ev = {0};
  spin_lock(&s->mu);
  slot *at = lookup(s, key, kind);
  int rc = !at ? -1 : at->b->state == DC__BLK_FREED ? 1 : 0;
  if (rc == 0)
    retire(s, at, &ev);
  spin_unlock(&s->mu);
  release_evicted(&ev);
  return rc;
}

/* A shard whose bit is clear holds no entry of kind: a block added there
 * after the mask was read is one this count could miss anyway (it walks
 * the shards one after another), and resets and unloads, which must be
 * exact, run with no driver code running. */
size_t dc__blk_live(int kind, size_t *bytes) {
  size_t n = 0, by = 0;
  uint64_t m = atomic_load_explicit(&in_use[kind], memory_order_acquire);
  for (; m; m &= m - 1) {
    int i = __builtin_ctzll(m);
    spin_lock(&shards[i].mu);
    n += shards[i].live[kind];
    by += shards[i].bytes[kind];
    spin_unlock(&shards[i].mu);
  }
  if (bytes)
    *bytes = by;
  return n;
}

/* Drops every entry of kind from shard s; quarantined ones are ours to
 * release, live ones belong to the driver and are only forgotten. */
static void reset_shard(shard *s, int kind) {
  unsigned keep = 0;
  qent kept[QCAP];
  for (unsigned i = 0; i < s->qlen; i++) {
    qent q = s->quar[(s->qhead + i) % QCAP];
    if (q.kind == kind) {
      drop(s, slot_of(s, q.key, q.b));
      pool_put(q.b, q.cls);
    } else {
      kept[keep++] = q;
    }
  }
  memcpy(s->quar, kept, keep * sizeof *kept);
  s->qhead = 0;
  s->qlen = keep;
  s->qbytes = 0;
  for (unsigned i = 0; i < keep; i++)
    s->qbytes += kept[i].size;
  /* What is left of kind in the table is its live blocks: none (the usual
   * case, the emulator resets before every fuzz input) needs no scan. A
   * drop shifts later entries into slot i, hence the inner loop. */
  for (size_t i = 0; s->live[kind] && i < s->cap; i++)
    while (s->tab[i].key && s->tab[i].b->kind == kind)
      drop(s, &s->tab[i]);
  s->live[kind] = 0;
  s->bytes[kind] = 0;
  atomic_fetch_and_explicit(&in_use[kind], ~((uint64_t)1 << (s - shards)),
                            memory_order_relaxed);
}

/* Only the shards marked in use can hold entries of kind (see in_use). */
void dc__blk_reset(int kind) {
  uint64_t m = atomic_load_explicit(&in_use[kind], memory_order_acquire);
  for (; m; m &= m - 1) {
    int i = __builtin_ctzll(m);
    spin_lock(&shards[i].mu);
    reset_shard(&shards[i], kind);
    spin_unlock(&shards[i].mu);
  }
}

/* ------------------------------------------------------------------------ */
/* Per-port block lists                                                      */

/* Header of a driver_alloc block: max_align_t keeps the payload 16-byte
 * aligned, as malloc's is. A block a port's callback allocated is also in
 * that port's list, so the checks at port stop visit only its blocks. */
typedef union mem_hdr {
  struct {
    dc__blk blk;                  /* first: a dc__blk * is a mem_hdr * */
    union mem_hdr *pprev, *pnext; /* owner's list, under its plock */
  };
  max_align_t align;
} mem_hdr;

/* Heads indexed by port, locks sharded by port. Lock order: a shard's mu,
 * then a plock (never the other way). */
#define NPLOCKS 64
static spin plocks[NPLOCKS];
static mem_hdr *port_head[DC__MAX_PORTS];
static _Atomic unsigned port_hi; /* 1 + highest index listed since reset */

static int listed(int owner) { return owner >= 0 && owner < DC__MAX_PORTS; }

static void port_link(mem_hdr *h) {
  int o = h->blk.owner;
  if (!listed(o))
    return;
  unsigned hi = atomic_load_explicit(&port_hi, memory_order_relaxed);
  while (hi <= (unsigned)o &&
         !atomic_compare_exchange_weak(&port_hi, &hi, (unsigned)o + 1))
    ;
  spin_lock(&plocks[o % NPLOCKS]);
  h->pprev = NULL;
  h->pnext = port_head[o];
  if (h->pnext)
    h->pnext->pprev = h;
  port_head[o] = h;
  spin_unlock(&plocks[o % NPLOCKS]);
}

/* Called with the block's shard lock held, while the block is still live
 * (the registry decides which of two racing frees wins). */
static void port_unlink(dc__blk *b) {
  mem_hdr *h = (mem_hdr *)b;
  int o = b->owner;
  if (!listed(o))
    return;
  spin_lock(&plocks[o % NPLOCKS]);
  if (h->pprev)
    h->pprev->pnext = h->pnext;
  else
    port_head[o] = h->pnext;
  if (h->pnext)
    h->pnext->pprev = h->pprev;
  spin_unlock(&plocks[o % NPLOCKS]);
}

/* ------------------------------------------------------------------------ */
/* Failing-allocation hook                                                   */

void dc__mem_fail_after(long n) { fail_countdown = n > 0 ? n : 0; }

int dc__mem_fail_now(void) {
  long v = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
  while (v > 0) {
    if (atomic_compare_exchange_weak(&fail_countdown, &v, v - 1))
      return v == 1;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* driver_alloc & co                                                         */

static int current_owner(void) {
  return dc__tls.port ? (int)dc__tls.port->idx : -1;
}

static void *user_of(mem_hdr *h) { return (char *)h + sizeof(mem_hdr); }

static void *alloc_block(size_t size, int owner, const void *site) {
  if (dc__mem_fail_now() || size > SIZE_MAX - sizeof(mem_hdr))
    return NULL;
  mem_hdr *h = dc__blk_new(sizeof(mem_hdr) + size);
  if (!h)
    return NULL;
  h->blk.key = user_of(h);
  h->blk.size = size;
  h->blk.site = site;
  h->blk.owner = owner;
  h->blk.kind = DC__BLK_MEM;
  port_link(h); /* before it is findable: no free can race with this */
  dc__blk_add(&h->blk);
  return user_of(h);
}

/* Poisons a block's payload before release so reads after free show. */
static void poison(void *ptr, size_t size) {
  if (size <= QMAX_BYTES)
    memset(ptr, POISON, size);
}

/* driver_free's registry work under one shard lock: poisons and retires a
 * live block (0), or says it was already freed (1) or is unknown (-1).
 * Poisoning happens under the lock: once retired, the block may leave the
 * quarantine through another thread's free and be reused. */
static int mem_release(void *ptr) {
  shard *s = shard_of(ptr);
  evicted ev = {0};
  spin_lock(&s->mu);
  slot *at = lookup(s, ptr, DC__BLK_MEM);
  int rc = !at ? -1 : at->b->state == DC__BLK_FREED ? 1 : 0;
  if (rc == 0) {
    poison(ptr, at->b->size);
    retire(s, at, &ev);
  }
  spin_unlock(&s->mu);
  release_evicted(&ev);
  return rc;
}

void *driver_alloc(ErlDrvSizeT size) {
  DC__API(driver_alloc);
  /* ERTS returns a valid (minimal) block for size 0 (OTP25 run). */
  return alloc_block(size, current_owner(), __builtin_return_address(0));
}

void driver_free(void *ptr) {
  DC__API(driver_free);
  if (!ptr) /* accepted by ERTS (OTP25 run) */
    return;
  int rc = mem_release(ptr);
  /* Bad pointers are reported and never passed to free(): the real
   * emulator would corrupt its allocator, the harness must go on. */
  if (rc == 1)
    dc__flag(DC_RULE_MEM_BAD_FREE, "driver_free",
             "%p was already freed (double free)", ptr);
  else if (rc < 0 && dc__blk_find(ptr, DC__BLK_BIN, NULL))
    dc__flag(DC_RULE_MEM_BAD_FREE, "driver_free",
             "%p is a driver binary (use driver_free_binary)", ptr);
  else if (rc < 0)
    dc__flag(DC_RULE_MEM_BAD_FREE, "driver_free",
             "%p was not returned by driver_alloc (or was freed long ago)",
             ptr);
}

void *driver_realloc(void *ptr, ErlDrvSizeT size) {
  DC__API(driver_realloc);
  const void *site = __builtin_return_address(0);
  if (!ptr)
    return alloc_block(size, current_owner(), site);
  int st = 0;
  dc__blk *old = dc__blk_find(ptr, DC__BLK_MEM, &st);
  if (!old || st != DC__BLK_LIVE) {
    dc__flag(DC_RULE_MEM_BAD_FREE, "driver_realloc", "%p %s", ptr,
             old ? "was already freed"
                 : "was not returned by driver_alloc (or was freed long ago)");
    return NULL; /* looks like OOM: the driver keeps its pointer */
  }
  /* Always moves (ERTS may): drivers must use the returned pointer, and the
   * old one stays quarantined so later use of it is caught. Size 0 gives a
   * valid minimal block as in ERTS (alloc_util: ALLOC_ZERO_EQ_NULL is 0). */
  void *nptr = alloc_block(size, old->owner, site);
  if (!nptr)
    return NULL; /* the old block stays valid, as with realloc() */
  memcpy(nptr, ptr, old->size < size ? old->size : size);
  poison(ptr, old->size);
  dc__blk_release(ptr, DC__BLK_MEM);
  return nptr;
}

/* ------------------------------------------------------------------------ */
/* Emulator-side views                                                       */

size_t dc__mem_live_count(size_t *bytes) {
  return dc__blk_live(DC__BLK_MEM, bytes);
}

int dc__mem_valid(const void *ptr) {
  int st = 0;
  return ptr && dc__blk_find(ptr, DC__BLK_MEM, &st) && st == DC__BLK_LIVE;
}

int dc__mem_info(const void *ptr, size_t *size, int *owner, const void **site) {
  shard *s = shard_of(ptr);
  spin_lock(&s->mu);
  slot *at = lookup(s, ptr, DC__BLK_MEM);
  dc__blk *b = at ? at->b : NULL;
  int ok = b && b->state == DC__BLK_LIVE;
  if (ok) {
    if (size)
      *size = b->size;
    if (owner)
      *owner = b->owner;
    if (site)
      *site = b->site;
  }
  spin_unlock(&s->mu);
  return ok ? 0 : -1;
}

void dc__mem_foreach(void (*fn)(void *arg, const void *ptr, size_t size,
                                int owner, const void *site),
                     void *arg) {
  for (int i = 0; i < NSHARDS; i++) {
    shard *s = &shards[i];
    spin_lock(&s->mu);
    for (size_t k = 0; k < s->cap; k++) {
      dc__blk *b = s->tab[k].b;
      if (b && b->kind == DC__BLK_MEM && b->state == DC__BLK_LIVE)
        fn(arg, b->key, b->size, b->owner, b->site);
    }
    spin_unlock(&s->mu);
  }
}

void dc__mem_foreach_port(int port,
                          void (*fn)(void *arg, const void *ptr, size_t size,
                                     int owner, const void *site),
                          void *arg) {
  if (!listed(port))
    return;
  spin_lock(&plocks[port % NPLOCKS]);
  for (mem_hdr *h = port_head[port]; h; h = h->pnext)
    fn(arg, h->blk.key, h->blk.size, h->blk.owner, h->blk.site);
  spin_unlock(&plocks[port % NPLOCKS]);
}

/* Forgets the lists (the blocks are the driver's); O(ports used). */
static void ports_reset(void) {
  unsigned hi = atomic_exchange(&port_hi, 0);
  memset(port_head, 0, hi * sizeof *port_head);
}

void dc__mem_reset(void) {
  ports_reset();
  dc__blk_reset(DC__BLK_MEM);
  fail_countdown = 0;
}
