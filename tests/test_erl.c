/* Erlang-side model: processes, atoms, the trace, ~w printing of ETF.
 * Expected strings were produced by io:format("~w~n", [T]) on OTP 25.2.3. */
#include <math.h>
#include <pthread.h>

#include "support.h"

/* A fresh model without touching other areas. */
static void fresh(void) {
  dc__proc_reset();
  dc__trace_reset();
  dc__g.trace_enabled = 1;
}

/* Prints the term x holds (encoded with a version byte). */
static const char *show(ei_x_buff *x, char *buf, size_t cap) {
  if (dc__etf_print(x->buff, (size_t)x->index, buf, cap) != 0)
    return "<invalid>";
  return buf;
}

#define EXPECT_TERM(expected, ...)                                             \
  do {                                                                         \
    ei_x_buff x_;                                                              \
    char b_[512];                                                              \
    ei_x_new_with_version(&x_);                                                \
    __VA_ARGS__;                                                               \
    DC_ASSERT_STREQ(show(&x_, b_, sizeof b_), expected);                       \
    ei_x_free(&x_);                                                            \
  } while (0)

static const char *show_bytes(const unsigned char *etf, size_t n, char *buf,
                              size_t cap) {
  return dc__etf_print((const char *)etf, n, buf, cap) == 0 ? buf : "<invalid>";
}

DC_TEST(print_integers) {
  EXPECT_TERM("0", ei_x_encode_long(&x_, 0));
  EXPECT_TERM("-5", ei_x_encode_long(&x_, -5));
  EXPECT_TERM("123456789", ei_x_encode_long(&x_, 123456789));
  EXPECT_TERM("18446744073709551615", ei_x_encode_ulonglong(&x_, ~0ULL));
  EXPECT_TERM("-9223372036854775808",
              ei_x_encode_longlong(&x_, (long long)(1ULL << 63)));
  /* term_to_binary(-12345678901234567890123) */
  static const unsigned char big[] = {131, 110, 10, 1,   203, 68,  66,
                                      113, 118, 78, 182, 66,  157, 2};
  char b[128];
  DC_ASSERT_STREQ(show_bytes(big, sizeof big, b, sizeof b),
                  "-12345678901234567890123");
}

DC_TEST(print_floats_like_otp25) {
  static const struct {
    double d;
    const char *s;
  } t[] = {{0.0, "0.0"},
           {-0.0, "-0.0"},
           {1.0, "1.0"},
           {0.1, "0.1"},
           {100.0, "100.0"},
           {1000.0, "1.0e3"},
           {123456.0, "123456.0"},
           {12340.0, "12340.0"},
           {1234.5, "1234.5"},
           {1.0e15, "1.0e15"},
           {123456789012345680.0, "1.2345678901234568e17"},
           {0.001, "0.001"},
           {0.0001, "0.0001"},
           {1.0e-5, "1.0e-5"},
           {0.0001234, "1.234e-4"},
           {0.001234, "0.001234"},
           {1.7976931348623157e308, "1.7976931348623157e308"},
           {5.0e-324, "5.0e-324"},
           {9007199254740993.0, "9.007199254740992e15"},
           {4503599627370497.0, "4503599627370497.0"},
           {450359962737049.7, "450359962737049.7"},
           {2.0 / 3, "0.6666666666666666"},
           {1.0e9, "1.0e9"},
           {-1.5e-7, "-1.5e-7"},
           {123456789.0, "123456789.0"},
           {12345678901.0, "12345678901.0"},
           {1.0e-4 * 1.5, "1.5000000000000001e-4"},
           {99.5, "99.5"}};
  for (size_t i = 0; i < sizeof t / sizeof *t; i++)
    EXPECT_TERM(t[i].s, ei_x_encode_double(&x_, t[i].d));
}

