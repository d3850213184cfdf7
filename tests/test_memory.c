/* driver_alloc / driver_realloc / driver_free: tracking, misuse detection,
 * failing allocations. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* These tests misuse the API on purpose (double free, foreign free...); the
 * malloc attributes of erl_driver.h make gcc see that at compile time. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuse-after-free"
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#pragma GCC diagnostic ignored "-Wmismatched-dealloc"
#endif

/* A fresh emulator (no port: tests set dc__tls.port themselves). */
static void reset(void) {
  dc__emu_reset(1);
  dc__findings_reset();
}

/* Occurrences of rule r (findings at one site are merged, with a count). */
static unsigned hits(dc_rule r) {
  size_t n = 0;
  const dc__finding *f = dc__findings(&n);
  unsigned k = 0;
  for (size_t i = 0; i < n; i++)
    k += f[i].rule == r ? f[i].count : 0;
  return k;
}

static unsigned bad_frees(void) { return hits(DC_RULE_MEM_BAD_FREE); }

static __attribute__((noinline)) void *alloc_here(size_t n) {
  void *p = driver_alloc(n);
  __asm__ volatile("" ::: "memory"); /* keep the call a real call */
  return p;
}

DC_TEST(alloc_records_size_owner_and_site) {
  reset();
  dc__port *port = &dc__g.ports[5];
  port->idx = 5;
  dc__tls.port = port;
  void *p = alloc_here(100);
  DC_ASSERT(p != NULL);
  size_t size = 0;
  int owner = -2;
  const void *site = NULL;
  DC_ASSERT_EQ(dc__mem_info(p, &size, &owner, &site), 0);
  DC_ASSERT_EQ(size, 100);
  DC_ASSERT_EQ(owner, 5);
  /* the call site is the return address inside alloc_here */
  DC_ASSERT((const char *)site > (const char *)alloc_here);
  DC_ASSERT((const char *)site < (const char *)alloc_here + 256);
  driver_free(p);
  DC_ASSERT_EQ(bad_frees(), 0);
}

DC_TEST(alloc_outside_port_has_no_owner) {
  reset();
  void *p = driver_alloc(8);
  int owner = 0;
  DC_ASSERT_EQ(dc__mem_info(p, NULL, &owner, NULL), 0);
  DC_ASSERT_EQ(owner, -1);
  driver_free(p);
}

DC_TEST(live_count_and_bytes_follow_alloc_and_free) {
  reset();
  size_t bytes = 1;
  DC_ASSERT_EQ(dc__mem_live_count(&bytes), 0);
  DC_ASSERT_EQ(bytes, 0);
  void *a = driver_alloc(10), *b = driver_alloc(30);
  DC_ASSERT_EQ(dc__mem_live_count(&bytes), 2);
  DC_ASSERT_EQ(bytes, 40);
  DC_ASSERT(dc__mem_valid(a) && dc__mem_valid(b));
  driver_free(a);
  DC_ASSERT_EQ(dc__mem_live_count(&bytes), 1);
  DC_ASSERT_EQ(bytes, 30);
  DC_ASSERT(!dc__mem_valid(a));
  driver_free(b);
  DC_ASSERT_EQ(dc__mem_live_count(NULL), 0);
}

DC_TEST(blocks_are_16_byte_aligned) {
  reset();
  for (size_t n = 0; n < 200; n += 7) {
    void *p = driver_alloc(n);
    DC_ASSERT(p != NULL);
    DC_ASSERT_EQ((uintptr_t)p % 16, 0);
    driver_free(p);
  }
}

/* ERTS returns a valid pointer for size 0 (protocol.md row 38, OTP25 run). */
DC_TEST(size_zero_returns_valid_block) {
  reset();
  void *p = driver_alloc(0);
  DC_ASSERT(p != NULL);
  DC_ASSERT(dc__mem_valid(p));
  driver_free(p);
  DC_ASSERT_EQ(bad_frees(), 0);
}

