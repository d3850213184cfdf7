/* The driver queue (enq/pushq/deq/peek...) and the port data lock. */
#include <string.h>
#include <time.h>

#include "support.h"

/* Some tests keep using a binary after the driver's free on purpose (the
 * queue still references it, or the use is the misuse under test). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif

/* A fresh emulator with port slot 0 open, handed out as an ErlDrvPort. */
static ErlDrvPort setup(void) {
  dc__emu_reset(1);
  dc__findings_reset();
  dc__port *p = &dc__g.ports[0];
  p->idx = 0;
  p->id = DC__MK(DC__TAG_PORT, 3);
  p->state = DC__PORT_OPEN;
  dc__g.nports = 1;
  return (ErlDrvPort)p;
}

static dc__port *port_of(ErlDrvPort h) { return (dc__port *)h; }

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

/* The queue contents flattened into buf (NUL-terminated). */
static const char *contents(ErlDrvPort port, char *buf, size_t cap) {
  int n = 0;
  SysIOVec *iov = driver_peekq(port, &n);
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    DC_ASSERT(at + iov[i].iov_len < cap);
    memcpy(buf + at, iov[i].iov_base, iov[i].iov_len);
    at += iov[i].iov_len;
  }
  buf[at] = 0;
  return buf;
}

DC_TEST(enq_then_deq_partially) {
  ErlDrvPort port = setup();
  char buf[64];
  DC_ASSERT_EQ(driver_enq(port, "hello", 5), 0);
  DC_ASSERT_EQ(driver_enq(port, "world", 5), 0);
  DC_ASSERT_EQ(driver_sizeq(port), 10);
  DC_ASSERT_STREQ(contents(port, buf, sizeof buf), "helloworld");
  DC_ASSERT_EQ(driver_deq(port, 7), 3); /* returns bytes left */
  DC_ASSERT_STREQ(contents(port, buf, sizeof buf), "rld");
  int n = 0;
  driver_peekq(port, &n);
  DC_ASSERT_EQ(n, 1); /* first segment consumed, second cut */
  DC_ASSERT_EQ(driver_deq(port, 3), 0);
  DC_ASSERT_EQ(driver_sizeq(port), 0);
  DC_ASSERT_EQ(dc__bin_live_count(), 0); /* queue copies released */
  DC_ASSERT_EQ(all_hits(), 0);
}

/* len 0 is a no-op returning 0, even before the port check (io.c). */
DC_TEST(zero_length_is_noop) {
  ErlDrvPort port = setup();
  DC_ASSERT_EQ(driver_enq(port, NULL, 0), 0);
  DC_ASSERT_EQ(driver_pushq(port, NULL, 0), 0);
  DC_ASSERT_EQ(driver_enq_bin(port, NULL, 0, 0), 0);
  DC_ASSERT_EQ(driver_sizeq(port), 0);
  port_of(port)->state = DC__PORT_DEAD;
  DC_ASSERT_EQ(driver_enq(port, NULL, 0), 0);
}

/* Invalid port: -1, (ErlDrvSizeT)-1, NULL with *vlen -1 (protocol.md rows
 * 40-49; driver_SUITE:peek_non_existing_queue). */
DC_TEST(invalid_port_return_values) {
  ErlDrvPort port = setup();
  DC_ASSERT_EQ(driver_enq(port, "abc", 3), 0);
  port_of(port)->state = DC__PORT_DEAD;
  ErlDrvBinary *b = driver_alloc_binary(4);
  SysIOVec iov = {b->orig_bytes, 4};
  ErlIOVec ev = {1, 4, &iov, &b}, out;
  int vlen = 7;
  DC_ASSERT_EQ(driver_enq(port, "x", 1), -1);
  DC_ASSERT_EQ(driver_pushq(port, "x", 1), -1);
  DC_ASSERT_EQ(driver_enq_bin(port, b, 0, 4), -1);
  DC_ASSERT_EQ(driver_pushq_bin(port, b, 0, 4), -1);
  DC_ASSERT_EQ(driver_enqv(port, &ev, 0), -1);
  DC_ASSERT_EQ(driver_pushqv(port, &ev, 0), -1);
  DC_ASSERT(driver_deq(port, 1) == (ErlDrvSizeT)-1);
  DC_ASSERT(driver_sizeq(port) == (ErlDrvSizeT)-1);
  DC_ASSERT(driver_peekqv(port, &out) == (ErlDrvSizeT)-1);
  DC_ASSERT(driver_peekq(port, &vlen) == NULL);
  DC_ASSERT_EQ(vlen, -1);
  DC_ASSERT(driver_pdl_create(port) == NULL);
  DC_ASSERT_EQ(driver_binary_get_refc(b), 1); /* no reference taken */
  DC_ASSERT(driver_sizeq((ErlDrvPort)&vlen) == (ErlDrvSizeT)-1);
  driver_free_binary(b);
}

