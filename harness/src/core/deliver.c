/* bin.write_after_delivery: delivered binaries must stay unchanged.
 *
 * Once a driver binary is delivered (driver_output_binary, ERL_DRV_BINARY in
 * a term, a binary control reply, a queued slice, an outputv binary the
 * driver retained) Erlang terms or the port queue share its bytes, so the
 * driver may no longer write them. Each delivery checksums the byte range
 * into a record hung off the binary's hidden header (O(1) to find, no lock
 * when a binary was never delivered). Records are re-checked:
 *  - after every outermost callback, but only the RING most recent ones, so
 *    the cost follows recent deliveries, not every binary ever delivered;
 *  - at driver_free_binary / realloc / release, and at unload (all).
 * A change is reported once per binary; the location is the delivering call
 * (the writer is unknown) and the callback is the one after which it was
 * seen.
 *
 * Strict mode (opt-in): binaries are laid out with their data on pages of
 * their own; a delivered binary's pages are made read-only and the SIGSEGV
 * handler below names the exact writing instruction, then unprotects the
 * binary and resumes the write. Writes to undelivered bytes sharing a page
 * just lose the protection (the checksum still guards the delivered bytes).
 * Cost: two pages minimum per binary, an mprotect per delivery and free. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

#define NRANGES 4              /* tracked slices per binary; more are ignored */
#define RING 64                /* records re-checked after each callback */
#define SMALL_IO_BIN_LIMIT 256 /* ERTS copies smaller outputv pieces (io.c) */
#define MAX_PROT 1024          /* binaries protected at once (strict mode) */

typedef struct range {
  const char *lo;
  size_t len;
  uint64_t sum;
  const char *api;  /* delivering API (static string) */
  const void *site; /* its call site in the driver */
  int kind;         /* dc__dlv_kind */
  int stale;        /* sum not yet recomputed after a partial dequeue */
} range;

struct dc__dlv {
  ErlDrvBinary *bin;
  struct dc__dlv *prev, *next; /* all records */
  range r[NRANGES];
  int nr;
  int reported;
  int ring_slot; /* index + 1 in the ring, 0 when not there */
  int prot_slot; /* index + 1 in the protection table, 0 when none */
};

/* One lock for the tables: taken only by deliveries and by checks while at
 * least one binary is tracked. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int ntracked;
static dc__dlv all = {.prev = &all, .next = &all};
static dc__dlv *ring[RING];
static unsigned ring_next;
static _Atomic int strict;

/* Protected ranges, scanned lock-free by the signal handler. */
static struct {
  _Atomic uintptr_t lo, hi;
  dc__dlv *_Atomic rec;
} prot[MAX_PROT];
static struct sigaction old_segv;
static _Atomic int handler_installed;

/* ------------------------------------------------------------------------ */
/* Checksums and reporting                                                   */

/* A word-at-a-time multiplicative hash: any changed byte changes it with
 * overwhelming probability and it runs at memory speed. */
static DC__MSAN_OPAQUE uint64_t checksum(const char *p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 29;
  }
  for (; i < n; i++)
    h = (h ^ (unsigned char)p[i]) * 0x100000001B3ull;
  return h;
}

static void report(dc__dlv *d, const range *r, const void *site,
                   const char *how) {
  d->reported = 1;
  dc__flag_at(DC_RULE_BIN_WRITE_AFTER_DELIVERY, r->api, site,
              "bytes [%td,+%zu) of binary %p changed after %s %s them%s%s",
              r->lo - d->bin->orig_bytes, r->len, (void *)d->bin, r->api,
              r->kind == DC__DLV_QUEUED ? "queued" : "delivered",
              how ? " " : "", how ? how : "");
}

