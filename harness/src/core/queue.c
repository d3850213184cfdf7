/* The driver queue (driver_enq & co) and the port data lock (driver_pdl_*).
 *
 * Each port's queue is a dc__ioq: one contiguous SysIOVec array plus the
 * parallel ErlDrvBinary* array, with slack kept at both ends so that
 * driver_peekq/driver_peekqv can hand out pointers INTO the queue (as ERTS
 * does) and both enq and pushq are O(1) amortized. Every queued segment is
 * held by a reference to a driver binary; plain buffers are first copied
 * into a fresh binary, exactly like erts/emulator/beam/erl_io_queue.c.
 *
 * Queue functions are TS(PDL): with the port data lock held they may run on
 * any thread, so nothing here takes a global lock. Besides the PDL the
 * driver is supposed to hold, each queue operation takes a striped internal
 * lock (by port index) so that a racy driver -- reported as queue.no_pdl --
 * cannot corrupt the harness's own structures. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define QLOCKS 64
#define MIN_SLOTS 16

/* The ErlDrvPDL (opaque in erl_driver.h). Starts with its registry entry so
 * stale handles are recognised; the registry frees it after quarantine. */
struct erl_drv_port_data_lock {
  dc__blk blk;
  pthread_mutex_t mu;
  _Atomic ErlDrvSInt refc;
  _Atomic uintptr_t owner; /* thread holding mu (its self_tag), or 0 */
};

static pthread_mutex_t qlocks[QLOCKS];
static pthread_once_t qlocks_once = PTHREAD_ONCE_INIT;
static _Thread_local char self_tag; /* its address identifies the thread */
#define SELF ((uintptr_t)&self_tag)

static void qlocks_init(void) {
  for (int i = 0; i < QLOCKS; i++)
    pthread_mutex_init(&qlocks[i], NULL);
}

static pthread_mutex_t *qlock_of(const dc__port *p) {
  pthread_once(&qlocks_once, qlocks_init);
  return &qlocks[p->idx % QLOCKS];
}

static ErlDrvPDL port_pdl(dc__port *p) {
  return __atomic_load_n(&p->pdl, __ATOMIC_ACQUIRE);
}

/* ------------------------------------------------------------------------ */
/* Port data lock                                                            */

static int pdl_valid(ErlDrvPDL pdl) {
  int st = 0;
  return pdl && dc__blk_find(pdl, DC__BLK_PDL, &st) && st == DC__BLK_LIVE;
}

static void pdl_destroy(ErlDrvPDL pdl) {
  dc__lockdep_forget(pdl); /* the address may be reused by another lock */
  pthread_mutex_destroy(&pdl->mu);
  dc__blk_release(pdl, DC__BLK_PDL);
}

static void pdl_drop(ErlDrvPDL pdl) {
  if (atomic_fetch_sub(&pdl->refc, 1) == 1)
    pdl_destroy(pdl);
}

/* Lock/unlock without checks; the lock holds a temporary reference, as
 * ERTS's driver_pdl_lock does, so the PDL survives the port meanwhile. */
static void pdl_take(ErlDrvPDL pdl) {
  atomic_fetch_add(&pdl->refc, 1);
  pthread_mutex_lock(&pdl->mu);
  pdl->owner = SELF;
}

static void pdl_give(ErlDrvPDL pdl) {
  pdl->owner = 0;
  pthread_mutex_unlock(&pdl->mu);
  pdl_drop(pdl);
}

