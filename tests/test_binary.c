/* Driver binaries: allocation, refcounts, realloc, misuse detection. */
#include <stdint.h>
#include <string.h>

#include "support.h"

/* Misuse on purpose; the malloc attributes of erl_driver.h let gcc see it. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuse-after-free"
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#pragma GCC diagnostic ignored "-Wmismatched-dealloc"
#endif

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

static unsigned all_hits(void) {
  unsigned k = 0;
  for (int r = 0; r < DC_RULE_COUNT; r++)
    k += hits((dc_rule)r);
  return k;
}

DC_TEST(alloc_gives_refc_one_and_orig_size) {
  reset();
  ErlDrvBinary *b = driver_alloc_binary(100);
  DC_ASSERT(b != NULL);
  DC_ASSERT_EQ(b->orig_size, 100);
  DC_ASSERT_EQ(driver_binary_get_refc(b), 1);
  memset(b->orig_bytes, 'x', 100); /* the whole payload is writable */
  DC_ASSERT_EQ(dc__bin_live_count(), 1);
  driver_free_binary(b);
  DC_ASSERT_EQ(dc__bin_live_count(), 0);
  DC_ASSERT_EQ(all_hits(), 0);
}

/* orig_bytes is 8-byte aligned (protocol.md §2.3, row 32). */
DC_TEST(orig_bytes_are_8_byte_aligned) {
  reset();
  for (size_t n = 0; n < 70; n++) {
    ErlDrvBinary *b = driver_alloc_binary(n);
    DC_ASSERT_EQ((uintptr_t)b->orig_bytes % 8, 0);
    DC_ASSERT_EQ((uintptr_t)b % 8, 0);
    driver_free_binary(b);
  }
}

/* size 0 allowed (protocol.md row 32, OTP25 run). */
DC_TEST(size_zero_is_allowed) {
  reset();
  ErlDrvBinary *b = driver_alloc_binary(0);
  DC_ASSERT(b != NULL);
  DC_ASSERT_EQ(b->orig_size, 0);
  DC_ASSERT(dc__bin_valid(b));
  driver_free_binary(b);
  DC_ASSERT_EQ(all_hits(), 0);
}

DC_TEST(inc_dec_return_new_count) {
  reset();
  ErlDrvBinary *b = driver_alloc_binary(4);
  DC_ASSERT_EQ(driver_binary_inc_refc(b), 2);
  DC_ASSERT_EQ(driver_binary_inc_refc(b), 3);
  DC_ASSERT_EQ(driver_binary_dec_refc(b), 2);
  DC_ASSERT_EQ(driver_binary_get_refc(b), 2);
  driver_free_binary(b); /* 2 -> 1: still alive */
  DC_ASSERT(dc__bin_valid(b));
  DC_ASSERT_EQ(driver_binary_get_refc(b), 1);
  driver_free_binary(b); /* 1 -> 0: freed */
  DC_ASSERT(!dc__bin_valid(b));
  DC_ASSERT_EQ(all_hits(), 0);
}

/* driver_free_binary(NULL) is a no-op (protocol.md row 31, OTP25 run). */
DC_TEST(free_null_is_noop) {
  reset();
  driver_free_binary(NULL);
  DC_ASSERT_EQ(all_hits(), 0);
}

DC_TEST(realloc_keeps_contents_and_refc) {
  reset();
  ErlDrvBinary *b = driver_alloc_binary(10);
  memcpy(b->orig_bytes, "0123456789", 10);
  driver_binary_inc_refc(b);
  ErlDrvBinary *n = driver_realloc_binary(b, 5000);
  DC_ASSERT(n != NULL);
  DC_ASSERT_EQ(n->orig_size, 5000);
  DC_ASSERT(memcmp(n->orig_bytes, "0123456789", 10) == 0);
  DC_ASSERT_EQ(driver_binary_get_refc(n), 2);
  DC_ASSERT(n == b || !dc__bin_valid(b));
  ErlDrvBinary *s = driver_realloc_binary(n, 3); /* shrink keeps prefix */
  DC_ASSERT(memcmp(s->orig_bytes, "012", 3) == 0);
  DC_ASSERT_EQ(dc__bin_live_count(), 1);
  driver_free_binary(s);
  driver_free_binary(s);
  DC_ASSERT_EQ(dc__bin_live_count(), 0);
  DC_ASSERT_EQ(all_hits(), 0);
}

/* realloc(NULL) behaves like alloc (protocol.md row 33, OTP25 run). */
DC_TEST(realloc_null_allocates) {
  reset();
  ErlDrvBinary *b = driver_realloc_binary(NULL, 7);
  DC_ASSERT(b != NULL);
  DC_ASSERT_EQ(b->orig_size, 7);
  DC_ASSERT_EQ(driver_binary_get_refc(b), 1);
  driver_free_binary(b);
}