DC_TEST(pushq_prepends) {
  ErlDrvPort port = setup();
  char buf[64];
  driver_enq(port, "B", 1);
  driver_pushq(port, "A", 1);
  driver_enq(port, "C", 1);
  driver_pushq(port, "0", 1);
  DC_ASSERT_STREQ(contents(port, buf, sizeof buf), "0ABC");
  DC_ASSERT_EQ(driver_sizeq(port), 4);
}

DC_TEST(deq_beyond_size_fails_and_removes_nothing) {
  ErlDrvPort port = setup();
  char buf[64];
  driver_enq(port, "abc", 3);
  DC_ASSERT(driver_deq(port, 4) == (ErlDrvSizeT)-1);
  DC_ASSERT_EQ(driver_sizeq(port), 3);
  DC_ASSERT_STREQ(contents(port, buf, sizeof buf), "abc");
  DC_ASSERT_EQ(hits(DC_RULE_QUEUE_BAD_DEQ), 1);
}

/* Plain buffers are copied into a new binary (erl_io_queue.c). */
DC_TEST(enq_copies_buffer_into_binary) {
  ErlDrvPort port = setup();
  char src[4] = "abc";
  driver_enq(port, src, 3);
  src[0] = 'X';
  ErlIOVec ev;
  DC_ASSERT_EQ(driver_peekqv(port, &ev), 3);
  DC_ASSERT(ev.binv[0] != NULL && dc__bin_valid(ev.binv[0]));
  DC_ASSERT(ev.iov[0].iov_base == ev.binv[0]->orig_bytes);
  DC_ASSERT(memcmp(ev.iov[0].iov_base, "abc", 3) == 0);
  DC_ASSERT_EQ(driver_binary_get_refc(ev.binv[0]), 1);
}

DC_TEST(enq_bin_takes_reference_and_deq_drops_it) {
  ErlDrvPort port = setup();
  ErlDrvBinary *b = driver_alloc_binary(10);
  memcpy(b->orig_bytes, "0123456789", 10);
  DC_ASSERT_EQ(driver_enq_bin(port, b, 2, 5), 0);
  DC_ASSERT_EQ(driver_binary_get_refc(b), 2);
  DC_ASSERT_EQ(driver_pushq_bin(port, b, 0, 1), 0);
  DC_ASSERT_EQ(driver_binary_get_refc(b), 3);
  int n = 0;
  SysIOVec *iov = driver_peekq(port, &n);
  DC_ASSERT_EQ(n, 2);
  DC_ASSERT(iov[0].iov_base == b->orig_bytes); /* by reference, no copy */
  DC_ASSERT(iov[1].iov_base == b->orig_bytes + 2);
  DC_ASSERT_EQ(iov[1].iov_len, 5);
  DC_ASSERT_EQ(driver_deq(port, 1), 5);
  DC_ASSERT_EQ(driver_binary_get_refc(b), 2);
  DC_ASSERT_EQ(driver_deq(port, 4), 1); /* partial: reference kept */
  DC_ASSERT_EQ(driver_binary_get_refc(b), 2);
  DC_ASSERT_EQ(driver_deq(port, 1), 0);
  DC_ASSERT_EQ(driver_binary_get_refc(b), 1);
  driver_free_binary(b);
  DC_ASSERT_EQ(all_hits(), 0);
}

/* The driver may free its own reference while the queue holds one. */
DC_TEST(queued_binary_outlives_driver_reference) {
  ErlDrvPort port = setup();
  char buf[16];
  ErlDrvBinary *b = driver_alloc_binary(3);
  memcpy(b->orig_bytes, "xyz", 3);
  driver_enq_bin(port, b, 0, 3);
  driver_free_binary(b);
  DC_ASSERT(dc__bin_valid(b));
  DC_ASSERT_STREQ(contents(port, buf, sizeof buf), "xyz");
  driver_deq(port, 3);
  DC_ASSERT(!dc__bin_valid(b));
  DC_ASSERT_EQ(all_hits(), 0);
}

