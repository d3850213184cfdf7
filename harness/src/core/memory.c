/* driver_alloc / driver_realloc / driver_free through a tracking allocator,
 * and the block registry the binary and PDL code share.
 *
 * Every block handed to a driver starts with a dc__blk header and is entered
 * in a hash table keyed by the pointer the driver sees. Validation is a
 * table lookup, never a read before the driver's pointer, so a foreign or
 * garbage pointer is recognised without touching it and the harness
 * survives. The table is split into shards by address, each with its own
 * mutex, so threads allocating different blocks rarely meet (no global lock).
 *
 * Released blocks are not returned to libc at once: they stay in a small
 * per-shard quarantine marked FREED (contents poisoned), so a double free or
 * a use after free is told apart from a foreign pointer, and the address
 * cannot be recycled by the next driver_alloc while the mistake is likely. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NSHARDS 64
#define QCAP 32               /* quarantined blocks per shard */
#define QMAX_BYTES (16 << 10) /* larger blocks skip the quarantine */
#define POISON 0xDD
#define MAGIC_LIVE 0xA11C
#define MAGIC_FREED 0xDEAD
#define NKINDS 4

typedef struct shard {
  pthread_mutex_t mu;
  dc__blk **tab;    /* buckets, power of two */
  size_t nbuckets;  /* 0 until the first insert */
  size_t entries;   /* live + quarantined */
  size_t live[NKINDS], bytes[NKINDS];
  dc__blk *quar[QCAP]; /* ring of FREED entries, oldest at qhead */
  unsigned qhead, qlen;
} shard;

static shard shards[NSHARDS];
static pthread_once_t shards_once = PTHREAD_ONCE_INIT;
static _Atomic long fail_countdown;

/* Header of a driver_alloc block: max_align_t keeps the payload 16-byte
 * aligned, as malloc's is. A block a port's callback allocated is also in
 * that port's list, so the checks at port stop visit only its blocks. */
typedef union mem_hdr {
  struct {
    dc__blk blk;                 /* first: a dc__blk * is a mem_hdr * */
    union mem_hdr *pprev, *pnext; /* owner's list, under its plock */
  };
  max_align_t align;
} mem_hdr;

/* Per-port block lists: heads indexed by port, locks sharded by port.
 * Lock order: a shard's mu, then a plock (never the other way). */
#define NPLOCKS 64
static pthread_mutex_t plocks[NPLOCKS];
static mem_hdr *port_head[DC__MAX_PORTS];
static _Atomic unsigned port_hi; /* 1 + highest index listed since reset */

static void shards_init(void) {
  for (int i = 0; i < NSHARDS; i++)
    pthread_mutex_init(&shards[i].mu, NULL);
  for (int i = 0; i < NPLOCKS; i++)
    pthread_mutex_init(&plocks[i], NULL);
}

static int listed(int owner) {
  return owner >= 0 && owner < DC__MAX_PORTS;
}

static void port_link(mem_hdr *h) {
  int o = h->blk.owner;
  if (!listed(o))
    return;
  pthread_once(&shards_once, shards_init);
  unsigned hi = atomic_load_explicit(&port_hi, memory_order_relaxed);
  while (hi <= (unsigned)o &&
         !atomic_compare_exchange_weak(&port_hi, &hi, (unsigned)o + 1))
    ;
  pthread_mutex_lock(&plocks[o % NPLOCKS]);
  h->pprev = NULL;
  h->pnext = port_head[o];
  if (h->pnext)
    h->pnext->pprev = h;
  port_head[o] = h;
  pthread_mutex_unlock(&plocks[o % NPLOCKS]);
}

/* Called with the block's shard lock held, while the block is still live
 * (the registry decides which of two racing frees wins). */
static void port_unlink(mem_hdr *h) {
  int o = h->blk.owner;
  if (!listed(o))
    return;
  pthread_mutex_lock(&plocks[o % NPLOCKS]);
  if (h->pprev)
    h->pprev->pnext = h->pnext;
  else
    port_head[o] = h->pnext;
  if (h->pnext)
    h->pnext->pprev = h->pprev;
  pthread_mutex_unlock(&plocks[o % NPLOCKS]);
}