/* driver_free(NULL) is accepted (protocol.md row 37, OTP25 run). */
DC_TEST(free_null_is_noop) {
  reset();
  driver_free(NULL);
  DC_ASSERT_EQ(bad_frees(), 0);
}

DC_TEST(double_free_is_reported_and_survived) {
  reset();
  void *p = driver_alloc(64);
  driver_free(p);
  driver_free(p);
  DC_ASSERT_EQ(bad_frees(), 1);
  DC_ASSERT_EQ(dc__mem_live_count(NULL), 0);
  /* the allocator still works afterwards */
  void *q = driver_alloc(64);
  DC_ASSERT(dc__mem_valid(q));
  driver_free(q);
  DC_ASSERT_EQ(bad_frees(), 1);
}

/* One call site whatever the optimiser does with the loop below. */
__attribute__((noinline)) static void free_from_one_site(void *p) {
  driver_free(p);
  __asm__ volatile("" ::: "memory"); /* keep the call out of tail position */
}

DC_TEST(foreign_free_is_reported_and_not_freed) {
  reset();
  char stack[32];
  static char data[32];
  char *heap = malloc(32);
  void *ptrs[3] = {stack, data, heap};
  for (int i = 0; i < 3; i++)
    free_from_one_site(ptrs[i]);
  DC_ASSERT_EQ(bad_frees(), 3);
  size_t n = 0;
  const dc__finding *f = dc__findings(&n);
  DC_ASSERT_EQ(n, 1); /* one call site: one finding, count 3 */
  DC_ASSERT_STREQ(f[0].api, "driver_free");
  /* had driver_free passed it to free(), glibc would abort here */
  memset(heap, 1, 32);
  free(heap);
}

DC_TEST(free_of_interior_pointer_is_reported) {
  reset();
  char *p = driver_alloc(64);
  driver_free(p + 16);
  DC_ASSERT_EQ(bad_frees(), 1);
  DC_ASSERT(dc__mem_valid(p));
  driver_free(p);
  DC_ASSERT_EQ(bad_frees(), 1);
}

DC_TEST(free_of_binary_is_reported) {
  reset();
  ErlDrvBinary *b = driver_alloc_binary(8);
  driver_free(b);
  DC_ASSERT_EQ(bad_frees(), 1);
  DC_ASSERT(dc__bin_valid(b)); /* untouched */
  driver_free_binary(b);
}

DC_TEST(realloc_keeps_data_and_retires_old_pointer) {
  reset();
  unsigned char *p = driver_alloc(16);
  for (int i = 0; i < 16; i++)
    p[i] = (unsigned char)i;
  unsigned char *q = driver_realloc(p, 1000);
  DC_ASSERT(q != NULL);
  for (int i = 0; i < 16; i++)
    DC_ASSERT_EQ(q[i], i);
  DC_ASSERT(dc__mem_valid(q));
  DC_ASSERT(q == p || !dc__mem_valid(p));
  size_t size = 0;
  dc__mem_info(q, &size, NULL, NULL);
  DC_ASSERT_EQ(size, 1000);
  unsigned char *r = driver_realloc(q, 4); /* shrink keeps the prefix */
  for (int i = 0; i < 4; i++)
    DC_ASSERT_EQ(r[i], i);
  DC_ASSERT_EQ(dc__mem_live_count(NULL), 1);
  driver_free(r);
  DC_ASSERT_EQ(bad_frees(), 0);
}

DC_TEST(realloc_null_allocates) {
  reset();
  void *p = driver_realloc(NULL, 24);
  DC_ASSERT(p != NULL && dc__mem_valid(p));
  driver_free(p);
  DC_ASSERT_EQ(bad_frees(), 0);
}

/* ERTS alloc_util keeps a minimal block for size 0 (ALLOC_ZERO_EQ_NULL 0). */
DC_TEST(realloc_to_zero_returns_valid_block) {
  reset();
  void *p = driver_alloc(24);
  void *q = driver_realloc(p, 0);
  DC_ASSERT(q != NULL && dc__mem_valid(q));
  DC_ASSERT_EQ(dc__mem_live_count(NULL), 1);
  driver_free(q);
  DC_ASSERT_EQ(bad_frees(), 0);
}

