/* The output family. Expected messages were observed on OTP 25.2.3 with a
 * probe driver (same calls, ports opened with and without `binary`); they
 * match io.c deliver_read_message / deliver_vec_message. */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

static dc__port *P;
static ErlDrvPort H;

static void setup(int binary) {
  dc__emu_reset(1);
  dc__findings_reset();
  dc__proc_reset();
  dc__trace_reset();
  P = &dc__g.ports[3];
  P->idx = 3;
  P->id = DC__MK(DC__TAG_PORT, 3);
  P->state = DC__PORT_OPEN;
  P->owner = dc__proc_spawn("owner");
  P->caller = DC__NIL;
  P->flags = binary ? PORT_FLAG_BINARY : 0;
  dc__g.nports = 4;
  H = dc__port_handle(P);
}

static char txt[512];
static const char *last(void) {
  const char *s = dc_test_last_term(txt, sizeof txt);
  return s ? s : "<none>";
}

/* iov like the emulator's: entries given as strings, NULL = empty slot. */
static ErlIOVec mkvec(SysIOVec *iov, ErlDrvBinary **binv, int n,
                      const char **parts) {
  ErlIOVec ev = {n, 0, iov, binv};
  for (int i = 0; i < n; i++) {
    iov[i].iov_base = (char *)parts[i];
    iov[i].iov_len = parts[i] ? strlen(parts[i]) : 0;
    binv[i] = NULL;
    ev.size += iov[i].iov_len;
  }
  return ev;
}

DC_TEST(output_list_mode) {
  setup(0);
  DC_ASSERT_EQ(driver_output(H, "hi", 2), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[104,105]}}");
  DC_ASSERT_EQ(driver_output2(H, "xy", 2, "ab", 2), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[120,121,97,98]}}");
  DC_ASSERT_EQ(driver_output2(H, "xy", 2, "ab", 0), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[120,121]}}");
  DC_ASSERT_EQ(driver_output(H, NULL, 0), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[]}}");
  char b[64];
  DC_ASSERT_STREQ(dc_test_event(0, b, sizeof b),
                  "<0.80.0> <- {#Port<0.3>,{data,[104,105]}}");
}

DC_TEST(output_binary_mode) {
  setup(1);
  DC_ASSERT_EQ(driver_output(H, "hi", 2), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,<<104,105>>}}");
  /* OTP 25: header bytes in front of the binary tail */
  DC_ASSERT_EQ(driver_output2(H, "xy", 2, "ab", 2), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[120,121|<<97,98>>]}}");
  DC_ASSERT_EQ(driver_output2(H, "xy", 2, "ab", 0), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[120,121|<<>>]}}");
  DC_ASSERT_EQ(driver_output2(H, NULL, 0, "ab", 0), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,<<>>}}");
  /* OTP 25: a NULL buffer gives no binary at all */
  DC_ASSERT_EQ(driver_output(H, NULL, 0), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[]}}");
}

DC_TEST(output_binary_both_modes) {
  setup(1);
  ErlDrvBinary *b = driver_alloc_binary(4);
  memcpy(b->orig_bytes, "wxyz", 4);
  DC_ASSERT_EQ(driver_output_binary(H, "xy", 2, b, 1, 2), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[120,121|<<120,121>>]}}");
  DC_ASSERT_EQ(driver_output_binary(H, NULL, 0, b, 1, 2), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,<<120,121>>}}");
  P->flags = 0;
  DC_ASSERT_EQ(driver_output_binary(H, "xy", 2, b, 1, 2), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[120,121,120,121]}}");
  size_t n = dc__trace_count();
  DC_ASSERT_EQ(driver_output_binary(H, NULL, 0, b, 3, 2), 0);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_BIN_RANGE), 1);
  DC_ASSERT_EQ(dc__trace_count(), n);
  DC_ASSERT_EQ(driver_binary_get_refc(b), 1);
  driver_free_binary(b);
}

DC_TEST(outputv_binary_mode_shapes) {
  setup(1);
  SysIOVec iov[5];
  ErlDrvBinary *binv[5];
  /* OTP 25: [<<>>,"ab",<<>>,"cd"] -> [<<97,98>>,<<>>|<<99,100>>] */
  ErlIOVec ev = mkvec(iov, binv, 4, (const char *[]){NULL, "ab", NULL, "cd"});
  DC_ASSERT_EQ(driver_outputv(H, NULL, 0, &ev, 0), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[<<97,98>>,<<>>|<<99,100>>]}}");
  /* OTP 25: one entry, no header -> the plain binary */
  ev = mkvec(iov, binv, 1, (const char *[]){"ab"});
  DC_ASSERT_EQ(driver_outputv(H, NULL, 0, &ev, 0), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,<<97,98>>}}");
  ev = mkvec(iov, binv, 2, (const char *[]){NULL, "ab"});
  DC_ASSERT_EQ(driver_outputv(H, "xy", 2, &ev, 0), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[120,121|<<97,98>>]}}");
  /* OTP 25: trailing empty entry kept; only the first empty one dropped */
  ev = mkvec(iov, binv, 3, (const char *[]){NULL, "ab", NULL});
  DC_ASSERT_EQ(driver_outputv(H, NULL, 0, &ev, 0), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[<<97,98>>|<<>>]}}");
  ev = mkvec(iov, binv, 3, (const char *[]){NULL, NULL, "ab"});
  DC_ASSERT_EQ(driver_outputv(H, NULL, 0, &ev, 0), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[<<>>|<<97,98>>]}}");
}

