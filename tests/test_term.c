/* Term building: driver_mk_*, erl_drv_output_term/erl_drv_send_term and the
 * deprecated forms, every ERL_DRV_* opcode and the validation ERTS does
 * (io.c driver_deliver_term). Results marked "OTP 25" were observed with a
 * probe driver on OTP 25.2.3. */
#include <math.h>

#include "support.h"

/* The deprecated driver_output_term/driver_send_term are tested on purpose. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static dc__port *P;
static ErlDrvTermData OWNER, PORT;

/* A port in slot 3 set up by hand (no driver needed), owned by <0.80.0>. */
static void setup(void) {
  dc__emu_reset(1);
  dc__findings_reset();
  dc__proc_reset();
  dc__trace_reset();
  P = &dc__g.ports[3];
  P->idx = 3;
  P->id = PORT = DC__MK(DC__TAG_PORT, 3);
  P->state = DC__PORT_OPEN;
  P->owner = OWNER = dc__proc_spawn("owner");
  P->caller = DC__NIL;
  P->flags = PORT_FLAG_BINARY;
  dc__g.nports = 4;
}

#define SPEC(...) ((ErlDrvTermData[]){__VA_ARGS__})
#define NWORDS(...)                                                            \
  ((int)(sizeof((ErlDrvTermData[]){__VA_ARGS__}) / sizeof(ErlDrvTermData)))
#define OUT(...)                                                               \
  erl_drv_output_term(PORT, SPEC(__VA_ARGS__), NWORDS(__VA_ARGS__))
#define W(x) ((ErlDrvTermData)(x))

static char txt[512];
static const char *last(void) { return dc_test_last_term(txt, sizeof txt); }

/* Expects the spec to fail: -1, nothing sent, one finding of `rule`. */
#define EXPECT_BAD(rule, ...)                                                  \
  do {                                                                         \
    dc__findings_reset();                                                      \
    size_t before_ = dc__trace_count();                                        \
    DC_ASSERT_EQ(OUT(__VA_ARGS__), -1);                                        \
    DC_ASSERT_EQ(dc__trace_count(), before_);                                  \
    DC_ASSERT_EQ(dc__findings_count(DC_RULE_##rule), 1);                       \
  } while (0)

DC_TEST(scalar_opcodes) {
  setup();
  ErlDrvSInt64 i64 = INT64_MIN;
  ErlDrvUInt64 u64 = UINT64_MAX;
  DC_ASSERT_EQ(OUT(ERL_DRV_NIL, ERL_DRV_ATOM, driver_mk_atom("a"), ERL_DRV_INT,
                   W(-5), ERL_DRV_UINT, W(~0UL), ERL_DRV_INT64, W(&i64),
                   ERL_DRV_UINT64, W(&u64), ERL_DRV_TUPLE, 6),
               1);
  DC_ASSERT_STREQ(last(), "{[],a,-5,18446744073709551615,-9223372036854775808,"
                          "18446744073709551615}");
}

DC_TEST(port_and_pid_opcodes) {
  setup();
  DC_ASSERT_EQ(OUT(ERL_DRV_PORT, driver_mk_port(dc__port_handle(P)),
                   ERL_DRV_PID, driver_connected(dc__port_handle(P)),
                   ERL_DRV_TUPLE, 2),
               1);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,<0.80.0>}");
}

DC_TEST(binary_opcodes) {
  setup();
  ErlDrvBinary *b = driver_alloc_binary(5);
  memcpy(b->orig_bytes, "hello", 5);
  DC_ASSERT_EQ(OUT(ERL_DRV_BINARY, W(b), 3, 1, ERL_DRV_BUF2BINARY, W("xy"), 2,
                   ERL_DRV_BUF2BINARY, W(NULL), 0, ERL_DRV_TUPLE, 3),
               1);
  DC_ASSERT_STREQ(last(), "{<<101,108,108>>,<<120,121>>,<<>>}");
  /* The term holds its own copy: the driver keeps (and frees) its ref. */
  DC_ASSERT_EQ(driver_binary_get_refc(b), 1);
  EXPECT_BAD(BIN_RANGE, ERL_DRV_BINARY, W(b), 3, 3);
  EXPECT_BAD(TERM_BAD_REF, ERL_DRV_BINARY, W(NULL), 0, 0);
  static char fake[64];
  EXPECT_BAD(TERM_BAD_REF, ERL_DRV_BINARY, W(fake), 1, 0);
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_BUF2BINARY, W(NULL), 5);
  driver_free_binary(b);
}