/* peekqv: vsize/size/iov/binv point into the queue; empty queue gives
 * vsize 0, size 0, NULL arrays (erl_io_queue.c erts_ioq_peekqv). */
DC_TEST(peekqv_layout) {
  ErlDrvPort port = setup();
  ErlIOVec ev = {99, 99, (SysIOVec *)&ev, (ErlDrvBinary **)&ev};
  DC_ASSERT_EQ(driver_peekqv(port, &ev), 0);
  DC_ASSERT_EQ(ev.vsize, 0);
  DC_ASSERT_EQ(ev.size, 0);
  DC_ASSERT(ev.iov == NULL && ev.binv == NULL);
  driver_enq(port, "ab", 2);
  driver_enq(port, "cde", 3);
  driver_enq(port, "f", 1);
  DC_ASSERT_EQ(driver_peekqv(port, &ev), 6);
  DC_ASSERT_EQ(ev.vsize, 3);
  DC_ASSERT_EQ(ev.size, 6);
  int n = 0;
  DC_ASSERT(ev.iov == driver_peekq(port, &n));
  DC_ASSERT_EQ(n, 3);
  DC_ASSERT_EQ(ev.iov[1].iov_len, 3);
  for (int i = 0; i < 3; i++)
    DC_ASSERT(ev.iov[i].iov_base == ev.binv[i]->orig_bytes);
}

/* driver_peekq returns a pointer INTO the queue, not a copy. */
DC_TEST(peekq_points_into_queue) {
  ErlDrvPort port = setup();
  int n = 0;
  DC_ASSERT(driver_peekq(port, &n) == NULL);
  DC_ASSERT_EQ(n, 0);
  driver_enq(port, "aa", 2);
  driver_enq(port, "bb", 2);
  SysIOVec *a = driver_peekq(port, &n);
  DC_ASSERT(a == port_of(port)->q.iov + port_of(port)->q.head);
  driver_deq(port, 2);
  SysIOVec *b = driver_peekq(port, &n);
  DC_ASSERT(b == a + 1); /* the same array, one entry further */
  DC_ASSERT_EQ(n, 1);
  driver_deq(port, 1); /* a partial deq is visible through the pointer */
  DC_ASSERT_EQ(b->iov_len, 1);
}

/* skip drops whole entries and cuts into the next one, advancing the
 * caller's iov entry in place as erl_io_queue.c's skip() does. */
DC_TEST(enqv_skip_and_references) {
  ErlDrvPort port = setup();
  char buf[64];
  ErlDrvBinary *b = driver_alloc_binary(5);
  memcpy(b->orig_bytes, "defgh", 5);
  SysIOVec iov[3] = {{NULL, 0}, {"abc", 3}, {b->orig_bytes, 5}};
  ErlDrvBinary *binv[3] = {NULL, NULL, b};
  ErlIOVec ev = {3, 8, iov, binv};
  DC_ASSERT_EQ(driver_enqv(port, &ev, 4), 0);
  DC_ASSERT_EQ(driver_sizeq(port), 4);
  DC_ASSERT_STREQ(contents(port, buf, sizeof buf), "efgh");
  DC_ASSERT_EQ(driver_binary_get_refc(b), 2);
  DC_ASSERT(iov[2].iov_base == b->orig_bytes + 1); /* caller's entry moved */
  DC_ASSERT_EQ(iov[2].iov_len, 4);
  DC_ASSERT_EQ(all_hits(), 0);
}

DC_TEST(enqv_drops_zero_length_entries_and_copies_unowned) {
  ErlDrvPort port = setup();
  char buf[64];
  char data[] = "xy";
  SysIOVec iov[4] = {{NULL, 0}, {data, 2}, {data, 0}, {"z", 1}};
  ErlDrvBinary *binv[4] = {NULL, NULL, NULL, NULL};
  ErlIOVec ev = {4, 3, iov, binv};
  DC_ASSERT_EQ(driver_enqv(port, &ev, 0), 0);
  int n = 0;
  driver_peekq(port, &n);
  DC_ASSERT_EQ(n, 2);
  data[0] = 'Q'; /* the queue holds a copy */
  DC_ASSERT_STREQ(contents(port, buf, sizeof buf), "xyz");
}

