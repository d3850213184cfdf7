/* Driver binaries: driver_alloc_binary & co and the refcount API.
 *
 * Like ERTS, the reference count lives in a hidden header in front of the
 * ErlDrvBinary (the public struct has only orig_size and orig_bytes). The
 * header starts with the registry's dc__blk, so every pointer a driver hands
 * back is validated by a lookup (memory.c) before it is touched: foreign
 * pointers and binaries already freed are reported, not dereferenced.
 * The count itself is atomic: the binary API is thread-safe. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct bin_hdr {
  dc__blk blk; /* registry entry, key = &bin (unused when
                  strict: the entry is then malloc'ed apart) */
  _Atomic ErlDrvSInt refc;
  dc__dlv *dlv;     /* delivery record (deliver.c), or NULL */
  size_t map_bytes; /* strict-mode mapping size, 0 when malloc'ed */
  ErlDrvBinary bin; /* what the driver sees; orig_bytes follows */
} bin_hdr;

/* orig_bytes must be 8-byte aligned (doubles are stored there by drivers);
 * malloc gives 16, so the offset inside the block decides. */
_Static_assert(offsetof(bin_hdr, bin) % 8 == 0, "ErlDrvBinary alignment");
_Static_assert((offsetof(bin_hdr, bin) + offsetof(ErlDrvBinary, orig_bytes)) %
                       8 ==
                   0,
               "orig_bytes alignment");

static bin_hdr *hdr_of(const ErlDrvBinary *bin) {
  return (bin_hdr *)((char *)bin - offsetof(bin_hdr, bin));
}

/* Result of validating a driver-supplied binary pointer. */
typedef enum {
  BIN_OK = 0, /* live, refc > 0 */
  BIN_ZERO,   /* live memory but its count already reached 0 (leaked) */
  BIN_FREED,  /* released, still quarantined: do not touch */
  BIN_FOREIGN /* not a binary at all: do not touch */
} bin_status;

static bin_status status_of(const ErlDrvBinary *bin) {
  int st = 0;
  if (!bin || !dc__blk_find(bin, DC__BLK_BIN, &st))
    return BIN_FOREIGN;
  if (st != DC__BLK_LIVE)
    return BIN_FREED;
  return hdr_of(bin)->refc > 0 ? BIN_OK : BIN_ZERO;
}

/* Reports a bad status for api/site; returns the status. */
static bin_status check(const ErlDrvBinary *bin, const char *api,
                        const void *site) {
  bin_status s = status_of(bin);
  switch (s) {
  case BIN_ZERO:
    dc__flag_at(DC_RULE_BIN_REFC, api, site,
                "binary %p used after its reference count reached 0",
                (const void *)bin);
    break;
  case BIN_FREED:
    dc__flag_at(DC_RULE_BIN_REFC, api, site,
                "binary %p used after it was freed", (const void *)bin);
    break;
  case BIN_FOREIGN:
    dc__flag_at(DC_RULE_BIN_FOREIGN, api, site,
                "%p was not returned by driver_alloc_binary%s",
                (const void *)bin,
                dc__mem_valid(bin) ? " (it is driver_alloc memory)"
                                   : " (or was freed long ago)");
    break;
  default:
    break;
  }
  return s;
}

#define DATA_OFF (offsetof(bin_hdr, bin) + offsetof(ErlDrvBinary, orig_bytes))

/* Strict mode (deliver.c): the data starts on a page of its own so that a
 * delivered binary can be write-protected; the registry entry, which the
 * registry releases, then lives in a separate block. */
static bin_hdr *alloc_strict(size_t size, dc__blk **blk) {
  *blk = dc__blk_new(sizeof **blk);
  bin_hdr *h =
      *blk ? dc__dlv_page_alloc(DATA_OFF, sizeof(bin_hdr) + size) : NULL;
  if (!h) {
    free(*blk);
    return NULL;
  }
  h->map_bytes = sizeof(bin_hdr) + size;
  return h;
}

static ErlDrvBinary *alloc_bin(size_t size, ErlDrvSInt refc, const void *site) {
  if (dc__mem_fail_now() || size > SIZE_MAX / 2)
    return NULL;
  dc__blk *blk = NULL;
  bin_hdr *h = dc__strict_binaries() ? alloc_strict(size, &blk)
                                     : dc__blk_new(sizeof(bin_hdr) + size);
  if (!h)
    return NULL;
  if (!blk) {
    blk = &h->blk;
    h->map_bytes = 0;
  }
  /* Not shared yet (dc__blk_add publishes it): no barrier needed. */
  atomic_store_explicit(&h->refc, refc, memory_order_relaxed);
  h->dlv = NULL;
  h->bin.orig_size = (ErlDrvSInt)size;
  blk->key = &h->bin;
  blk->size = size;
  blk->site = site;
  blk->owner = dc__tls.port ? (int)dc__tls.port->idx : -1;
  blk->kind = DC__BLK_BIN;
  dc__blk_add(blk);
  return &h->bin;
}

dc__dlv **dc__bin_dlv_slot(const ErlDrvBinary *bin) {
  return &hdr_of(bin)->dlv;
}

/* Releases a binary whose count reached 0: payload poisoned, header kept in
 * quarantine so later use of the pointer is recognised. */
static void release(ErlDrvBinary *bin) {
  dc__dlv_drop(bin); /* last check of delivered bytes, then untracked */
  bin_hdr *h = hdr_of(bin);
  if (h->map_bytes) { /* strict: the registry keeps only the key */
    size_t bytes = h->map_bytes;
    dc__blk_release(bin, DC__BLK_BIN);
    dc__dlv_page_free(h, DATA_OFF, bytes);
    return;
  }
  if (bin->orig_size <= 4096)
    memset(bin->orig_bytes, 0xDB, (size_t)bin->orig_size);
  dc__blk_release(bin, DC__BLK_BIN);
}