DC_TEST(string_opcodes) {
  setup();
  DC_ASSERT_EQ(OUT(ERL_DRV_STRING, W("hi"), 2), 1);
  DC_ASSERT_STREQ(last(), "[104,105]");
  /* OTP 25: {NIL, STRING_CONS "hi", INT 5, TUPLE 2} -> {[104,105],5} */
  DC_ASSERT_EQ(OUT(ERL_DRV_NIL, ERL_DRV_STRING_CONS, W("hi"), 2, ERL_DRV_INT, 5,
                   ERL_DRV_TUPLE, 2),
               1);
  DC_ASSERT_STREQ(last(), "{[104,105],5}");
  /* OTP 25: {STRING "ab", STRING_CONS "" 0, INT 7, LIST 2} -> [[97,98]|7] */
  DC_ASSERT_EQ(OUT(ERL_DRV_STRING, W("ab"), 2, ERL_DRV_STRING_CONS, W(""), 0,
                   ERL_DRV_INT, 7, ERL_DRV_LIST, 2),
               1);
  DC_ASSERT_STREQ(last(), "[[97,98]|7]");
  DC_ASSERT_EQ(
      OUT(ERL_DRV_ATOM, driver_mk_atom("t"), ERL_DRV_STRING_CONS, W("ab"), 2),
      1);
  DC_ASSERT_STREQ(last(), "[97,98|t]");
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_STRING, W(NULL), 1);
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_STRING, W("x"), W(-1));
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_STRING_CONS, W("x"), 1);
}

DC_TEST(list_and_tuple_opcodes) {
  setup();
  DC_ASSERT_EQ(
      OUT(ERL_DRV_INT, 1, ERL_DRV_INT, 2, ERL_DRV_NIL, ERL_DRV_LIST, 3), 1);
  DC_ASSERT_STREQ(last(), "[1,2]");
  /* OTP 25: {INT 1, INT 2, LIST 2, LIST 1} -> [1|2] */
  DC_ASSERT_EQ(
      OUT(ERL_DRV_INT, 1, ERL_DRV_INT, 2, ERL_DRV_LIST, 2, ERL_DRV_LIST, 1), 1);
  DC_ASSERT_STREQ(last(), "[1|2]");
  /* OTP 25: {ATOM x, TUPLE 0, TUPLE 2} -> {x,{}} */
  DC_ASSERT_EQ(OUT(ERL_DRV_ATOM, driver_mk_atom("x"), ERL_DRV_TUPLE, 0,
                   ERL_DRV_TUPLE, 2),
               1);
  DC_ASSERT_STREQ(last(), "{x,{}}");
  /* A list built cons by cons is one flat list. */
  DC_ASSERT_EQ(OUT(ERL_DRV_INT, 1, ERL_DRV_INT, 2, ERL_DRV_NIL, ERL_DRV_LIST, 2,
                   ERL_DRV_LIST, 2),
               1);
  DC_ASSERT_STREQ(last(), "[1,2]");
}

DC_TEST(list_of_bytes_is_encoded_as_string_ext) {
  setup();
  DC_ASSERT_EQ(OUT(ERL_DRV_INT, 1, ERL_DRV_INT, 2, ERL_DRV_STRING, W("\3"), 1,
                   ERL_DRV_LIST, 3),
               1);
  const dc__event *ev = dc__trace_first();
  ei_x_buff x;
  ei_x_new_with_version(&x);
  ei_x_encode_string_len(&x, "\1\2\3", 3); /* what term_to_binary writes */
  DC_ASSERT_EQ(ev->len, x.index);
  DC_ASSERT(memcmp(ev->etf, x.buff, ev->len) == 0);
  ei_x_free(&x);
}

DC_TEST(list_n0_fails) {
  setup();
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_NIL, ERL_DRV_LIST, 0);
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_TUPLE, W(-1));
}

DC_TEST(float_opcode) {
  setup();
  double d = 3.5, nan = NAN, inf = INFINITY;
  DC_ASSERT_EQ(OUT(ERL_DRV_FLOAT, W(&d)), 1);
  DC_ASSERT_STREQ(last(), "3.5");
  /* OTP 25: non-finite floats make the spec fail. */
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_FLOAT, W(&nan));
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_FLOAT, W(&inf));
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_FLOAT, W(NULL));
}