DC_TEST(old_float_ext_reads_exactly_its_31_bytes) {
  /* FLOAT_EXT is 31 bytes of text; ei_decode_double's sscanf ran on into
   * following digits (found by drvcheck_fuzz_scenario: a call's "# term"
   * comment changed with whatever bytes followed the payload). */
  char a[1 + 1 + 31 + 8], b[1 + 1 + 31 + 1], pa[64], pb[64];
  a[0] = b[0] = (char)131;
  a[1] = b[1] = ERL_FLOAT_EXT;
  memset(a + 2, '1', 31 + 8);
  memset(a + 2 + 31, '2', 8); /* trailing bytes, not part of the float */
  memset(b + 2, '1', 31);
  b[2 + 31] = '\0';
  DC_ASSERT_EQ(dc__etf_print(a, sizeof a, pa, sizeof pa), 0);
  DC_ASSERT_EQ(dc__etf_print(b, sizeof b, pb, sizeof pb), 0);
  DC_ASSERT_STREQ(pa, pb);
  /* fewer than 31 bytes left: invalid, never read past the buffer */
  DC_ASSERT_EQ(dc__etf_check(a, 2 + 30, NULL), -1);
}

DC_TEST(print_atoms_quoted_when_needed) {
  static const struct {
    const char *name, *s;
  } t[] = {
      {"a", "a"},           {"aB", "aB"},
      {"a_b@c1", "a_b@c1"}, {"A", "'A'"},
      {"EXIT", "'EXIT'"},   {"a b", "'a b'"},
      {"", "''"},           {"and", "'and'"},
      {"end", "'end'"},     {"maybe", "maybe"},
      {"it's", "'it\\'s'"}, {"a\\b", "'a\\\\b'"},
      {"\n", "'\\n'"},      {"\001", "'\\001'"},
      {"\x7f", "'\\d'"},    {"_a", "'_a'"},
      {"1a", "'1a'"},       {"\a\b\t\v\f\r\x1b", "'\\007\\b\\t\\v\\f\\r\\e'"},
      {"true", "true"}};
  for (size_t i = 0; i < sizeof t / sizeof *t; i++)
    EXPECT_TERM(t[i].s, ei_x_encode_atom(&x_, t[i].name));
  /* Latin-1 letters: lower-case start is a plain name, upper-case quoted. */
  EXPECT_TERM(
      "\xc3\xa9t\xc3\xa9",
      ei_x_encode_atom_len_as(&x_, "\xe9t\xe9", 3, ERLANG_LATIN1, ERLANG_UTF8));
  EXPECT_TERM("'\xc3\x89'", ei_x_encode_atom_len_as(
                                &x_, "\xc9", 1, ERLANG_LATIN1, ERLANG_UTF8));
  EXPECT_TERM("'a\\x{3B1}'", ei_x_encode_atom_len_as(&x_, "a\xce\xb1", 3,
                                                     ERLANG_UTF8, ERLANG_UTF8));
}

DC_TEST(print_lists_and_strings) {
  EXPECT_TERM("[]", ei_x_encode_empty_list(&x_));
  EXPECT_TERM("[104,105]", ei_x_encode_string(&x_, "hi"));
  EXPECT_TERM("[1,2]", ei_x_encode_list_header(&x_, 2);
              ei_x_encode_long(&x_, 1); ei_x_encode_long(&x_, 2);
              ei_x_encode_empty_list(&x_));
  /* improper: [1|<<2>>] */
  EXPECT_TERM("[1|<<2>>]", ei_x_encode_list_header(&x_, 1);
              ei_x_encode_long(&x_, 1); ei_x_encode_binary(&x_, "\2", 1));
  /* a list whose tail is a list prints as one list: [a|[b]] is [a,b] */
  EXPECT_TERM("[a,b]", ei_x_encode_list_header(&x_, 1);
              ei_x_encode_atom(&x_, "a"); ei_x_encode_list_header(&x_, 1);
              ei_x_encode_atom(&x_, "b"); ei_x_encode_empty_list(&x_));
  EXPECT_TERM("[a,104,105]", ei_x_encode_list_header(&x_, 1);
              ei_x_encode_atom(&x_, "a"); ei_x_encode_string(&x_, "hi"));
  /* ~w of [a,"b"|c] */
  EXPECT_TERM("[a,[98]|c]", ei_x_encode_list_header(&x_, 2);
              ei_x_encode_atom(&x_, "a"); ei_x_encode_string(&x_, "b");
              ei_x_encode_atom(&x_, "c"));
}