DC_TEST(enqv_skip_of_whole_vector) {
  ErlDrvPort port = setup();
  SysIOVec iov[1] = {{"abc", 3}};
  ErlDrvBinary *binv[1] = {NULL};
  ErlIOVec ev = {1, 3, iov, binv};
  DC_ASSERT_EQ(driver_enqv(port, &ev, 3), 0); /* nothing left: 0 */
  DC_ASSERT_EQ(driver_sizeq(port), 0);
  DC_ASSERT_EQ(all_hits(), 0);
  DC_ASSERT_EQ(driver_pushqv(port, &ev, 5), 0); /* beyond: reported */
  DC_ASSERT_EQ(driver_sizeq(port), 0);
  DC_ASSERT_EQ(hits(DC_RULE_QUEUE_BAD_DEQ), 1);
}

DC_TEST(pushqv_keeps_vector_order_in_front) {
  ErlDrvPort port = setup();
  char buf[64];
  driver_enq(port, "X", 1);
  SysIOVec iov[3] = {{NULL, 0}, {"ab", 2}, {"cd", 2}};
  ErlDrvBinary *binv[3] = {NULL, NULL, NULL};
  ErlIOVec ev = {3, 4, iov, binv};
  DC_ASSERT_EQ(driver_pushqv(port, &ev, 1), 0);
  DC_ASSERT_STREQ(contents(port, buf, sizeof buf), "bcdX");
  DC_ASSERT_EQ(driver_sizeq(port), 4);
}

DC_TEST(enqv_size_mismatch_is_reported) {
  ErlDrvPort port = setup();
  SysIOVec iov[1] = {{"abc", 3}};
  ErlDrvBinary *binv[1] = {NULL};
  ErlIOVec ev = {1, 10, iov, binv};
  DC_ASSERT_EQ(driver_enqv(port, &ev, 0), 0);
  DC_ASSERT_EQ(driver_sizeq(port), 3); /* what the entries really hold */
  DC_ASSERT_EQ(hits(DC_RULE_QUEUE_BAD_DEQ), 1);
}

DC_TEST(enq_bin_out_of_range_is_reported) {
  ErlDrvPort port = setup();
  ErlDrvBinary *b = driver_alloc_binary(4);
  DC_ASSERT_EQ(driver_enq_bin(port, b, 2, 2), 0);
  DC_ASSERT_EQ(hits(DC_RULE_BIN_RANGE), 0);
  driver_enq_bin(port, b, 3, 2);
  DC_ASSERT_EQ(hits(DC_RULE_BIN_RANGE), 1);
}

DC_TEST(enq_bin_of_foreign_or_freed_binary_is_refused) {
  ErlDrvPort port = setup();
  char fake[32] = {0};
  DC_ASSERT_EQ(driver_enq_bin(port, (ErlDrvBinary *)fake, 0, 4), -1);
  DC_ASSERT_EQ(hits(DC_RULE_BIN_FOREIGN), 1);
  ErlDrvBinary *b = driver_alloc_binary(4);
  driver_free_binary(b);
  DC_ASSERT_EQ(driver_pushq_bin(port, b, 0, 4), -1);
  DC_ASSERT_EQ(hits(DC_RULE_BIN_REFC), 1);
  DC_ASSERT_EQ(driver_sizeq(port), 0);
}

DC_TEST(enq_out_of_memory_returns_minus_one) {
  ErlDrvPort port = setup();
  dc__mem_fail_after(1);
  DC_ASSERT_EQ(driver_enq(port, "abc", 3), -1);
  DC_ASSERT_EQ(driver_sizeq(port), 0);
  SysIOVec iov[2] = {{"ab", 2}, {"cd", 2}};
  ErlDrvBinary *binv[2] = {NULL, NULL};
  ErlIOVec ev = {2, 4, iov, binv};
  dc__mem_fail_after(2); /* second copy fails: nothing queued at all */
  DC_ASSERT_EQ(driver_enqv(port, &ev, 0), -1);
  DC_ASSERT_EQ(driver_sizeq(port), 0);
  DC_ASSERT_EQ(dc__bin_live_count(), 0);
}