ErlDrvPDL driver_pdl_create(ErlDrvPort port) {
  dc__port *p = DC__API_PORT(driver_pdl_create, port);
  if (!p || port_pdl(p)) /* NULL if invalid port or a PDL exists (OTP25 run) */
    return NULL;
  ErlDrvPDL pdl = malloc(sizeof *pdl);
  if (!pdl)
    return NULL;
  pthread_mutex_init(&pdl->mu, NULL);
  pdl->refc = 1; /* the port's reference, dropped at termination */
  pdl->owner = 0;
  pdl->blk.key = pdl;
  pdl->blk.size = sizeof *pdl;
  pdl->blk.site = __builtin_return_address(0);
  pdl->blk.owner = (int)p->idx;
  pdl->blk.kind = DC__BLK_PDL;
  dc__blk_add(&pdl->blk);
  ErlDrvPDL none = NULL;
  if (!__atomic_compare_exchange_n(&p->pdl, &none, pdl, 0, __ATOMIC_ACQ_REL,
                                   __ATOMIC_ACQUIRE)) {
    pdl_destroy(pdl); /* lost a race with another create */
    return NULL;
  }
  return pdl;
}

void driver_pdl_lock(ErlDrvPDL pdl) {
  DC__API(driver_pdl_lock);
  if (!pdl_valid(pdl))
    return;
  if (pdl->owner == SELF) {
    /* ERTS would deadlock here; report and carry on without relocking. */
    dc__flag(DC_RULE_THREAD_RELOCK, "driver_pdl_lock",
             "port data lock %p is already held by this thread", (void *)pdl);
    return;
  }
  const void *site = __builtin_return_address(0);
  dc__lockdep_wait(pdl, "port data lock", 0, "driver_pdl_lock",
                   site); /* thread.lock_order */
  pdl_take(pdl);
  dc__lockdep_acquired(pdl, "port data lock", site);
}

void driver_pdl_unlock(ErlDrvPDL pdl) {
  DC__API(driver_pdl_unlock);
  if (!pdl_valid(pdl))
    return;
  if (pdl->owner != SELF) {
    dc__flag(DC_RULE_THREAD_UNLOCK_NOT_OWNER, "driver_pdl_unlock",
             "port data lock %p is not held by this thread", (void *)pdl);
    return;
  }
  dc__lockdep_released(pdl);
  pdl_give(pdl); /* may destroy it: unlock drops the lock's reference */
}

ErlDrvSInt driver_pdl_get_refc(ErlDrvPDL pdl) {
  DC__API(driver_pdl_get_refc);
  return pdl_valid(pdl) ? pdl->refc : 0;
}

ErlDrvSInt driver_pdl_inc_refc(ErlDrvPDL pdl) {
  DC__API(driver_pdl_inc_refc);
  return pdl_valid(pdl) ? atomic_fetch_add(&pdl->refc, 1) + 1 : 0;
}

ErlDrvSInt driver_pdl_dec_refc(ErlDrvPDL pdl) {
  DC__API(driver_pdl_dec_refc);
  if (!pdl_valid(pdl))
    return 0;
  ErlDrvSInt now = atomic_fetch_sub(&pdl->refc, 1) - 1;
  if (now == 0) /* destroyed at 0, like ERTS */
    pdl_destroy(pdl);
  return now;
}

void dc__pdl_port_gone(dc__port *p) {
  ErlDrvPDL pdl = __atomic_exchange_n(&p->pdl, NULL, __ATOMIC_ACQ_REL);
  if (pdl)
    pdl_drop(pdl);
}

/* ------------------------------------------------------------------------ */
/* Queue storage                                                             */

/* Makes room for n more slots at the tail (or head). When the array is at
 * most half full the live slots are re-centred in place, otherwise it is
 * doubled; either way both ends get >= a quarter of slack, which keeps enq
 * and pushq O(1) amortized. Returns 0, or -1 when out of memory. */
