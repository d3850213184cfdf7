/* The trace store (trace.c): arena-backed events, in-place encoding of
 * {Port,{data,Data}}, order under concurrent writers, reset. The in-place
 * encoder must give exactly the bytes the ei_x_encode_* calls give (the
 * encoding the trace used before, and what test_corpus compares against the
 * real erl's messages through the printer). */
#include <stdlib.h>
#include <string.h>

#include "support.h"

static void fresh(void) {
  dc__emu_reset(1);
  dc__findings_reset();
  dc__proc_reset();
  dc__trace_reset();
}

/* Reference: the message as ei builds it (header bytes, then segments; the
 * binary-mode shape of io.c deliver_vec_message). */
static void ref_encode(ei_x_buff *x, ErlDrvTermData port, int binary,
                       const char *h, size_t hlen, const SysIOVec *s, int n) {
  ei_x_new_with_version(x);
  ei_x_encode_tuple_header(x, 2);
  dc__x_encode_port(x, port);
  ei_x_encode_tuple_header(x, 2);
  ei_x_encode_atom(x, "data");
  if (binary && n > 0) {
    long before_tail = (long)hlen + n - 1;
    if (before_tail > 0)
      ei_x_encode_list_header(x, before_tail);
    for (size_t i = 0; i < hlen; i++)
      ei_x_encode_long(x, (unsigned char)h[i]);
    for (int i = 0; i < n; i++)
      ei_x_encode_binary(x, s[i].iov_base, (int)s[i].iov_len);
    return;
  }
  size_t total = hlen;
  for (int i = 0; !binary && i < n; i++)
    total += s[i].iov_len;
  char *flat = malloc(total + 1), *at = flat;
  if (hlen)
    memcpy(at, h, hlen), at += hlen;
  for (int i = 0; !binary && i < n; i++)
    if (s[i].iov_len)
      memcpy(at, s[i].iov_base, s[i].iov_len), at += s[i].iov_len;
  ei_x_encode_string_len(x, flat, (int)total);
  free(flat);
}

static const dc__event *last_event(void) {
  const dc__event *ev = dc__trace_first(), *last = NULL;
  for (; ev; ev = ev->next)
    last = ev;
  return last;
}

/* Records the message through dc__trace_port_data and compares bytes. */
static int same_as_ei(int binary, const char *h, size_t hlen, const SysIOVec *s,
                      int n) {
  ErlDrvTermData to = dc__proc_spawn("o"), port = DC__MK(DC__TAG_PORT, 7);
  ei_x_buff x;
  ref_encode(&x, port, binary, h, hlen, s, n);
  int ok = dc__trace_port_data(to, port, binary, h, hlen, s, n) == 0;
  const dc__event *ev = last_event();
  ok = ok && ev && ev->kind == DC__EV_MSG && ev->to == to && ev->from == port &&
       ev->len == (size_t)x.index && memcmp(ev->etf, x.buff, ev->len) == 0;
  ei_x_free(&x);
  return ok;
}

static char *pattern(size_t n) {
  char *b = malloc(n ? n : 1);
  for (size_t i = 0; i < n; i++)
    b[i] = (char)(i * 7 + 3);
  return b;
}

DC_TEST(list_mode_bytes_match_ei) {
  fresh();
  /* STRING_EXT up to 65535 bytes, then a LIST_EXT of integers; empty is
   * NIL (ei_encode_string_len's three forms). */
  size_t sizes[] = {0, 1, 2, 300, 65535, 65536, 70000};
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    char *b = pattern(sizes[k]);
    SysIOVec one = {b, sizes[k]};
    DC_ASSERT(same_as_ei(0, NULL, 0, &one, 1));
    DC_ASSERT(same_as_ei(0, "hdr", 3, &one, 1));
    free(b);
  }
  DC_ASSERT(same_as_ei(0, "hd", 2, NULL, 0));
  DC_ASSERT(same_as_ei(0, NULL, 0, NULL, 0));
}

DC_TEST(list_mode_flattens_segments) {
  fresh();
  char *big = pattern(40000);
  SysIOVec v[4] = {{"ab", 2}, {NULL, 0}, {big, 40000}, {big, 30000}};
  DC_ASSERT(same_as_ei(0, "h", 1, v, 2));
  DC_ASSERT(same_as_ei(0, "h", 1, v, 4)); /* 70003 bytes: a LIST_EXT */
  free(big);
}

DC_TEST(binary_mode_bytes_match_ei) {
  fresh();
  char *big = pattern(100000);
  SysIOVec v[3] = {{"abc", 3}, {"", 0}, {big, 100000}};
  DC_ASSERT(same_as_ei(1, NULL, 0, v, 1)); /* plain binary */
  DC_ASSERT(same_as_ei(1, "xy", 2, v, 1)); /* [120,121|<<"abc">>] */
  DC_ASSERT(same_as_ei(1, NULL, 0, v, 3)); /* [<<..>>,<<>>|<<..>>] */
  DC_ASSERT(same_as_ei(1, "xy", 2, v + 1, 1));
  DC_ASSERT(same_as_ei(1, "xy", 2, NULL, 0)); /* header only: a list */
  DC_ASSERT(same_as_ei(1, NULL, 0, NULL, 0)); /* [] */
  free(big);
}