DC_TEST(ext2term_opcode) {
  setup();
  /* term_to_binary({a,1}) followed by an extra byte: OTP 25 accepts it. */
  static const char ext[] = {(char)131, 104, 2, 119, 1, 'a', 97, 1, 0};
  DC_ASSERT_EQ(
      OUT(ERL_DRV_EXT2TERM, W(ext), sizeof ext, ERL_DRV_NIL, ERL_DRV_TUPLE, 2),
      1);
  DC_ASSERT_STREQ(last(), "{{a,1},[]}");
  EXPECT_BAD(TERM_BAD_EXT, ERL_DRV_EXT2TERM, W(ext), 6);     /* truncated */
  EXPECT_BAD(TERM_BAD_EXT, ERL_DRV_EXT2TERM, W(ext + 1), 7); /* no 131 */
  EXPECT_BAD(TERM_BAD_EXT, ERL_DRV_EXT2TERM, W(NULL), 3);
  EXPECT_BAD(TERM_BAD_EXT, ERL_DRV_EXT2TERM, W(ext), 0);
}

DC_TEST(map_opcode) {
  setup();
  DC_ASSERT_EQ(OUT(ERL_DRV_MAP, 0), 1);
  DC_ASSERT_STREQ(last(), "#{}");
  /* OTP 25: keys b,a in the spec -> #{a => 2,b => 1} (term order). */
  DC_ASSERT_EQ(OUT(ERL_DRV_ATOM, driver_mk_atom("b"), ERL_DRV_INT, 1,
                   ERL_DRV_ATOM, driver_mk_atom("a"), ERL_DRV_INT, 2,
                   ERL_DRV_MAP, 2),
               1);
  DC_ASSERT_STREQ(last(), "#{a => 2,b => 1}");
  /* numbers before atoms before tuples */
  DC_ASSERT_EQ(OUT(ERL_DRV_NIL, ERL_DRV_TUPLE, 1, ERL_DRV_INT, 1, ERL_DRV_ATOM,
                   driver_mk_atom("k"), ERL_DRV_INT, 2, ERL_DRV_INT, 10,
                   ERL_DRV_INT, 3, ERL_DRV_MAP, 3),
               1);
  DC_ASSERT_STREQ(last(), "#{10 => 3,k => 2,{[]} => 1}");
  /* OTP 25: duplicate keys -> -1 */
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_INT, 1, ERL_DRV_INT, 2, ERL_DRV_INT, 1,
             ERL_DRV_INT, 3, ERL_DRV_MAP, 2);
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_INT, 1, ERL_DRV_MAP, 1);
}

DC_TEST(malformed_specs_fail_and_send_nothing) {
  setup();
  EXPECT_BAD(TERM_MALFORMED, 99);                       /* unknown opcode */
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_NIL, ERL_DRV_INT); /* missing arg */
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_NIL, ERL_DRV_TUPLE, 2); /* underflow */
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_NIL, ERL_DRV_NIL);      /* two terms */
  dc__findings_reset();
  /* OTP 25: n == 0 -> -1 */
  DC_ASSERT_EQ(erl_drv_output_term(PORT, SPEC(ERL_DRV_NIL), 0), -1);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_TERM_MALFORMED), 1);
  DC_ASSERT_EQ(dc__trace_count(), 0);
}

DC_TEST(bad_references_fail) {
  setup();
  EXPECT_BAD(TERM_BAD_REF, ERL_DRV_ATOM, DC__MK(DC__TAG_ATOM, 4000));
  EXPECT_BAD(TERM_BAD_REF, ERL_DRV_ATOM, W(12345));
  EXPECT_BAD(TERM_BAD_REF, ERL_DRV_PID, DC__MK(DC__TAG_PID, 200));
  EXPECT_BAD(TERM_BAD_REF, ERL_DRV_PID, PORT);
  EXPECT_BAD(TERM_BAD_REF, ERL_DRV_PORT, OWNER);
}

DC_TEST(dead_receiver_returns_0) {
  setup();
  ErlDrvTermData other = dc__proc_spawn("other");
  dc__proc_mark_dead(other);
  DC_ASSERT_EQ(erl_drv_send_term(PORT, other, SPEC(ERL_DRV_NIL), 1), 0);
  /* io.c: the float check runs after the receiver lookup, so a NaN to a
   * dead process gives 0, while a structural error gives -1 first. */
  double nan = NAN;
  DC_ASSERT_EQ(erl_drv_send_term(PORT, other, SPEC(ERL_DRV_FLOAT, W(&nan)), 2),
               0);
  DC_ASSERT_EQ(erl_drv_send_term(PORT, other, SPEC(ERL_DRV_TUPLE, 1), 2), -1);
  dc__proc_mark_dead(OWNER);
  DC_ASSERT_EQ(OUT(ERL_DRV_NIL), 0);
  DC_ASSERT_EQ(dc__trace_count(), 0);
}