DC_TEST(print_tuples_maps_binaries) {
  EXPECT_TERM("{}", ei_x_encode_tuple_header(&x_, 0));
  EXPECT_TERM("{a,{1,[]}}", ei_x_encode_tuple_header(&x_, 2);
              ei_x_encode_atom(&x_, "a"); ei_x_encode_tuple_header(&x_, 2);
              ei_x_encode_long(&x_, 1); ei_x_encode_empty_list(&x_));
  EXPECT_TERM("#{}", ei_x_encode_map_header(&x_, 0));
  /* ~w writes map associations with spaces: #{1 => x,a => 2} */
  EXPECT_TERM("#{1 => x,a => {}}", ei_x_encode_map_header(&x_, 2);
              ei_x_encode_long(&x_, 1); ei_x_encode_atom(&x_, "x");
              ei_x_encode_atom(&x_, "a"); ei_x_encode_tuple_header(&x_, 0));
  EXPECT_TERM("<<>>", ei_x_encode_binary(&x_, "", 0));
  EXPECT_TERM("<<1,2,255>>", ei_x_encode_binary(&x_, "\1\2\377", 3));
  /* term_to_binary(<<1,2:3>>) */
  static const unsigned char bits[] = {131, 77, 0, 0, 0, 2, 3, 1, 64};
  char b[64];
  DC_ASSERT_STREQ(show_bytes(bits, sizeof bits, b, sizeof b), "<<1,2:3>>");
}

DC_TEST(print_pid_port_ref) {
  fresh();
  ErlDrvTermData pid = dc__proc_spawn("owner");
  EXPECT_TERM("<0.80.0>", dc__x_encode_pid(&x_, pid));
  EXPECT_TERM("#Port<0.3>", dc__x_encode_port(&x_, DC__MK(DC__TAG_PORT, 3)));
  /* term_to_binary(make_ref()) printed #Ref<0.649424587.1521745921.85411> */
  static const unsigned char ref[] = {
      131, 90,  0,   3,   100, 0,   13,  'n', 'o', 'n', 'o', 'd',
      'e', '@', 'n', 'o', 'h', 'o', 's', 't', 0,   0,   0,   0,
      0,   1,   77,  163, 90,  180, 0,   1,   38,  181, 110, 203};
  char b[64];
  DC_ASSERT_STREQ(show_bytes(ref, sizeof ref, b, sizeof b),
                  "#Ref<0.649424587.1521745921.85411>");
}

DC_TEST(pids_count_from_80_and_round_trip) {
  fresh();
  ErlDrvTermData a = dc__proc_spawn("a"), b = dc__proc_spawn("b");
  DC_ASSERT(DC__IS(a, DC__TAG_PID));
  DC_ASSERT_EQ(DC__IDX(a), 80);
  DC_ASSERT_EQ(DC__IDX(b), 81);
  ei_x_buff x;
  ei_x_new_with_version(&x);
  dc__x_encode_pid(&x, b);
  int i = 1;
  erlang_pid p;
  DC_ASSERT_EQ(ei_decode_pid(x.buff, &i, &p), 0);
  DC_ASSERT_EQ(p.num, 81);
  DC_ASSERT_STREQ(p.node, "nonode@nohost");
  ei_x_free(&x);
  dc__proc_reset();
  DC_ASSERT(!dc__proc_alive(a));
  DC_ASSERT_EQ(DC__IDX(dc__proc_spawn("again")), 80);
}