static int reserve(dc__ioq *q, size_t n, int at_tail) {
  if (at_tail ? q->head + q->len + n <= q->cap : n <= q->head)
    return 0;
  size_t need = q->len + n, cap = q->cap;
  SysIOVec *iov = q->iov;
  ErlDrvBinary **binv = q->binv;
  if (need > cap / 2) {
    cap = need * 2 > MIN_SLOTS ? need * 2 : MIN_SLOTS;
    iov = malloc(cap * sizeof *iov);
    binv = malloc(cap * sizeof *binv);
    if (!iov || !binv) {
      free(iov);
      free(binv);
      return -1;
    }
  }
  size_t head = (cap - need) / 2 + (at_tail ? 0 : n);
  if (q->len) { /* the arrays are NULL before the first reserve */
    memmove(iov + head, q->iov + q->head, q->len * sizeof *iov);
    memmove(binv + head, q->binv + q->head, q->len * sizeof *binv);
  }
  if (iov != q->iov) {
    free(q->iov);
    free(q->binv);
  }
  q->iov = iov;
  q->binv = binv;
  q->cap = cap;
  q->head = head;
  return 0;
}

/* Removes `size` bytes from the head (size <= q->size), releasing the
 * binaries of segments consumed completely. */
static void drop(dc__ioq *q, ErlDrvSizeT size) {
  q->size -= size;
  while (size > 0) {
    SysIOVec *e = &q->iov[q->head];
    dc__dlv_unqueue(q->binv[q->head], e->iov_base, e->iov_len,
                    e->iov_len <= size ? e->iov_len : size);
    if (e->iov_len <= size) {
      size -= e->iov_len;
      dc__bin_unref(q->binv[q->head]);
      q->binv[q->head] = NULL;
      q->head++;
      q->len--;
    } else {
      e->iov_base += size;
      e->iov_len -= size;
      size = 0;
    }
  }
  if (q->len == 0) /* restart near the front: enq is the common case */
    q->head = q->cap / 4;
}

/* Skips `skip` bytes of ev the way ERTS does -- by advancing the caller's
 * iov entry in place (a visible side effect drivers may observe). Returns
 * the index of the first entry left. */
static int apply_skip(ErlIOVec *ev, ErlDrvSizeT skip) {
  int i = 0;
  while (skip > 0 && i < ev->vsize) {
    SysIOVec *e = &ev->iov[i];
    if (e->iov_len <= skip) {
      skip -= e->iov_len;
      i++;
    } else {
      e->iov_base += skip;
      e->iov_len -= skip;
      skip = 0;
    }
  }
  return i;
}

/* Puts one segment into slot k: by reference when it comes with a binary,
 * else copied into a new binary. 0, or -1 (bad binary / out of memory). */