DC_TEST(queue_clear_releases_everything) {
  ErlDrvPort port = setup();
  ErlDrvBinary *b = driver_alloc_binary(8);
  driver_enq_bin(port, b, 0, 8);
  driver_enq(port, "abc", 3);
  DC_ASSERT_EQ(dc__queue_size(port_of(port)), 11);
  DC_ASSERT_EQ(dc__queue_clear(port_of(port)), 11);
  DC_ASSERT_EQ(dc__queue_size(port_of(port)), 0);
  DC_ASSERT_EQ(driver_binary_get_refc(b), 1);
  DC_ASSERT_EQ(dc__bin_live_count(), 1);
  driver_free_binary(b);
}

/* Mixed enq/pushq stays in order and O(1) amortized. */
DC_TEST(many_pushq_and_enq_keep_order) {
  ErlDrvPort port = setup();
  enum { N = 200000 };
  clock_t t0 = clock();
  for (int i = 0; i < N; i++) {
    char c = (char)('a' + i % 26);
    if (i % 2)
      driver_enq(port, &c, 1);
    else
      driver_pushq(port, &c, 1);
  }
  DC_ASSERT_EQ(driver_sizeq(port), N);
  int n = 0;
  SysIOVec *iov = driver_peekq(port, &n);
  DC_ASSERT_EQ(n, N);
  /* front: pushed in reverse (even i descending); back: odd i ascending */
  DC_ASSERT_EQ(*iov[0].iov_base, (char)('a' + (N - 2) % 26));
  DC_ASSERT_EQ(*iov[N / 2].iov_base, (char)('a' + 1));
  DC_ASSERT_EQ(*iov[N - 1].iov_base, (char)('a' + (N - 1) % 26));
  DC_ASSERT(port_of(port)->q.cap <= 4 * (size_t)N);
  DC_ASSERT((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
}

/* PDL refcount lifecycle (io.c driver_pdl_*): the port holds one reference,
 * lock holds a temporary one, destroyed at 0. */
DC_TEST(pdl_refcount_lifecycle) {
  ErlDrvPort port = setup();
  ErlDrvPDL pdl = driver_pdl_create(port);
  DC_ASSERT(pdl != NULL);
  DC_ASSERT(driver_pdl_create(port) == NULL); /* one per port */
  DC_ASSERT_EQ(driver_pdl_get_refc(pdl), 1);
  driver_pdl_lock(pdl);
  DC_ASSERT_EQ(driver_pdl_get_refc(pdl), 2);
  driver_pdl_unlock(pdl);
  DC_ASSERT_EQ(driver_pdl_get_refc(pdl), 1);
  DC_ASSERT_EQ(driver_pdl_inc_refc(pdl), 2);
  dc__pdl_port_gone(port_of(port)); /* the port's reference */
  DC_ASSERT(port_of(port)->pdl == NULL);
  DC_ASSERT_EQ(driver_pdl_get_refc(pdl), 1);
  DC_ASSERT_EQ(driver_pdl_dec_refc(pdl), 0); /* destroyed */
  DC_ASSERT_EQ(driver_pdl_get_refc(pdl), 0);
  DC_ASSERT_EQ(dc__blk_live(DC__BLK_PDL, NULL), 0);
}

DC_TEST(pdl_lock_keeps_it_alive_past_the_port) {
  ErlDrvPort port = setup();
  ErlDrvPDL pdl = driver_pdl_create(port);
  driver_pdl_lock(pdl);
  dc__pdl_port_gone(port_of(port));
  DC_ASSERT_EQ(driver_pdl_get_refc(pdl), 1); /* the lock's reference */
  driver_pdl_unlock(pdl);                    /* last one: destroyed */
  DC_ASSERT_EQ(dc__blk_live(DC__BLK_PDL, NULL), 0);
}

DC_TEST(pdl_relock_and_foreign_unlock_are_reported) {
  ErlDrvPort port = setup();
  ErlDrvPDL pdl = driver_pdl_create(port);
  driver_pdl_unlock(pdl); /* not held */
  DC_ASSERT_EQ(hits(DC_RULE_THREAD_UNLOCK_NOT_OWNER), 1);
  driver_pdl_lock(pdl);
  driver_pdl_lock(pdl); /* would deadlock in ERTS */
  DC_ASSERT_EQ(hits(DC_RULE_THREAD_RELOCK), 1);
  driver_pdl_unlock(pdl);
  DC_ASSERT_EQ(driver_pdl_get_refc(pdl), 1);
}

DC_TEST(queue_without_held_pdl_is_reported) {
  ErlDrvPort port = setup();
  ErlDrvPDL pdl = driver_pdl_create(port);
  driver_enq(port, "a", 1); /* PDL exists but is not held */
  DC_ASSERT_EQ(hits(DC_RULE_QUEUE_NO_PDL), 1);
  driver_pdl_lock(pdl);
  driver_enq(port, "b", 1);
  driver_sizeq(port);
  driver_pdl_unlock(pdl);
  DC_ASSERT_EQ(hits(DC_RULE_QUEUE_NO_PDL), 1);
}

typedef struct {
  ErlDrvPort port;
  ErlDrvPDL pdl;
  int rounds;
} worker_arg;

static void *pdl_worker(void *argp) {
  worker_arg *a = argp;
  for (int i = 0; i < a->rounds; i++) {
    driver_pdl_lock(a->pdl);
    driver_enq(a->port, "abcd", 4);
    driver_pushq(a->port, "xy", 2);
    driver_deq(a->port, 2);
    driver_pdl_unlock(a->pdl);
  }
  return NULL;
}

/* TS(PDL): queue functions from non-emulator threads holding the PDL. */
DC_TEST(queue_from_threads_with_pdl) {
  ErlDrvPort port = setup();
  ErlDrvPDL pdl = driver_pdl_create(port);
  worker_arg a = {port, pdl, 20000};
  pthread_t th[3];
  for (int i = 0; i < 3; i++)
    pthread_create(&th[i], NULL, pdl_worker, &a);
  for (int i = 0; i < 2000; i++) { /* emulator side meanwhile */
    ErlDrvSizeT s = dc__queue_size(port_of(port));
    DC_ASSERT_EQ(s % 4, 0); /* never sees a half-done round */
  }
  for (int i = 0; i < 3; i++)
    pthread_join(th[i], NULL);
  DC_ASSERT_EQ(dc__queue_size(port_of(port)), 3 * 20000 * 4);
  DC_ASSERT_EQ(all_hits(), 0);
}

static void *enq_no_pdl(void *port) {
  driver_enq(port, "a", 1);
  return NULL;
}

DC_TEST(queue_from_thread_without_pdl_is_reported) {
  ErlDrvPort port = setup();
  pthread_t th;
  pthread_create(&th, NULL, enq_no_pdl, port);
  pthread_join(th, NULL);
  DC_ASSERT_EQ(hits(DC_RULE_QUEUE_NO_PDL), 1);
}

static void *peek_dead(void *argp) {
  worker_arg *a = argp;
  driver_pdl_lock(a->pdl);
  int vlen = 0;
  a->rounds = driver_peekq(a->port, &vlen) == NULL && vlen < 0 &&
              driver_sizeq(a->port) == (ErlDrvSizeT)-1;
  driver_pdl_unlock(a->pdl);
  return NULL;
}

/* driver_SUITE:peek_non_existing_queue: a thread keeps the PDL after the
 * port died; queue calls then see an invalid port. */
DC_TEST(peek_non_existing_queue) {
  ErlDrvPort port = setup();
  ErlDrvPDL pdl = driver_pdl_create(port);
  driver_pdl_inc_refc(pdl); /* the driver's reference for its thread */
  driver_pdl_lock(pdl);
  driver_enq(port, "abc", 3);
  driver_pdl_unlock(pdl);
  dc__queue_clear(port_of(port));
  dc__pdl_port_gone(port_of(port));
  port_of(port)->state = DC__PORT_DEAD;
  worker_arg a = {port, pdl, 0};
  pthread_t th;
  pthread_create(&th, NULL, peek_dead, &a);
  pthread_join(th, NULL);
  DC_ASSERT_EQ(a.rounds, 1);
  DC_ASSERT_EQ(driver_pdl_dec_refc(pdl), 0);
  DC_ASSERT_EQ(dc__bin_live_count(), 0);
}