/* Caller holds lock. Returns 1 if a change was found (and reported). */
static int check_rec(dc__dlv *d) {
  if (d->reported)
    return 0;
  for (int i = 0; i < d->nr; i++) {
    range *r = &d->r[i];
    uint64_t now = checksum(r->lo, r->len);
    if (r->stale) { /* see dc__dlv_unqueue */
      r->sum = now;
      r->stale = 0;
    } else if (now != r->sum) {
      report(d, r, r->site, NULL);
      return 1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Strict mode: page protection                                              */

static size_t page_size(void) {
  static size_t pg;
  if (!pg)
    pg = (size_t)sysconf(_SC_PAGESIZE);
  return pg;
}

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

void *dc__dlv_page_alloc(size_t data_off, size_t bytes) {
  size_t pg = page_size(), front = round_up(data_off, pg);
  size_t total = front + round_up(bytes - data_off, pg);
  char *m = mmap(NULL, total ? total : pg, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return m == MAP_FAILED ? NULL : m + (front - data_off);
}

void dc__dlv_page_free(void *mem, size_t data_off, size_t bytes) {
  size_t pg = page_size(), front = round_up(data_off, pg);
  size_t total = front + round_up(bytes - data_off, pg);
  munmap((char *)mem - (front - data_off), total ? total : pg);
}

static void unprotect(dc__dlv *d) {
  if (!d->prot_slot)
    return;
  int k = d->prot_slot - 1;
  uintptr_t lo = prot[k].lo, hi = prot[k].hi;
  mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE);
  prot[k].rec = NULL;
  prot[k].hi = prot[k].lo = 0;
  d->prot_slot = 0;
}

static void on_segv(int sig, siginfo_t *si, void *uc);

static void install_handler(void) {
  int expected = 0;
  if (!atomic_compare_exchange_strong(&handler_installed, &expected, 1))
    return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old_segv);
}

/* Protects the pages of a binary laid out by dc__dlv_page_alloc. Only the
 * binaries allocated in strict mode have page-aligned data. */
static void protect(dc__dlv *d) {
  ErlDrvBinary *b = d->bin;
  uintptr_t lo = (uintptr_t)b->orig_bytes;
  size_t len = round_up((size_t)b->orig_size, page_size());
  if (d->prot_slot || d->reported || !len || lo % page_size() != 0)
    return;
  for (int k = 0; k < MAX_PROT; k++) {
    if (prot[k].rec)
      continue;
    install_handler();
    prot[k].lo = lo;
    prot[k].hi = lo + len;
    prot[k].rec = d;
    d->prot_slot = k + 1;
    mprotect((void *)lo, len, PROT_READ);
    return;
  }
}

static uintptr_t fault_pc(void *ucv) {
  ucontext_t *uc = ucv;
#if defined(__x86_64__)
  return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  return (uintptr_t)uc->uc_mcontext.pc;
#else
  (void)uc;
  return 0;
#endif
}

/* A write into a protected binary: the fault is synchronous, raised by
 * driver code that holds none of the harness's locks, so reporting from
 * here is safe. Anything else goes to the previous handler. */
static void on_segv(int sig, siginfo_t *si, void *uc) {
  uintptr_t a = (uintptr_t)si->si_addr;
  for (int k = 0; k < MAX_PROT; k++) {
    dc__dlv *d = prot[k].rec;
    if (!d || a < prot[k].lo || a >= prot[k].hi)
      continue;
    pthread_mutex_lock(&lock);
    if (prot[k].rec == d) {
      for (int i = 0; i < d->nr && !d->reported; i++)
        if (a >= (uintptr_t)d->r[i].lo &&
            a < (uintptr_t)d->r[i].lo + d->r[i].len)
          report(d, &d->r[i], (const void *)fault_pc(uc),
                 "(write caught by page protection)");
      unprotect(d);
    }
    pthread_mutex_unlock(&lock);
    return; /* the write is retried on a writable page */
  }
  if (old_segv.sa_flags & SA_SIGINFO && old_segv.sa_sigaction) {
    old_segv.sa_sigaction(sig, si, uc);
  } else if (old_segv.sa_handler != SIG_IGN && old_segv.sa_handler != SIG_DFL) {
    old_segv.sa_handler(sig);
  } else {
    signal(SIGSEGV, SIG_DFL); /* re-executing the access kills us */
  }
}

void dc__set_strict_binaries(int on) { strict = on != 0; }
int dc__strict_binaries(void) { return strict; }

/* ------------------------------------------------------------------------ */
/* Records                                                                   */

static void ring_push(dc__dlv *d) {
  if (d->ring_slot)
    return;
  unsigned k = ring_next++ % RING;
  if (ring[k])
    ring[k]->ring_slot = 0;
  ring[k] = d;
  d->ring_slot = (int)k + 1;
}

static void free_rec(dc__dlv *d) {
  unprotect(d);
  if (d->ring_slot)
    ring[d->ring_slot - 1] = NULL;
  d->prev->next = d->next;
  d->next->prev = d->prev;
  *dc__bin_dlv_slot(d->bin) = NULL;
  free(d);
  ntracked--;
}

void dc__dlv_record(ErlDrvBinary *bin, const char *data, size_t len,
                    dc__dlv_kind kind, const char *api, const void *site) {
  if (!bin || !data || len == 0 || data < bin->orig_bytes ||
      len > (size_t)bin->orig_size ||
      (size_t)(data - bin->orig_bytes) > (size_t)bin->orig_size - len)
    return; /* out-of-range slices are bin.range's business */
  pthread_mutex_lock(&lock);
  dc__dlv **slot = dc__bin_dlv_slot(bin), *d = *slot;
  if (!d) {
    d = calloc(1, sizeof *d);
    if (!d)
      goto out;
    d->bin = bin;
    d->next = all.next;
    d->prev = &all;
    all.next->prev = d;
    all.next = d;
    *slot = d;
    ntracked++;
  }
  /* Earlier deliveries first: a re-delivery must not bless a change. */
  check_rec(d);
  if (d->reported || d->nr == NRANGES)
    goto out;
  for (int i = 0; i < d->nr; i++)
    if (kind == DC__DLV_SENT && d->r[i].kind == DC__DLV_SENT &&
        d->r[i].lo == data && d->r[i].len == len)
      goto tracked; /* the same slice again */
  d->r[d->nr++] = (range){data, len, checksum(data, len), api, site, kind, 0};
tracked:
  ring_push(d);
  if (strict)
    protect(d);
out:
  pthread_mutex_unlock(&lock);
}

void dc__dlv_unqueue(ErlDrvBinary *bin, const char *data, size_t len,
                     size_t consumed) {
  /* The queue's binary may have been over-freed by the driver: look only
   * into live ones. */
  if (!bin || atomic_load_explicit(&ntracked, memory_order_relaxed) == 0 ||
      !dc__bin_valid(bin) ||
      !__atomic_load_n(dc__bin_dlv_slot(bin), __ATOMIC_RELAXED))
    return;
  pthread_mutex_lock(&lock);
  dc__dlv *d = *dc__bin_dlv_slot(bin);
  for (int i = 0; d && i < d->nr; i++) {
    range *r = &d->r[i];
    if (r->kind != DC__DLV_QUEUED || r->lo != data || r->len != len)
      continue;
    if (consumed >= len) {
      check_rec(d);
      d->r[i] = d->r[--d->nr];
    } else {
      /* The rest stays queued. Re-summing it on every partial dequeue would
       * make draining a queue quadratic, so the new sum is taken at the next
       * check: a write in between goes unseen (a miss, never a false
       * finding, since dequeued bytes may legally change). */
      r->lo += consumed;
      r->len -= consumed;
      r->stale = 1;
    }
    break;
  }
  /* Nothing delivered any more: the driver may write it freely again. */
  if (d && d->nr == 0 && !d->reported)
    free_rec(d);
  pthread_mutex_unlock(&lock);
}

void dc__dlv_check(ErlDrvBinary *bin) {
  if (!bin || !__atomic_load_n(dc__bin_dlv_slot(bin), __ATOMIC_RELAXED))
    return;
  pthread_mutex_lock(&lock);
  dc__dlv *d = *dc__bin_dlv_slot(bin);
  if (d)
    check_rec(d);
  pthread_mutex_unlock(&lock);
}

void dc__dlv_drop(ErlDrvBinary *bin) {
  if (!bin || !__atomic_load_n(dc__bin_dlv_slot(bin), __ATOMIC_RELAXED))
    return;
  pthread_mutex_lock(&lock);
  dc__dlv *d = *dc__bin_dlv_slot(bin);
  if (d) {
    check_rec(d);
    free_rec(d);
  }
  pthread_mutex_unlock(&lock);
}

/* Bytes re-checked after one callback beyond those delivered in it: the
 * check runs after every callback, so it must not grow with the amount of
 * data the driver keeps queued. Anything not re-checked here is still
 * checked when it is dequeued, freed, re-delivered or at unload. */
#define AFTER_CALLBACK_BUDGET (16 * 1024)

static size_t rec_bytes(const dc__dlv *d) {
  size_t n = 0;
  for (int i = 0; i < d->nr; i++)
    n += d->r[i].len;
  return n;
}

/* Caller holds lock. Checks ring slot k; returns its size in bytes. */
static size_t check_slot(unsigned k) {
  dc__dlv *d = ring[k];
  if (!d)
    return 0;
  size_t n = rec_bytes(d);
  if (check_rec(d)) {
    d->ring_slot = 0; /* reported: no need to look again */
    ring[k] = NULL;
  }
  return n;
}

void dc__dlv_after_callback(void) {
  static unsigned seen_next, cursor;
  if (atomic_load_explicit(&ntracked, memory_order_relaxed) == 0)
    return;
  pthread_mutex_lock(&lock);
  /* Records delivered since the last check first and in full: most writes
   * after delivery happen right away. */
  unsigned fresh = ring_next - seen_next;
  if (fresh > RING)
    fresh = RING;
  for (unsigned i = 1; i <= fresh; i++)
    check_slot((ring_next - i) % RING);
  seen_next = ring_next;
  /* Then older ones, round robin, those that fit in the budget (bigger
   * ones wait for their dequeue, free or the unload check). */
  size_t left = AFTER_CALLBACK_BUDGET;
  for (unsigned i = 0; i < RING && left > 0; i++, cursor++) {
    dc__dlv *d = ring[cursor % RING];
    size_t n = d ? rec_bytes(d) : 0;
    if (d && n <= left)
      left -= check_slot(cursor % RING);
  }
  pthread_mutex_unlock(&lock);
}

void dc__dlv_check_all(void) {
  if (atomic_load(&ntracked) == 0)
    return;
  pthread_mutex_lock(&lock);
  for (dc__dlv *d = all.next; d != &all; d = d->next)
    check_rec(d);
  pthread_mutex_unlock(&lock);
}

/* ERTS passes the sender's binaries of SMALL_IO_BIN_LIMIT bytes or more by
 * reference, so a driver keeping one shares the bytes the sender still
 * sees. The harness copied src into binv just before the callback, so a
 * mismatch now is a write during outputv; no checksum pass beforehand, and
 * nothing at all for segments the driver did not keep. */
void dc__dlv_outputv_retained(ErlDrvBinary *const *binv, const SysIOVec *src,
                              int n, const void *site) {
  long ovh = 0;
  int timed = 0; /* excluded from cb.lengthy only when there is real work */
  for (int i = 0; i < n; i++) {
    ErlDrvBinary *b = binv[i];
    /* Smaller pieces are private copies in ERTS: the driver may keep and
     * reuse them. Larger ones are the sender's own binary. The size comes
     * from src: b is not read before it is known to be live (a driver may
     * have over-freed it). */
    if (!b || src[i].iov_len < SMALL_IO_BIN_LIMIT || dc__bin_refc(b) <= 1)
      continue;
    if (!timed) {
      ovh = dc__overhead_begin();
      timed = 1;
    }
    range r = {b->orig_bytes, (size_t)b->orig_size, 0, "outputv",
               site,          DC__DLV_SENT,         0};
    if (src[i].iov_len != r.len || memcmp(r.lo, src[i].iov_base, r.len)) {
      dc__dlv tmp = {.bin = b};
      pthread_mutex_lock(&lock);
      report(&tmp, &r, site, "(written during outputv and retained)");
      pthread_mutex_unlock(&lock);
      continue;
    }
    dc__dlv_record(b, r.lo, r.len, DC__DLV_SENT, "outputv", site);
  }
  if (timed)
    dc__overhead_end(&ovh);
}

void dc__dlv_reset(void) {
  pthread_mutex_lock(&lock);
  while (all.next != &all) {
    dc__dlv *d = all.next;
    unprotect(d);
    d->prev->next = d->next;
    d->next->prev = d->prev;
    free(d); /* the binary itself is forgotten by the reset */
  }
  memset(ring, 0, sizeof ring);
  ntracked = 0;
  pthread_mutex_unlock(&lock);
}