DC_TEST(outputv_list_mode) {
  setup(0);
  SysIOVec iov[5];
  ErlDrvBinary *binv[5];
  ErlIOVec ev = mkvec(iov, binv, 4, (const char *[]){NULL, "ab", NULL, "cd"});
  DC_ASSERT_EQ(driver_outputv(H, "xy", 2, &ev, 0), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[120,121,97,98,99,100]}}");
}

DC_TEST(outputv_skip_advances_callers_vector) {
  setup(1);
  SysIOVec iov[5];
  ErlDrvBinary *binv[5];
  /* OTP 25: skip 1 over [<<>>,"ab","cd"] -> [<<98>>|<<99,100>>] and the
   * caller's iov[1].iov_len went 2 -> 1 (iov[2] untouched) */
  ErlIOVec ev = mkvec(iov, binv, 3, (const char *[]){NULL, "ab", "cd"});
  DC_ASSERT_EQ(driver_outputv(H, NULL, 0, &ev, 1), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[<<98>>|<<99,100>>]}}");
  DC_ASSERT_EQ(iov[1].iov_len, 1);
  DC_ASSERT_EQ(iov[1].iov_base[0], 'b');
  DC_ASSERT_EQ(iov[2].iov_len, 2);
  /* OTP 25: skip 2 over ["ab","cd"]: the consumed entry is left as it was */
  ev = mkvec(iov, binv, 2, (const char *[]){"ab", "cd"});
  DC_ASSERT_EQ(driver_outputv(H, NULL, 0, &ev, 2), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,<<99,100>>}}");
  DC_ASSERT_EQ(iov[0].iov_len, 2);
  DC_ASSERT_EQ(iov[1].iov_len, 2);
  ev = mkvec(iov, binv, 2, (const char *[]){"ab", "cd"});
  DC_ASSERT_EQ(driver_outputv(H, NULL, 0, &ev, 3), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,<<100>>}}");
  DC_ASSERT_EQ(iov[0].iov_len, 2);
  DC_ASSERT_EQ(iov[1].iov_len, 1);
  /* OTP 25: skip >= size sends the header alone ([] without one) */
  ev = mkvec(iov, binv, 1, (const char *[]){"ab"});
  DC_ASSERT_EQ(driver_outputv(H, "xy", 2, &ev, 2), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[120,121]}}");
  DC_ASSERT_EQ(driver_outputv(H, NULL, 0, &ev, 5), 0);
  DC_ASSERT_STREQ(last(), "{#Port<0.3>,{data,[]}}");
}

DC_TEST(vec_to_buf_returns_bytes_copied) {
  SysIOVec iov[4];
  ErlDrvBinary *binv[4];
  ErlIOVec ev = mkvec(iov, binv, 3, (const char *[]){NULL, "abc", "defg"});
  char buf[64];
  memset(buf, 0, sizeof buf);
  /* io.c driver_vec_to_buf; OTP 25: 3 bytes into 64 -> 3 */
  DC_ASSERT_EQ(driver_vec_to_buf(&ev, buf, sizeof buf), 7);
  DC_ASSERT_STREQ(buf, "abcdefg");
  memset(buf, 0, sizeof buf);
  DC_ASSERT_EQ(driver_vec_to_buf(&ev, buf, 5), 5);
  DC_ASSERT_STREQ(buf, "abcde");
  DC_ASSERT_EQ(driver_vec_to_buf(&ev, buf, 0), 0);
}

DC_TEST(closing_port_drops_exiting_delivers) {
  setup(1);
  SysIOVec iov[2];
  ErlDrvBinary *binv[2];
  ErlIOVec ev = mkvec(iov, binv, 2, (const char *[]){NULL, "ab"});
  ErlDrvBinary *b = driver_alloc_binary(1);
  P->state = DC__PORT_CLOSING;
  DC_ASSERT_EQ(driver_output(H, "hi", 2), 0);
  DC_ASSERT_EQ(driver_output2(H, "x", 1, "hi", 2), 0);
  DC_ASSERT_EQ(driver_output_binary(H, NULL, 0, b, 0, 1), 0);
  DC_ASSERT_EQ(driver_outputv(H, NULL, 0, &ev, 0), 0);
  DC_ASSERT_EQ(dc__trace_count(), 0);
  P->state = DC__PORT_EXITING; /* inside stop(): OTP 25 still delivers */
  DC_ASSERT_EQ(driver_output(H, "hi", 2), 0);
  DC_ASSERT_EQ(dc__trace_count(), 1);
  driver_free_binary(b);
}