DC_TEST(proc_alive_dead_known) {
  fresh();
  ErlDrvTermData a = dc__proc_spawn("a");
  DC_ASSERT(dc__proc_alive(a) && dc__proc_known(a));
  dc__proc_mark_dead(a);
  DC_ASSERT(!dc__proc_alive(a) && dc__proc_known(a));
  DC_ASSERT(!dc__proc_known(DC__MK(DC__TAG_PID, 90)));
  DC_ASSERT(!dc__proc_alive(DC__MK(DC__TAG_PORT, 80)));
  DC_ASSERT(!dc__proc_alive(DC__NIL));
}

DC_TEST(atoms_are_interned) {
  ErlDrvTermData a = dc__atom("hello"), b = dc__atom("hello");
  ErlDrvTermData c = dc__atom("world");
  DC_ASSERT(DC__IS(a, DC__TAG_ATOM));
  DC_ASSERT_EQ(a, b);
  DC_ASSERT(a != c);
  DC_ASSERT_STREQ(dc__atom_text(a), "hello");
  DC_ASSERT(dc__atom_text(DC__MK(DC__TAG_PID, 0)) == NULL);
  DC_ASSERT(dc__atom_text(DC__MK(DC__TAG_ATOM, DC__MAX_ATOMS - 1)) == NULL);
  char longname[400];
  memset(longname, 'z', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  /* Names beyond 255 characters are cut, as erts_atom_put does. */
  DC_ASSERT_EQ(strlen(dc__atom_text(dc__atom(longname))), 255);
  DC_ASSERT_EQ(dc__atom(longname), dc__atom(longname));
}

static ErlDrvTermData thread_atoms[4][64];
static void *intern_many(void *arg) {
  long t = (long)arg;
  char name[16];
  for (int i = 0; i < 64; i++) {
    snprintf(name, sizeof name, "at%d", i);
    thread_atoms[t][i] = dc__atom(name);
  }
  return NULL;
}

DC_TEST(atoms_interned_concurrently) {
  pthread_t th[4];
  for (long t = 0; t < 4; t++)
    pthread_create(&th[t], NULL, intern_many, (void *)t);
  for (int t = 0; t < 4; t++)
    pthread_join(th[t], NULL);
  for (int i = 0; i < 64; i++)
    for (int t = 1; t < 4; t++)
      DC_ASSERT_EQ(thread_atoms[t][i], thread_atoms[0][i]);
}

DC_TEST(trace_keeps_order_and_resets) {
  fresh();
  ErlDrvTermData to = dc__proc_spawn("o");
  for (long i = 0; i < 3; i++) {
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_long(&x, i);
    dc__trace_add(DC__EV_MSG, to, DC__MK(DC__TAG_PORT, 1), x.buff,
                  (size_t)x.index);
    ei_x_free(&x); /* the trace has its own copy */
  }
  DC_ASSERT_EQ(dc__trace_count(), 3);
  long i = 0;
  char b[64];
  for (const dc__event *ev = dc__trace_first(); ev; ev = ev->next, i++) {
    DC_ASSERT_EQ(ev->seq, i);
    DC_ASSERT_EQ(dc__etf_print(ev->etf, ev->len, b, sizeof b), 0);
    DC_ASSERT_EQ(atol(b), i);
  }
  DC_ASSERT_EQ(i, 3);
  dc__trace_reset();
  DC_ASSERT_EQ(dc__trace_count(), 0);
  DC_ASSERT(dc__trace_first() == NULL);
  dc__g.trace_enabled = 0;
  dc__trace_add(DC__EV_MSG, to, DC__NIL, "\203j", 2);
  DC_ASSERT_EQ(dc__trace_count(), 0);
}

DC_TEST(event_lines) {
  fresh();
  ErlDrvTermData owner = dc__proc_spawn("o"), port = DC__MK(DC__TAG_PORT, 3);
  ei_x_buff x;
  ei_x_new_with_version(&x);
  ei_x_encode_tuple_header(&x, 2);
  dc__x_encode_port(&x, port);
  ei_x_encode_tuple_header(&x, 2);
  ei_x_encode_atom(&x, "data");
  ei_x_encode_string(&x, "hi");
  dc__trace_add(DC__EV_MSG, owner, port, x.buff, (size_t)x.index);
  ei_x_free(&x);
  ei_x_new_with_version(&x);
  dc__x_encode_port(&x, port);
  dc__trace_add(DC__EV_OPEN, owner, port, x.buff, (size_t)x.index);
  ei_x_free(&x);
  ei_x_new_with_version(&x);
  ei_x_encode_string(&x, "\1\2");
  dc__trace_add(DC__EV_CONTROL_REPLY, owner, port, x.buff, (size_t)x.index);
  ei_x_free(&x);
  char b[128];
  DC_ASSERT_STREQ(dc_test_event(0, b, sizeof b),
                  "<0.80.0> <- {#Port<0.3>,{data,[104,105]}}");
  DC_ASSERT_STREQ(dc_test_event(1, b, sizeof b), "open #Port<0.3>");
  DC_ASSERT_STREQ(dc_test_event(2, b, sizeof b), "control #Port<0.3> -> [1,2]");
}

DC_TEST(invalid_etf_is_rejected) {
  char b[64];
  static const unsigned char no_version[] = {97, 1};
  static const unsigned char truncated[] = {131, 104, 2, 97, 1};
  static const unsigned char bin_past_end[] = {131, 109, 0, 0, 1, 0, 1, 2};
  static const unsigned char huge_list[] = {131, 108, 127, 255, 255, 255, 106};
  static const unsigned char bad_tag[] = {131, 1};
  static const unsigned char nan[] = {131, 70, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0};
  DC_ASSERT_EQ(dc__etf_print((const char *)no_version, 2, b, sizeof b), -1);
  DC_ASSERT_EQ(dc__etf_print((const char *)truncated, 5, b, sizeof b), -1);
  DC_ASSERT_EQ(dc__etf_print((const char *)bin_past_end, 8, b, sizeof b), -1);
  DC_ASSERT_EQ(dc__etf_print((const char *)huge_list, 7, b, sizeof b), -1);
  DC_ASSERT_EQ(dc__etf_print((const char *)bad_tag, 2, b, sizeof b), -1);
  DC_ASSERT_EQ(dc__etf_print((const char *)nan, 10, b, sizeof b), -1);
  /* Trailing bytes after one complete term are fine (ERTS ignores them). */
  static const unsigned char trailing[] = {131, 97, 7, 0, 0};
  size_t used = 0;
  DC_ASSERT_EQ(dc__etf_check((const char *)trailing, 5, &used), 0);
  DC_ASSERT_EQ(used, 3);
}

DC_TEST(long_output_is_truncated) {
  ei_x_buff x;
  ei_x_new_with_version(&x);
  ei_x_encode_string(&x, "abcdefghijklmnopqrstuvwxyz");
  char b[16];
  DC_ASSERT_EQ(dc__etf_print(x.buff, (size_t)x.index, b, sizeof b), 0);
  DC_ASSERT_EQ(strlen(b), 15);
  DC_ASSERT_STREQ(b + 12, "...");
  DC_ASSERT(strncmp(b, "[97,98,99,", 10) == 0);
  ei_x_free(&x);
}

DC_TEST(deep_nesting_prints_without_recursion) {
  ei_x_buff x;
  ei_x_new_with_version(&x);
  for (int i = 0; i < 100000; i++)
    ei_x_encode_tuple_header(&x, 1);
  ei_x_encode_atom(&x, "z");
  char *b = malloc(300000);
  DC_ASSERT_EQ(dc__etf_print(x.buff, (size_t)x.index, b, 300000), 0);
  DC_ASSERT_EQ(strlen(b), 200001);
  DC_ASSERT(b[100000] == 'z' && b[0] == '{' && b[200000] == '}');
  free(b);
  ei_x_free(&x);
}