DC_TEST(send_term_goes_to_the_given_pid_from_the_port) {
  setup();
  ErlDrvTermData other = dc__proc_spawn("other");
  DC_ASSERT_EQ(erl_drv_send_term(PORT, other, SPEC(ERL_DRV_INT, 7), 2), 1);
  const dc__event *ev = dc__trace_first();
  DC_ASSERT_EQ(ev->kind, DC__EV_MSG);
  DC_ASSERT_EQ(ev->to, other);
  DC_ASSERT_EQ(ev->from, PORT);
  char b[64];
  DC_ASSERT_STREQ(dc_test_event(0, b, sizeof b), "<0.81.0> <- 7");
  DC_ASSERT_EQ(OUT(ERL_DRV_INT, 8), 1);
  DC_ASSERT_STREQ(dc_test_event(1, b, sizeof b), "<0.80.0> <- 8");
}

DC_TEST(port_state_decides_before_the_spec) {
  setup();
  P->state = DC__PORT_CLOSING;
  /* deliver_term_check_port: CLOSING -> 0 without looking at the spec */
  DC_ASSERT_EQ(OUT(ERL_DRV_TUPLE, 5), 0);
  DC_ASSERT_EQ(driver_output_term(dc__port_handle(P), SPEC(ERL_DRV_NIL), 1), 0);
  P->state = DC__PORT_EXITING; /* inside stop: still delivered */
  DC_ASSERT_EQ(OUT(ERL_DRV_NIL), 1);
  P->state = DC__PORT_DEAD;
  DC_ASSERT_EQ(OUT(ERL_DRV_NIL), -1);
  DC_ASSERT_EQ(driver_output_term(dc__port_handle(P), SPEC(ERL_DRV_NIL), 1),
               -1);
  DC_ASSERT_EQ(
      erl_drv_output_term(DC__MK(DC__TAG_PORT, 700), SPEC(ERL_DRV_NIL), 1), -1);
  DC_ASSERT_EQ(erl_drv_output_term(OWNER, SPEC(ERL_DRV_NIL), 1), -1);
  DC_ASSERT_EQ(dc__trace_count(), 1);
}

DC_TEST(deprecated_forms) {
  setup();
  ErlDrvPort h = dc__port_handle(P);
  DC_ASSERT_EQ(driver_output_term(h, SPEC(ERL_DRV_INT, 1), 2), 1);
  DC_ASSERT_EQ(driver_send_term(h, OWNER, SPEC(ERL_DRV_INT, 2), 2), 1);
  DC_ASSERT_EQ(driver_send_term((ErlDrvPort)&dc__g.ports[1], OWNER,
                                SPEC(ERL_DRV_INT, 2), 2),
               -1);
  /* From a non-emulator thread the port is not checked, sender undefined. */
  dc__tls.kind = DC__THR_ASYNC;
  DC_ASSERT_EQ(driver_send_term((ErlDrvPort)&dc__g.ports[1], OWNER,
                                SPEC(ERL_DRV_INT, 3), 2),
               1);
  dc__tls.kind = DC__THR_EMU;
  DC_ASSERT_EQ(dc__trace_count(), 3);
  char b[64];
  DC_ASSERT_STREQ(dc_test_last_term(b, sizeof b), "3");
}

DC_TEST(term_words) {
  setup();
  ErlDrvPort h = dc__port_handle(P);
  DC_ASSERT_EQ(driver_term_nil, 0x3B); /* OTP 25 64-bit value of [] */
  DC_ASSERT_EQ(driver_mk_term_nil(), driver_term_nil);
  DC_ASSERT_EQ(driver_mk_port(h), PORT);
  DC_ASSERT_EQ(driver_connected(h), OWNER);
  DC_ASSERT_EQ(driver_caller(h), driver_term_nil); /* outside a callback */
  ErlDrvTermData c = dc__proc_spawn("caller");
  P->caller = c; /* as dc__cb_enter sets it around control() */
  DC_ASSERT_EQ(driver_caller(h), c);
  DC_ASSERT_EQ(driver_mk_atom("ok"), driver_mk_atom("ok"));
  DC_ASSERT_STREQ(dc__atom_text(driver_mk_atom("ok")), "ok");
  P->state = DC__PORT_DEAD;
  DC_ASSERT_EQ(driver_mk_port(h), driver_term_nil);
  DC_ASSERT_EQ(driver_connected(h), driver_term_nil);
  DC_ASSERT_EQ(driver_caller(h), driver_term_nil);
}