DC_TEST(invalid_port_returns_minus_1) {
  setup(1);
  SysIOVec iov[2];
  ErlDrvBinary *binv[2];
  ErlIOVec ev = mkvec(iov, binv, 2, (const char *[]){NULL, "ab"});
  ErlDrvBinary *b = driver_alloc_binary(1);
  P->state = DC__PORT_DEAD;
  DC_ASSERT_EQ(driver_output(H, "hi", 2), -1);
  DC_ASSERT_EQ(driver_output2(H, "x", 1, "hi", 2), -1);
  DC_ASSERT_EQ(driver_output_binary(H, NULL, 0, b, 0, 1), -1);
  DC_ASSERT_EQ(driver_outputv(H, NULL, 0, &ev, 0), -1);
  DC_ASSERT_EQ(driver_output((ErlDrvPort)&dc__g.ports[1], "hi", 2), -1);
  DC_ASSERT_EQ(dc__trace_count(), 0);
  driver_free_binary(b);
}

DC_TEST(dead_owner_gets_nothing) {
  setup(0);
  dc__proc_mark_dead(P->owner);
  DC_ASSERT_EQ(driver_output(H, "hi", 2), 0);
  DC_ASSERT_EQ(dc__trace_count(), 0);
}

DC_TEST(large_output_is_one_list) {
  setup(0);
  static char big[70000];
  memset(big, 'a', sizeof big);
  DC_ASSERT_EQ(driver_output(H, big, sizeof big), 0);
  const dc__event *ev = dc__trace_first();
  int i = 1, arity, type, size;
  ei_decode_tuple_header(ev->etf, &i, &arity);
  ei_skip_term(ev->etf, &i);
  ei_decode_tuple_header(ev->etf, &i, &arity);
  ei_skip_term(ev->etf, &i);
  ei_get_type(ev->etf, &i, &type, &size);
  DC_ASSERT_EQ(type, ERL_LIST_EXT); /* > 65535 bytes: no STRING_EXT */
  DC_ASSERT_EQ(size, 70000);
}

/* Runs fn in a grandchild; returns the signal that ended it, -1 for a
 * non-zero exit status, 0 for a clean exit. */
static int dies_of(void (*fn)(void)) {
  int st = dc_test_child_status(fn, 0);
  return WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st) ? -1 : 0;
}

/* A fault: SIGSEGV, or in a sanitizer build, whose runtime's own SEGV
 * handler reports the fault and exits, a non-zero exit. */
static int faulted(int how) {
  return how == SIGSEGV || (DC__SAN_SLOWDOWN > 1 && how == -1);
}

static char *unreadable; /* a PROT_NONE page */

static void output_from_unreadable(void) {
  setup(0);
  dc__g.trace_enabled = 0;
  driver_output(H, unreadable, 16);
}

static void output_from_readable(void) {
  setup(0);
  dc__g.trace_enabled = 0;
  static char ok[16];
  driver_output(H, ok, sizeof ok);
}

static void term_from_unreadable(void) {
  setup(0);
  dc__g.trace_enabled = 0;
  ErlDrvTermData spec[] = {ERL_DRV_STRING, (ErlDrvTermData)unreadable, 16};
  erl_drv_output_term(driver_mk_port(H), spec, 3);
}

static void term_from_readable(void) {
  setup(0);
  dc__g.trace_enabled = 0;
  static char ok[16];
  ErlDrvTermData spec[] = {ERL_DRV_STRING, (ErlDrvTermData)ok, sizeof ok};
  if (erl_drv_output_term(driver_mk_port(H), spec, 3) != 1)
    _exit(3);
}

DC_TEST(output_reads_the_data_with_the_trace_off) {
  /* ERTS copies the bytes into the message, so a bad pointer crashes the
   * node inside driver_output; with no trace to copy into, the harness
   * must still read them or a random sequence would miss the bug. */
  unreadable = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  DC_ASSERT(unreadable != MAP_FAILED);
  DC_ASSERT(faulted(dies_of(output_from_unreadable)));
  DC_ASSERT_EQ(dies_of(output_from_readable), 0);
  /* the same for the string bytes of a term spec */
  DC_ASSERT(faulted(dies_of(term_from_unreadable)));
  DC_ASSERT_EQ(dies_of(term_from_readable), 0);
}