DC_TEST(printed_forms) {
  fresh();
  ErlDrvTermData to = dc__proc_spawn("o"), port = DC__MK(DC__TAG_PORT, 3);
  SysIOVec v[2] = {{"hi", 2}, {"!", 1}};
  char b[128];
  dc__trace_port_data(to, port, 0, "x", 1, v, 2);
  dc__trace_port_data(to, port, 1, "x", 1, v, 2);
  DC_ASSERT_STREQ(dc_test_event(0, b, sizeof b),
                  "<0.80.0> <- {#Port<0.3>,{data,[120,104,105,33]}}");
  DC_ASSERT_STREQ(dc_test_event(1, b, sizeof b),
                  "<0.80.0> <- {#Port<0.3>,{data,[120,<<104,105>>|<<33>>]}}");
}

/* Many events of every size, across chunk boundaries and with events larger
 * than a chunk: each keeps its own bytes, in order, until reset. */
DC_TEST(events_survive_chunk_boundaries) {
  fresh();
  ErlDrvTermData to = dc__proc_spawn("o");
  char *buf = pattern(200000);
  size_t n = 0;
  for (int round = 0; round < 2; round++) { /* the second reuses memory */
    for (size_t len = 2; len < 200000; len = len * 3 / 2 + 1, n++) {
      buf[0] = (char)131;
      dc__trace_add(DC__EV_MSG, to, DC__NIL, buf, len);
    }
    DC_ASSERT_EQ(dc__trace_count(), n);
    size_t len = 2, i = 0;
    for (const dc__event *ev = dc__trace_first(); ev; ev = ev->next, i++) {
      DC_ASSERT_EQ(ev->seq, i);
      DC_ASSERT_EQ(ev->len, len);
      DC_ASSERT(memcmp(ev->etf + 1, buf + 1, len - 1) == 0);
      DC_ASSERT(((uintptr_t)ev & 7) == 0);
      len = len * 3 / 2 + 1;
    }
    DC_ASSERT_EQ(i, n);
    dc__trace_reset();
    DC_ASSERT_EQ(dc__trace_count(), 0);
    DC_ASSERT(dc__trace_first() == NULL);
    n = 0;
  }
  free(buf);
}

DC_TEST(reserve_without_commit_is_not_traced) {
  fresh();
  dc__event *ev = dc__trace_reserve(DC__EV_MSG, DC__NIL, DC__NIL, 2);
  DC_ASSERT(ev != NULL);
  DC_ASSERT_EQ(dc__trace_count(), 0);
  DC_ASSERT(dc__trace_first() == NULL);
  dc__trace_add(DC__EV_OPEN, DC__NIL, DC__NIL, "\203j", 2);
  DC_ASSERT_EQ(dc__trace_count(), 1);
  DC_ASSERT_EQ(dc__trace_first()->kind, DC__EV_OPEN);
  dc__g.trace_enabled = 0;
  DC_ASSERT(dc__trace_reserve(DC__EV_MSG, DC__NIL, DC__NIL, 2) == NULL);
  SysIOVec one = {"a", 1};
  DC_ASSERT_EQ(dc__trace_port_data(DC__NIL, DC__MK(DC__TAG_PORT, 1), 0, NULL, 0,
                                   &one, 1),
               0);
  DC_ASSERT_EQ(dc__trace_count(), 1);
}

/* Emulator threads append at once (port-locking drivers): every event is
 * there once, list order is seq order, each thread's events keep their
 * order, and a reader walking meanwhile sees only complete events. */
#define WRITERS 4
#define PER_WRITER 5000

static void *writer(void *arg) {
  long t = (long)arg;
  ErlDrvTermData port = DC__MK(DC__TAG_PORT, t + 1);
  char data[64];
  for (int i = 0; i < PER_WRITER; i++) {
    size_t n = (size_t)(i % 60) + 4;
    memset(data, (int)t, n);
    memcpy(data, &i, sizeof i);
    SysIOVec seg = {data, n};
    dc__trace_port_data(DC__NIL, port, 1, NULL, 0, &seg, 1);
  }
  return NULL;
}

static void *reader(void *arg) {
  (void)arg;
  size_t seen = 0;
  const dc__event *last = NULL;
  while (seen < WRITERS * PER_WRITER) {
    const dc__event *ev = last ? last->next : dc__trace_first();
    for (; ev; ev = ev->next, seen++) {
      if (ev->kind != DC__EV_MSG || dc__etf_check(ev->etf, ev->len, NULL))
        return (void *)1;
      last = ev;
    }
  }
  return NULL;
}

DC_TEST(concurrent_writers_keep_order) {
  fresh();
  pthread_t w[WRITERS], r;
  pthread_create(&r, NULL, reader, NULL);
  for (long t = 0; t < WRITERS; t++)
    pthread_create(&w[t], NULL, writer, (void *)t);
  for (int t = 0; t < WRITERS; t++)
    pthread_join(w[t], NULL);
  void *bad;
  pthread_join(r, &bad);
  DC_ASSERT(bad == NULL);
  DC_ASSERT_EQ(dc__trace_count(), WRITERS * PER_WRITER);
  int next[WRITERS] = {0};
  uint64_t seq = 0;
  for (const dc__event *ev = dc__trace_first(); ev; ev = ev->next, seq++) {
    DC_ASSERT_EQ(ev->seq, seq);
    long t = (long)DC__IDX(ev->from) - 1;
    DC_ASSERT(t >= 0 && t < WRITERS);
    /* payload starts after "131 {Port,{data," and BINARY_EXT + length */
    const char *bin = ev->etf + ev->len - ((size_t)next[t] % 60 + 4);
    int i;
    memcpy(&i, bin, sizeof i);
    DC_ASSERT_EQ(i, next[t]);
    next[t]++;
  }
  for (int t = 0; t < WRITERS; t++)
    DC_ASSERT_EQ(next[t], PER_WRITER);
}