DC_TEST(nested_terms_print_as_expected) {
  setup();
  ErlDrvBinary *b = driver_alloc_binary(2);
  memcpy(b->orig_bytes, "\1\2", 2);
  double f = 1.5;
  DC_ASSERT_EQ(OUT(ERL_DRV_ATOM, driver_mk_atom("ok"), ERL_DRV_ATOM,
                   driver_mk_atom("a"), ERL_DRV_BINARY, W(b), 2, 0,
                   ERL_DRV_TUPLE, 2, ERL_DRV_ATOM, driver_mk_atom("k"),
                   ERL_DRV_FLOAT, W(&f), ERL_DRV_NIL, ERL_DRV_LIST, 2,
                   ERL_DRV_MAP, 1, ERL_DRV_NIL, ERL_DRV_LIST, 3, ERL_DRV_STRING,
                   W("x"), 1, ERL_DRV_PORT, PORT, ERL_DRV_TUPLE, 4),
               1);
  DC_ASSERT_STREQ(last(), "{ok,[{a,<<1,2>>},#{k => [1.5]}],[120],#Port<0.3>}");
  driver_free_binary(b);
}

DC_TEST(long_specs_use_the_heap_path) {
  setup();
  ErlDrvTermData spec[2 * 300 + 3];
  int n = 0;
  for (int i = 0; i < 300; i++)
    spec[n++] = ERL_DRV_INT, spec[n++] = (ErlDrvTermData)(i + 1000);
  spec[n++] = ERL_DRV_NIL;
  spec[n++] = ERL_DRV_LIST;
  spec[n++] = 301;
  DC_ASSERT_EQ(erl_drv_output_term(PORT, spec, n), 1);
  char *b = malloc(4096);
  DC_ASSERT(dc_test_last_term(b, 4096) != NULL);
  DC_ASSERT(strncmp(b, "[1000,1001,", 11) == 0);
  DC_ASSERT(strcmp(b + strlen(b) - 6, ",1299]") == 0);
  free(b);
}

DC_TEST(term_build_directly) {
  setup();
  ei_x_buff x;
  ei_x_new(&x);
  DC_ASSERT_EQ(
      dc__term_build(SPEC(ERL_DRV_INT, 5, ERL_DRV_LIST, 1), 4, &x, "test"), 0);
  char b[32];
  DC_ASSERT_EQ(dc__etf_print(x.buff, (size_t)x.index, b, sizeof b), 0);
  DC_ASSERT_STREQ(b, "5");
  ei_x_free(&x);
}

/* With the trace off (random sequences, the fuzz target) nothing is encoded,
 * yet every check of both passes still reports, in the encoder's order. */
DC_TEST(checks_run_with_the_trace_off) {
  setup();
  dc__g.trace_enabled = 0;
  double d = 1.5, nan = NAN, inf = INFINITY;
  DC_ASSERT_EQ(OUT(ERL_DRV_FLOAT, W(&d), ERL_DRV_INT, 7, ERL_DRV_TUPLE, 2), 1);
  size_t nf;
  dc__findings(&nf);
  DC_ASSERT_EQ(dc__trace_count(), 0);
  DC_ASSERT_EQ(nf, 0);
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_FLOAT, W(&d), ERL_DRV_FLOAT, W(&nan),
             ERL_DRV_FLOAT, W(&inf), ERL_DRV_LIST, 3);
  /* The first non-finite float in encoding order is the one reported. */
  DC_ASSERT(strstr(dc__findings(&nf)[0].message, "nan") != NULL);
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_INT, 1, ERL_DRV_INT, 2, ERL_DRV_INT, 1,
             ERL_DRV_INT, 3, ERL_DRV_MAP, 2);
  EXPECT_BAD(TERM_MALFORMED, ERL_DRV_INT, 1, ERL_DRV_FLOAT, W(&inf),
             ERL_DRV_MAP, 1);
  EXPECT_BAD(TERM_BAD_REF, ERL_DRV_ATOM, W(12345));
  DC_ASSERT_EQ(OUT(ERL_DRV_INT, 1, ERL_DRV_INT, 2, ERL_DRV_MAP, 1), 1);
  DC_ASSERT_EQ(dc__trace_count(), 0);
}