DC_TEST(realloc_of_freed_pointer_is_reported) {
  reset();
  void *p = driver_alloc(24);
  driver_free(p);
  DC_ASSERT(driver_realloc(p, 48) == NULL);
  DC_ASSERT_EQ(bad_frees(), 1);
  char stack[8];
  DC_ASSERT(driver_realloc(stack, 48) == NULL);
  DC_ASSERT_EQ(dc__mem_live_count(NULL), 0);
}

DC_TEST(fail_after_makes_nth_allocation_fail) {
  reset();
  dc__mem_fail_after(3);
  void *a = driver_alloc(8), *b = driver_alloc(8), *c = driver_alloc(8);
  void *d = driver_alloc(8);
  DC_ASSERT(a && b && d);
  DC_ASSERT(c == NULL);
  DC_ASSERT_EQ(dc__mem_live_count(NULL), 3);
  driver_free(a);
  driver_free(b);
  driver_free(d);
}

DC_TEST(fail_after_covers_binaries_and_realloc) {
  reset();
  dc__mem_fail_after(1);
  DC_ASSERT(driver_alloc_binary(8) == NULL);
  char *p = driver_alloc(8);
  strcpy(p, "keep");
  dc__mem_fail_after(1);
  DC_ASSERT(driver_realloc(p, 4096) == NULL);
  DC_ASSERT(dc__mem_valid(p)); /* the old block stays valid */
  DC_ASSERT_STREQ(p, "keep");
  driver_free(p);
  DC_ASSERT_EQ(bad_frees(), 0);
}

static void count_cb(void *arg, const void *ptr, size_t size, int owner,
                     const void *site) {
  (void)ptr;
  (void)owner;
  (void)site;
  size_t *acc = arg;
  acc[0]++;
  acc[1] += size;
}

DC_TEST(foreach_visits_live_blocks) {
  reset();
  void *a = driver_alloc(3), *b = driver_alloc(5), *c = driver_alloc(7);
  driver_free(b);
  size_t acc[2] = {0, 0};
  dc__mem_foreach(count_cb, acc);
  DC_ASSERT_EQ(acc[0], 2);
  DC_ASSERT_EQ(acc[1], 10);
  driver_free(a);
  driver_free(c);
}

DC_TEST(reset_forgets_live_blocks) {
  reset();
  void *p = driver_alloc(8);
  dc__mem_reset();
  DC_ASSERT_EQ(dc__mem_live_count(NULL), 0);
  DC_ASSERT(!dc__mem_valid(p));
}

static void *churn(void *arg) {
  void **slots = arg;
  for (int round = 0; round < 20000; round++) {
    int i = round % 64;
    if (slots[i]) {
      driver_free(slots[i]);
      slots[i] = NULL;
    } else {
      slots[i] = driver_alloc((size_t)(round % 200));
    }
  }
  return NULL;
}

/* Allocation from many threads at once, freeing on another thread too. */
DC_TEST(concurrent_alloc_and_free_stay_consistent) {
  reset();
  enum { T = 8 };
  static void *slots[T][64];
  pthread_t th[T];
  for (int i = 0; i < T; i++)
    pthread_create(&th[i], NULL, churn, slots[i]);
  for (int i = 0; i < T; i++)
    pthread_join(th[i], NULL);
  size_t live = 0;
  for (int i = 0; i < T; i++)
    for (int j = 0; j < 64; j++)
      live += slots[i][j] != NULL;
  DC_ASSERT_EQ(dc__mem_live_count(NULL), live);
  for (int i = 0; i < T; i++) /* freed here, on the main thread */
    for (int j = 0; j < 64; j++)
      driver_free(slots[i][j]);
  DC_ASSERT_EQ(dc__mem_live_count(NULL), 0);
  DC_ASSERT_EQ(bad_frees(), 0);
}