ErlDrvBinary *driver_alloc_binary(ErlDrvSizeT size) {
  DC__API(driver_alloc_binary);
  /* size 0 is allowed (OTP25 run); refc starts at 1. */
  return alloc_bin(size, 1, __builtin_return_address(0));
}

ErlDrvBinary *driver_realloc_binary(ErlDrvBinary *bin, ErlDrvSizeT size) {
  DC__API(driver_realloc_binary);
  const void *site = __builtin_return_address(0);
  if (!bin) /* behaves like driver_alloc_binary (OTP25 run) */
    return alloc_bin(size, 1, site);
  if (check(bin, "driver_realloc_binary", site) != BIN_OK)
    return NULL; /* looks like OOM: the driver keeps what it had */
  bin_hdr *oh = hdr_of(bin);
  /* Always moves (ERTS may): the old pointer is quarantined so that a
   * driver still using it is caught. The count moves with the data. */
  ErlDrvBinary *nb = alloc_bin(size, oh->refc, site);
  if (!nb)
    return NULL; /* original still valid */
  size_t keep = (size_t)bin->orig_size < size ? (size_t)bin->orig_size : size;
  memcpy(nb->orig_bytes, bin->orig_bytes, keep);
  int st; /* via the registry: strict binaries keep their entry apart */
  dc__blk *ob = dc__blk_find(bin, DC__BLK_BIN, &st);
  dc__blk *nbk = dc__blk_find(nb, DC__BLK_BIN, &st);
  if (ob && nbk)
    nbk->owner = ob->owner;
  oh->refc = 0;
  release(bin);
  return nb;
}

void driver_free_binary(ErlDrvBinary *bin) {
  DC__API_HEAVY(driver_free_binary);
  if (!bin) /* no-op (OTP25 run) */
    return;
  const void *site = __builtin_return_address(0);
  bin_status s = check(bin, "driver_free_binary", site);
  if (s == BIN_FREED || s == BIN_FOREIGN)
    return;
  dc__dlv_check(bin); /* delivered bytes changed before this free? */
  ErlDrvSInt was = atomic_fetch_sub(&hdr_of(bin)->refc, 1);
  if (was == 1)
    release(bin);
  /* was <= 0 was reported by check() as use after reaching 0. */
}

ErlDrvSInt driver_binary_get_refc(ErlDrvBinary *dbp) {
  DC__API(driver_binary_get_refc);
  bin_status s =
      check(dbp, "driver_binary_get_refc", __builtin_return_address(0));
  if (s != BIN_OK && s != BIN_ZERO)
    return 0;
  ErlDrvSInt n = hdr_of(dbp)->refc;
  /* The mock holds no reference for delivered data: a count of 1 tells the
   * driver it is the only holder, so it may reuse the binary from now on. */
  if (n == 1)
    dc__dlv_drop(dbp);
  return n;
}

ErlDrvSInt driver_binary_inc_refc(ErlDrvBinary *dbp) {
  DC__API(driver_binary_inc_refc);
  bin_status s =
      check(dbp, "driver_binary_inc_refc", __builtin_return_address(0));
  if (s == BIN_FREED || s == BIN_FOREIGN)
    return 0;
  return atomic_fetch_add(&hdr_of(dbp)->refc, 1) + 1;
}

ErlDrvSInt driver_binary_dec_refc(ErlDrvBinary *dbp) {
  DC__API_HEAVY(driver_binary_dec_refc);
  const void *site = __builtin_return_address(0);
  bin_status s = check(dbp, "driver_binary_dec_refc", site);
  if (s == BIN_FREED || s == BIN_FOREIGN)
    return 0;
  ErlDrvSInt now = atomic_fetch_sub(&hdr_of(dbp)->refc, 1) - 1;
  if (now < 0 && s == BIN_OK) /* lost a race with another decrement */
    dc__flag_at(DC_RULE_BIN_REFC, "driver_binary_dec_refc", site,
                "reference count of %p driven below zero", (void *)dbp);
  /* Reaching 0 never frees: the binary leaks, as documented. */
  return now;
}

/* ------------------------------------------------------------------------ */
/* Emulator side                                                             */

int dc__bin_valid(const ErlDrvBinary *bin) { return status_of(bin) == BIN_OK; }

ErlDrvSInt dc__bin_refc(const ErlDrvBinary *bin) {
  return status_of(bin) == BIN_OK ? hdr_of(bin)->refc : 0;
}

int dc__bin_check(const ErlDrvBinary *bin, const char *api, const void *site) {
  return check(bin, api, site) == BIN_OK;
}

int dc__bin_ref(ErlDrvBinary *bin, const char *api, const void *site) {
  if (check(bin, api, site) != BIN_OK)
    return -1;
  atomic_fetch_add(&hdr_of(bin)->refc, 1);
  return 0;
}

void dc__bin_unref(ErlDrvBinary *bin) {
  /* A driver that over-freed a binary the emulator still references has
   * released it under us: then there is nothing left to drop. */
  bin_status s = status_of(bin);
  if (s == BIN_FREED || s == BIN_FOREIGN)
    return;
  if (atomic_fetch_sub(&hdr_of(bin)->refc, 1) == 1)
    release(bin);
}

size_t dc__bin_live_count(void) { return dc__blk_live(DC__BLK_BIN, NULL); }

void dc__bin_reset(void) {
  dc__dlv_reset();
  dc__blk_reset(DC__BLK_BIN);
}