DC_TEST(realloc_failure_keeps_original) {
  reset();
  ErlDrvBinary *b = driver_alloc_binary(3);
  memcpy(b->orig_bytes, "abc", 3);
  dc__mem_fail_after(1);
  DC_ASSERT(driver_realloc_binary(b, 100) == NULL);
  DC_ASSERT(dc__bin_valid(b));
  DC_ASSERT(memcmp(b->orig_bytes, "abc", 3) == 0);
  DC_ASSERT_EQ(b->orig_size, 3);
  driver_free_binary(b);
  DC_ASSERT_EQ(all_hits(), 0);
}

DC_TEST(alloc_failure_returns_null) {
  reset();
  dc__mem_fail_after(1);
  DC_ASSERT(driver_alloc_binary(16) == NULL);
  DC_ASSERT_EQ(dc__bin_live_count(), 0);
}

/* dec_refc never frees: reaching 0 leaks (protocol.md row 36). */
DC_TEST(dec_to_zero_leaks_without_finding) {
  reset();
  ErlDrvBinary *b = driver_alloc_binary(8);
  DC_ASSERT_EQ(driver_binary_dec_refc(b), 0);
  DC_ASSERT_EQ(all_hits(), 0);
  DC_ASSERT_EQ(dc__bin_live_count(), 1); /* leaked, still counted */
  DC_ASSERT(!dc__bin_valid(b));          /* but unusable */
}

DC_TEST(free_after_count_reached_zero_is_reported) {
  reset();
  ErlDrvBinary *b = driver_alloc_binary(8);
  driver_binary_dec_refc(b);
  driver_free_binary(b); /* would drive the count below zero */
  DC_ASSERT_EQ(hits(DC_RULE_BIN_REFC), 1);
}

DC_TEST(double_free_is_reported) {
  reset();
  ErlDrvBinary *b = driver_alloc_binary(8);
  driver_free_binary(b);
  driver_free_binary(b);
  DC_ASSERT_EQ(hits(DC_RULE_BIN_REFC), 1);
  DC_ASSERT_EQ(dc__bin_live_count(), 0);
}

DC_TEST(use_after_free_is_reported) {
  reset();
  ErlDrvBinary *b = driver_alloc_binary(8);
  driver_free_binary(b);
  DC_ASSERT_EQ(driver_binary_get_refc(b), 0);
  DC_ASSERT_EQ(driver_binary_inc_refc(b), 0);
  DC_ASSERT_EQ(driver_binary_dec_refc(b), 0);
  DC_ASSERT(driver_realloc_binary(b, 16) == NULL);
  DC_ASSERT_EQ(hits(DC_RULE_BIN_REFC), 4);
}

DC_TEST(foreign_pointer_is_reported_and_untouched) {
  reset();
  struct {
    ErlDrvSInt size;
    char bytes[16];
  } fake = {16, "not a binary"};
  ErlDrvBinary *f = (ErlDrvBinary *)&fake;
  void *mem = driver_alloc(32);
  ErlDrvBinary *ptrs[2] = {f, mem};
  for (int i = 0; i < 2; i++) {
    DC_ASSERT_EQ(driver_binary_inc_refc(ptrs[i]), 0);
    driver_free_binary(ptrs[i]);
  }
  DC_ASSERT_EQ(hits(DC_RULE_BIN_FOREIGN), 4);
  DC_ASSERT_EQ(hits(DC_RULE_BIN_REFC), 0);
  DC_ASSERT_EQ(fake.size, 16);
  DC_ASSERT_STREQ(fake.bytes, "not a binary");
  DC_ASSERT(dc__mem_valid(mem));
  driver_free(mem);
}

DC_TEST(emulator_ref_and_unref) {
  reset();
  ErlDrvBinary *b = driver_alloc_binary(8);
  DC_ASSERT_EQ(dc__bin_ref(b, "test", NULL), 0);
  DC_ASSERT_EQ(driver_binary_get_refc(b), 2);
  driver_free_binary(b); /* driver's reference gone, emulator's remains */
  DC_ASSERT(dc__bin_valid(b));
  dc__bin_unref(b);
  DC_ASSERT(!dc__bin_valid(b));
  DC_ASSERT_EQ(dc__bin_ref(b, "test", NULL), -1); /* freed: refused */
  DC_ASSERT_EQ(hits(DC_RULE_BIN_REFC), 1);
}

static void *inc_dec(void *arg) {
  ErlDrvBinary *b = arg;
  for (int i = 0; i < 100000; i++)
    driver_binary_inc_refc(b);
  for (int i = 0; i < 100000; i++)
    driver_binary_dec_refc(b);
  return NULL;
}

/* The binary API is thread-safe: counts are atomic. */
DC_TEST(refcount_is_atomic_across_threads) {
  reset();
  ErlDrvBinary *b = driver_alloc_binary(8);
  pthread_t th[4];
  for (int i = 0; i < 4; i++)
    pthread_create(&th[i], NULL, inc_dec, b);
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  DC_ASSERT_EQ(driver_binary_get_refc(b), 1);
  driver_free_binary(b);
  DC_ASSERT_EQ(all_hits(), 0);
}