static int fill_slot(dc__ioq *q, size_t k, const SysIOVec *e, ErlDrvBinary *b,
                     const char *api, const void *site) {
  if (!b) {
    ErlDrvBinary *c = driver_alloc_binary(e->iov_len);
    if (!c)
      return -1;
    memcpy(c->orig_bytes, e->iov_base, e->iov_len);
    q->iov[k].iov_base = c->orig_bytes;
    q->iov[k].iov_len = e->iov_len;
    q->binv[k] = c;
    return 0;
  }
  if (dc__bin_ref(b, api, site) != 0)
    return -1;
  const char *lo = b->orig_bytes, *hi = lo + b->orig_size;
  if (e->iov_base < lo || e->iov_base > hi ||
      e->iov_len > (size_t)(hi - e->iov_base))
    dc__flag_at(DC_RULE_BIN_RANGE, api, site,
                "segment of %zu bytes at offset %td lies outside binary %p "
                "of %ld bytes",
                e->iov_len, e->iov_base - lo, (void *)b, (long)b->orig_size);
  q->iov[k] = *e;
  q->binv[k] = b;
  /* The driver's bytes are queued by reference: they may not change while
   * queued (bin.write_after_delivery). */
  dc__dlv_record(b, e->iov_base, e->iov_len, DC__DLV_QUEUED, api, site);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* API plumbing                                                              */

/* The ERTS "invalid port" check (port.c reports ctx.dead_port) plus the PDL
 * rule: once a PDL exists every queue access must hold it; without one only
 * emulator threads may call. */
static dc__port *queue_port(ErlDrvPort port, const char *api,
                            const void *site) {
  dc__port *p = dc__port_api(port, api, site);
  if (!p)
    return NULL;
  dc__ctx_foreign_queue(p, api, site);
  ErlDrvPDL pdl = port_pdl(p);
  if (pdl && pdl->owner != SELF)
    dc__flag_at(DC_RULE_QUEUE_NO_PDL, api, site,
                "the port data lock is not held by this thread");
  else if (!pdl && dc__tls.kind != DC__THR_EMU)
    dc__flag_at(DC_RULE_QUEUE_NO_PDL, api, site,
                "called outside an emulator thread on a port without PDL");
  return p;
}

/* Sum of the non-empty entries from `first` on, and their count. */
static size_t vec_bytes(const ErlIOVec *ev, int first, size_t *n) {
  size_t sum = 0;
  *n = 0;
  for (int i = first; i < ev->vsize; i++) {
    sum += ev->iov[i].iov_len;
    *n += ev->iov[i].iov_len > 0;
  }
  return sum;
}

/* driver_enqv / driver_pushqv and everything built on them, for a port
 * already validated by queue_port (NULL: invalid, returns -1). */
static int queue_vec(dc__port *p, ErlIOVec *ev, ErlDrvSizeT skip, int at_tail,
                     const char *api, const void *site) {
  if (!p || !ev)
    return -1;
  if (ev->size <= skip) { /* nothing left: ERTS returns 0 */
    if (ev->size < skip)
      dc__flag_at(DC_RULE_QUEUE_BAD_DEQ, api, site,
                  "skip %zu is beyond the vector's %zu bytes", (size_t)skip,
                  (size_t)ev->size);
    return 0;
  }
  int first = apply_skip(ev, skip);
  size_t n, sum = vec_bytes(ev, first, &n);
  /* ERTS trusts ev->size; the harness counts what the entries hold so its
   * queue stays consistent, and reports the disagreement. */
  if (sum != ev->size - skip)
    dc__flag_at(DC_RULE_QUEUE_BAD_DEQ, api, site,
                "ev->size says %zu bytes after skip, the entries hold %zu",
                (size_t)(ev->size - skip), sum);
  dc__ioq *q = &p->q;
  pthread_mutex_t *mu = qlock_of(p);
  pthread_mutex_lock(mu);
  if (reserve(q, n, at_tail) != 0) {
    pthread_mutex_unlock(mu);
    return -1;
  }
  /* Fill the reserved slots first, publish only when all succeeded. */
  size_t base = at_tail ? q->head + q->len : q->head - n, k = 0;
  for (int i = first; i < ev->vsize && k < n; i++) {
    if (ev->iov[i].iov_len == 0) /* zero-length entries are dropped */
      continue;
    if (fill_slot(q, base + k, &ev->iov[i], ev->binv ? ev->binv[i] : NULL, api,
                  site) != 0) {
      while (k-- > 0) {
        SysIOVec *u = &q->iov[base + k];
        dc__dlv_unqueue(q->binv[base + k], u->iov_base, u->iov_len, u->iov_len);
        dc__bin_unref(q->binv[base + k]);
      }
      pthread_mutex_unlock(mu);
      return -1;
    }
    k++;
  }
  if (!at_tail)
    q->head -= n;
  q->len += n;
  q->size += sum;
  pthread_mutex_unlock(mu);
  return 0;
}

static int queue_buf(ErlDrvPort port, char *buf, ErlDrvSizeT len, int at_tail,
                     const char *api, const void *site) {
  if (len == 0) /* no-op returning 0, before any port check (io.c) */
    return 0;
  /* As ERTS: copy into a new binary, queue it by reference, drop ours. */
  ErlDrvBinary *b = driver_alloc_binary(len);
  if (!b)
    return -1;
  memcpy(b->orig_bytes, buf, len);
  SysIOVec iov = {b->orig_bytes, len};
  ErlIOVec ev = {1, len, &iov, &b};
  int rc = queue_vec(queue_port(port, api, site), &ev, 0, at_tail, api, site);
  dc__bin_unref(b);
  return rc;
}

static int queue_bin(ErlDrvPort port, ErlDrvBinary *bin, ErlDrvSizeT offset,
                     ErlDrvSizeT len, int at_tail, const char *api,
                     const void *site) {
  if (len == 0)
    return 0;
  dc__port *p = queue_port(port, api, site);
  if (!p)
    return -1;
  if (!dc__bin_check(bin, api, site))
    return -1; /* ERTS would reference garbage; nothing is queued */
  /* offset/len outside the binary are reported by fill_slot (bin.range). */
  SysIOVec iov = {bin->orig_bytes + offset, len};
  ErlIOVec ev = {1, len, &iov, &bin};
  return queue_vec(p, &ev, 0, at_tail, api, site);
}

/* ------------------------------------------------------------------------ */
/* erl_driver entry points                                                   */

int driver_enq(ErlDrvPort port, char *buf, ErlDrvSizeT len) {
  DC__API_HEAVY(driver_enq);
  return queue_buf(port, buf, len, 1, "driver_enq",
                   __builtin_return_address(0));
}

int driver_pushq(ErlDrvPort port, char *buf, ErlDrvSizeT len) {
  DC__API_HEAVY(driver_pushq);
  return queue_buf(port, buf, len, 0, "driver_pushq",
                   __builtin_return_address(0));
}

int driver_enq_bin(ErlDrvPort port, ErlDrvBinary *bin, ErlDrvSizeT offset,
                   ErlDrvSizeT len) {
  DC__API_HEAVY(driver_enq_bin);
  return queue_bin(port, bin, offset, len, 1, "driver_enq_bin",
                   __builtin_return_address(0));
}

int driver_pushq_bin(ErlDrvPort port, ErlDrvBinary *bin, ErlDrvSizeT offset,
                     ErlDrvSizeT len) {
  DC__API_HEAVY(driver_pushq_bin);
  return queue_bin(port, bin, offset, len, 0, "driver_pushq_bin",
                   __builtin_return_address(0));
}

int driver_enqv(ErlDrvPort port, ErlIOVec *ev, ErlDrvSizeT skip) {
  DC__API_HEAVY(driver_enqv);
  const void *site = __builtin_return_address(0);
  return queue_vec(queue_port(port, "driver_enqv", site), ev, skip, 1,
                   "driver_enqv", site);
}

int driver_pushqv(ErlDrvPort port, ErlIOVec *ev, ErlDrvSizeT skip) {
  DC__API_HEAVY(driver_pushqv);
  const void *site = __builtin_return_address(0);
  return queue_vec(queue_port(port, "driver_pushqv", site), ev, skip, 0,
                   "driver_pushqv", site);
}

ErlDrvSizeT driver_deq(ErlDrvPort port, ErlDrvSizeT size) {
  DC__API_HEAVY(driver_deq);
  const void *site = __builtin_return_address(0);
  dc__port *p = queue_port(port, "driver_deq", site);
  if (!p)
    return (ErlDrvSizeT)-1;
  pthread_mutex_t *mu = qlock_of(p);
  pthread_mutex_lock(mu);
  ErlDrvSizeT have = p->q.size, left = (ErlDrvSizeT)-1;
  if (size <= have) {
    drop(&p->q, size);
    left = p->q.size;
  }
  pthread_mutex_unlock(mu);
  if (size > have) /* nothing removed, (ErlDrvSizeT)-1 (OTP25 run) */
    dc__flag_at(DC_RULE_QUEUE_BAD_DEQ, "driver_deq", site,
                "dequeuing %zu bytes from a queue of %zu", (size_t)size,
                (size_t)have);
  return left;
}

ErlDrvSizeT driver_sizeq(ErlDrvPort port) {
  DC__API(driver_sizeq);
  dc__port *p = queue_port(port, "driver_sizeq", __builtin_return_address(0));
  if (!p) /* (ErlDrvSizeT)-1: driver_SUITE:peek_non_existing_queue */
    return (ErlDrvSizeT)-1;
  pthread_mutex_t *mu = qlock_of(p);
  pthread_mutex_lock(mu);
  ErlDrvSizeT size = p->q.size;
  pthread_mutex_unlock(mu);
  return size;
}

ErlDrvSizeT driver_peekqv(ErlDrvPort port, ErlIOVec *ev) {
  DC__API(driver_peekqv);
  dc__port *p = queue_port(port, "driver_peekqv", __builtin_return_address(0));
  if (!p || !ev) /* ERTS dereferences a NULL ev; the docs promise -1 */
    return (ErlDrvSizeT)-1;
  pthread_mutex_t *mu = qlock_of(p);
  pthread_mutex_lock(mu);
  dc__ioq *q = &p->q;
  ev->vsize = (int)q->len;
  ev->size = q->len ? q->size : 0;
  ev->iov = q->len ? q->iov + q->head : NULL; /* into the queue, no copy */
  ev->binv = q->len ? q->binv + q->head : NULL;
  ErlDrvSizeT size = q->size;
  pthread_mutex_unlock(mu);
  return size;
}

SysIOVec *driver_peekq(ErlDrvPort port, int *vlen) {
  DC__API(driver_peekq);
  int dummy;
  if (!vlen)
    vlen = &dummy;
  dc__port *p = queue_port(port, "driver_peekq", __builtin_return_address(0));
  if (!p) { /* NULL, *vlen = -1 (driver_SUITE:peek_non_existing_queue) */
    *vlen = -1;
    return NULL;
  }
  pthread_mutex_t *mu = qlock_of(p);
  pthread_mutex_lock(mu);
  *vlen = (int)p->q.len;
  SysIOVec *iov = p->q.len ? p->q.iov + p->q.head : NULL;
  pthread_mutex_unlock(mu);
  return iov;
}

/* ------------------------------------------------------------------------ */
/* Emulator side                                                             */

/* The emulator's own queue accesses take the PDL like ERTS does (e.g. the
 * "queue empty?" check after callbacks), unless this thread holds it. */
static ErlDrvPDL emu_take_pdl(dc__port *p) {
  ErlDrvPDL pdl = port_pdl(p);
  if (!pdl || pdl->owner == SELF)
    return NULL;
  pdl_take(pdl);
  return pdl;
}

ErlDrvSizeT dc__queue_clear(dc__port *p) {
  ErlDrvPDL pdl = emu_take_pdl(p);
  pthread_mutex_t *mu = qlock_of(p);
  pthread_mutex_lock(mu);
  dc__ioq *q = &p->q;
  ErlDrvSizeT dropped = q->size;
  for (size_t i = 0; i < q->len; i++) {
    SysIOVec *e = &q->iov[q->head + i];
    dc__dlv_unqueue(q->binv[q->head + i], e->iov_base, e->iov_len, e->iov_len);
    dc__bin_unref(q->binv[q->head + i]);
  }
  free(q->iov);
  free(q->binv);
  memset(q, 0, sizeof *q);
  pthread_mutex_unlock(mu);
  if (pdl)
    pdl_give(pdl);
  return dropped;
}

ErlDrvSizeT dc__queue_size(dc__port *p) {
  ErlDrvPDL pdl = emu_take_pdl(p);
  pthread_mutex_t *mu = qlock_of(p);
  pthread_mutex_lock(mu);
  ErlDrvSizeT size = p->q.size;
  pthread_mutex_unlock(mu);
  if (pdl)
    pdl_give(pdl);
  return size;
}