static uint64_t mix(const void *key) {
  return (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull;
}

static shard *shard_of(const void *key) {
  pthread_once(&shards_once, shards_init);
  return &shards[mix(key) >> 58]; /* top 6 bits: 64 shards */
}

static size_t bucket_of(const shard *s, const void *key) {
  return (size_t)(mix(key) >> 20) & (s->nbuckets - 1);
}

/* Puts b at the head of the chain starting at *slot. */
static void chain_push(dc__blk **slot, dc__blk *b) {
  b->next = *slot;
  b->pprev = slot;
  if (b->next)
    b->next->pprev = &b->next;
  *slot = b;
}

/* Doubles the bucket array; on allocation failure keeps the old one (the
 * chains just get longer). */
static void grow(shard *s) {
  size_t n = s->nbuckets ? s->nbuckets * 2 : 64;
  dc__blk **t = calloc(n, sizeof *t);
  if (!t)
    return;
  size_t old = s->nbuckets;
  dc__blk **ot = s->tab;
  s->tab = t;
  s->nbuckets = n;
  for (size_t i = 0; i < old; i++) {
    for (dc__blk *b = ot[i], *nx; b; b = nx) {
      nx = b->next;
      chain_push(&t[bucket_of(s, b->key)], b);
    }
  }
  free(ot);
}

/* O(1) through the back link: no walk over other (cold) blocks' headers. */
static void unlink_blk(shard *s, dc__blk *b) {
  *b->pprev = b->next;
  if (b->next)
    b->next->pprev = b->pprev;
  s->entries--;
}

/* Prefers a live entry: a quarantined entry may share its key with a live
 * one when libc reused an address that left the quarantine earlier. */
static dc__blk *lookup(shard *s, const void *key, int kind) {
  if (!s->nbuckets)
    return NULL;
  dc__blk *freed = NULL;
  for (dc__blk *b = s->tab[bucket_of(s, key)]; b; b = b->next) {
    if (b->key != key || b->kind != kind)
      continue;
    if (b->state == DC__BLK_LIVE)
      return b;
    freed = b;
  }
  return freed;
}

void dc__blk_add(dc__blk *b) {
  shard *s = shard_of(b->key);
  b->state = DC__BLK_LIVE;
  b->magic = MAGIC_LIVE;
  pthread_mutex_lock(&s->mu);
  if (s->entries >= s->nbuckets * 2)
    grow(s);
  chain_push(&s->tab[bucket_of(s, b->key)], b);
  s->entries++;
  s->live[b->kind]++;
  s->bytes[b->kind] += b->size;
  pthread_mutex_unlock(&s->mu);
}

dc__blk *dc__blk_find(const void *key, int kind, int *state) {
  shard *s = shard_of(key);
  pthread_mutex_lock(&s->mu);
  dc__blk *b = lookup(s, key, kind);
  if (state)
    *state = b ? b->state : 0;
  pthread_mutex_unlock(&s->mu);
  return b;
}

/* Puts a freed entry in the ring; returns the evicted oldest one (to be
 * freed by the caller outside the lock), or NULL. */
static dc__blk *quarantine(shard *s, dc__blk *b) {
  dc__blk *out = NULL;
  if (s->qlen == QCAP) {
    out = s->quar[s->qhead];
    unlink_blk(s, out);
    s->qhead = (s->qhead + 1) % QCAP;
    s->qlen--;
  }
  s->quar[(s->qhead + s->qlen) % QCAP] = b;
  s->qlen++;
  return out;
}

/* Live -> freed under s->mu; returns the entry to free outside the lock. */
static dc__blk *retire(shard *s, dc__blk *b) {
  if (b->kind == DC__BLK_MEM)
    port_unlink((mem_hdr *)b);
  b->state = DC__BLK_FREED;
  b->magic = MAGIC_FREED;
  s->live[b->kind]--;
  s->bytes[b->kind] -= b->size;
  if (b->size > QMAX_BYTES) {
    unlink_blk(s, b);
    return b;
  }
  return quarantine(s, b);
}

int dc__blk_release(const void *key, int kind) {
  shard *s = shard_of(key);
  dc__blk *evict = NULL;
  pthread_mutex_lock(&s->mu);
  dc__blk *b = lookup(s, key, kind);
  int rc = !b ? -1 : b->state == DC__BLK_FREED ? 1 : 0;
  if (rc == 0)
    evict = retire(s, b);
  pthread_mutex_unlock(&s->mu);
  free(evict);
  return rc;
}

size_t dc__blk_live(int kind, size_t *bytes) {
  size_t n = 0, by = 0;
  pthread_once(&shards_once, shards_init);
  for (int i = 0; i < NSHARDS; i++) {
    pthread_mutex_lock(&shards[i].mu);
    n += shards[i].live[kind];
    by += shards[i].bytes[kind];
    pthread_mutex_unlock(&shards[i].mu);
  }
  if (bytes)
    *bytes = by;
  return n;
}

/* Drops every entry of kind from shard s; quarantined ones are ours to
 * free, live ones belong to the driver and are only forgotten. */
static void reset_shard(shard *s, int kind) {
  if (!s->qlen && !s->live[kind]) { /* nothing of any kind to drop */
    s->bytes[kind] = 0;
    return;
  }
  unsigned keep = 0;
  dc__blk *kept[QCAP];
  for (unsigned i = 0; i < s->qlen; i++) {
    dc__blk *b = s->quar[(s->qhead + i) % QCAP];
    if (b->kind == kind) {
      unlink_blk(s, b);
      free(b);
    } else {
      kept[keep++] = b;
    }
  }
  memcpy(s->quar, kept, keep * sizeof *kept);
  s->qhead = 0;
  s->qlen = keep;
  /* What is left of kind in the table is its live blocks: none (the usual
   * case, the emulator resets before every fuzz input) needs no scan. */
  for (size_t i = 0; s->live[kind] && i < s->nbuckets; i++) {
    for (dc__blk **pp = &s->tab[i]; *pp;) {
      if ((*pp)->kind == kind) {
        *pp = (*pp)->next;
        if (*pp)
          (*pp)->pprev = pp;
        s->entries--;
      } else {
        pp = &(*pp)->next;
      }
    }
  }
  s->live[kind] = 0;
  s->bytes[kind] = 0;
}

void dc__blk_reset(int kind) {
  pthread_once(&shards_once, shards_init);
  for (int i = 0; i < NSHARDS; i++) {
    pthread_mutex_lock(&shards[i].mu);
    reset_shard(&shards[i], kind);
    pthread_mutex_unlock(&shards[i].mu);
  }
}

/* ------------------------------------------------------------------------ */
/* Failing-allocation hook                                                   */

void dc__mem_fail_after(long n) { fail_countdown = n > 0 ? n : 0; }

int dc__mem_fail_now(void) {
  long v = fail_countdown;
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
  mem_hdr *h = malloc(sizeof(mem_hdr) + size);
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
 * live block (0), or says it was already freed (1) or is unknown (-1). */
static int mem_release(void *ptr) {
  shard *s = shard_of(ptr);
  dc__blk *evict = NULL;
  pthread_mutex_lock(&s->mu);
  dc__blk *b = lookup(s, ptr, DC__BLK_MEM);
  int rc = !b ? -1 : b->state == DC__BLK_FREED ? 1 : 0;
  if (rc == 0) {
    poison(ptr, b->size);
    evict = retire(s, b);
  }
  pthread_mutex_unlock(&s->mu);
  free(evict);
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

int dc__mem_info(const void *ptr, size_t *size, int *owner,
                 const void **site) {
  shard *s = shard_of(ptr);
  pthread_mutex_lock(&s->mu);
  dc__blk *b = lookup(s, ptr, DC__BLK_MEM);
  int ok = b && b->state == DC__BLK_LIVE;
  if (ok) {
    if (size)
      *size = b->size;
    if (owner)
      *owner = b->owner;
    if (site)
      *site = b->site;
  }
  pthread_mutex_unlock(&s->mu);
  return ok ? 0 : -1;
}

void dc__mem_foreach(void (*fn)(void *arg, const void *ptr, size_t size,
                                int owner, const void *site),
                     void *arg) {
  pthread_once(&shards_once, shards_init);
  for (int i = 0; i < NSHARDS; i++) {
    shard *s = &shards[i];
    pthread_mutex_lock(&s->mu);
    for (size_t k = 0; k < s->nbuckets; k++)
      for (dc__blk *b = s->tab[k]; b; b = b->next)
        if (b->kind == DC__BLK_MEM && b->state == DC__BLK_LIVE)
          fn(arg, b->key, b->size, b->owner, b->site);
    pthread_mutex_unlock(&s->mu);
  }
}

void dc__mem_foreach_port(int port,
                          void (*fn)(void *arg, const void *ptr, size_t size,
                                     int owner, const void *site),
                          void *arg) {
  if (!listed(port))
    return;
  pthread_once(&shards_once, shards_init);
  pthread_mutex_lock(&plocks[port % NPLOCKS]);
  for (mem_hdr *h = port_head[port]; h; h = h->pnext)
    fn(arg, h->blk.key, h->blk.size, h->blk.owner, h->blk.site);
  pthread_mutex_unlock(&plocks[port % NPLOCKS]);
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
