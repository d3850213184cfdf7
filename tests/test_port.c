/* Port lifecycle, opening and the port API: open_port/start, port_command
 * (output/outputv, busy and force), port_control and port_call (close,
 * failures, init_ack and the rest: test_port_close.c). ERTS facts:
 * shared/spec/protocol.md §3.2-3.8 (io.c erts_open_driver). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "support.h"

/* What the test wants the driver to do; each test runs in its own process. */
static struct {
  ErlDrvData start_ret; /* returned by start when use_ret */
  int use_ret, start_errno, start_timer;
  int outputv_keep; /* outputv keeps binv[1] with inc_refc */
} cfg;

/* What the driver saw. */
static struct {
  ErlDrvPort port;
  char cmd[128];
  int start_flags, stops, outputs;
  ErlDrvTermData start_caller, out_caller;
  /* outputv */
  int vsize;
  ErlDrvSizeT size;
  char *iov0_base;
  size_t iov0_len, iov1_len;
  int binv0_null, binv1_set;
  char data[64];
  size_t len;
  ErlDrvBinary *kept;
  char *out_buf;
  ErlDrvSizeT rlen;
} rec;

static char static_reply[8] = "static";

static dc__port *P(void) { return dc__port_lookup(rec.port); }

static ErlDrvData drv_start(ErlDrvPort port, char *cmd) {
  rec.port = port;
  snprintf(rec.cmd, sizeof rec.cmd, "%s", cmd);
  rec.start_flags = get_port_flags(port);
  rec.start_caller = P()->caller;
  if (cfg.start_timer)
    driver_set_timer(port, 10);
  if (cfg.use_ret) {
    errno = cfg.start_errno;
    return cfg.start_ret;
  }
  return (ErlDrvData)port;
}

static void drv_stop(ErlDrvData d) {
  (void)d;
  rec.stops++;
}

static void drv_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  (void)d;
  rec.outputs++;
  rec.out_caller = P()->caller;
  rec.out_buf = buf;
  rec.len = len < sizeof rec.data ? len : sizeof rec.data;
  memcpy(rec.data, buf, rec.len);
  buf[0] = 'X'; /* the driver's private copy: the sender's data is safe */
}

static void drv_outputv(ErlDrvData d, ErlIOVec *ev) {
  (void)d;
  rec.outputs++;
  rec.out_caller = P()->caller;
  rec.vsize = ev->vsize;
  rec.size = ev->size;
  rec.iov0_base = ev->iov[0].iov_base;
  rec.iov0_len = ev->iov[0].iov_len;
  rec.iov1_len = ev->iov[1].iov_len;
  rec.binv0_null = ev->binv[0] == NULL;
  rec.binv1_set = ev->binv[1] != NULL;
  rec.len = driver_vec_to_buf(ev, rec.data, sizeof rec.data);
  if (cfg.outputv_keep && ev->binv[1]) {
    rec.kept = ev->binv[1];
    driver_binary_inc_refc(rec.kept);
  }
}

static ErlDrvSSizeT drv_control(ErlDrvData d, unsigned cmd, char *buf,
                                ErlDrvSizeT len, char **rbuf,
                                ErlDrvSizeT rlen) {
  (void)d;
  ErlDrvPort port = rec.port;
  rec.rlen = rlen;
  switch (cmd) {
  case 1: /* echo into the default buffer */
    memcpy(*rbuf, buf, len);
    return (ErlDrvSSizeT)len;
  case 2:
    *rbuf = NULL;
    return 5;
  case 3: { /* list mode replacement */
    char *r = driver_alloc(5);
    memcpy(r, "hello", 5);
    *rbuf = r;
    return 5;
  }
  case 4: { /* binary mode replacement: the whole binary, return ignored */
    ErlDrvBinary *b = driver_alloc_binary(10);
    memcpy(b->orig_bytes, "0123456789", 10);
    *rbuf = (char *)b;
    return 3;
  }
  case 5:
    return -1;
  case 6:
    memset(*rbuf, 'a', 100);
    return 100;
  case 8:
    *rbuf = static_reply;
    return 6;
  case 9:
    set_busy_port(port, 1);
    return 0;
  case 14:
    set_port_control_flags(port, PORT_CONTROL_FLAG_BINARY);
    return 0;
  }
  return 0;
}

static ErlDrvSSizeT drv_call(ErlDrvData d, unsigned cmd, char *buf,
                             ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen,
                             unsigned *flags) {
  (void)d;
  rec.rlen = rlen;
  int i = 0;
  switch (cmd) {
  case 1: /* {ok,42} in the default buffer */
    ei_encode_version(*rbuf, &i);
    ei_encode_tuple_header(*rbuf, &i, 2);
    ei_encode_atom(*rbuf, &i, "ok");
    ei_encode_long(*rbuf, &i, 42);
    return i;
  case 2: /* bad magic */
    memcpy(*rbuf, "xyz", 3);
    return 3;
  case 3: { /* echo in a driver_alloc buffer, freed by the emulator */
    char *r = driver_alloc(len);
    memcpy(r, buf, len);
    *rbuf = r;
    return (ErlDrvSSizeT)len;
  }
  case 4: { /* a static buffer the emulator must leave alone */
    static char term[8];
    ei_encode_version(term, &i);
    ei_encode_atom(term, &i, "kept");
    *rbuf = term;
    *flags |= DRIVER_CALL_KEEP_BUFFER;
    return i;
  }
  case 5:
    return -1;
  }
  return 0;
}

static ErlDrvEntry entry = {
    .start = drv_start,
    .stop = drv_stop,
    .output = drv_output,
    .driver_name = "tport",
    .control = drv_control,
    .outputv = drv_outputv,
    .call = drv_call,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};
static ErlDrvEntry *tport_init(void) { return &entry; }

static ErlDrvTermData owner;

/* Loads the driver with extra flags and the given callbacks removed. */
static void load(int flags) {
  entry.driver_flags = flags;
  dc_test_load_static(tport_init);
  owner = dc__proc_spawn("owner");
}

static dc__port *open_port(int opts) {
  return dc_test_open_port("tport a b", opts, owner);
}

static int control(dc__port *p, unsigned cmd, const char *data) {
  return dc__port_control(p, owner, cmd, data, strlen(data));
}

/* ------------------------------------------------------------------------ */
/* open_port / start                                                         */

DC_TEST(open_passes_whole_command_and_caller) {
  load(0);
  dc__port *p = open_port(0);
  DC_ASSERT_STREQ(rec.cmd, "tport a b"); /* the whole command (§3.2) */
  DC_ASSERT_STREQ(p->name, "tport a b");
  DC_ASSERT_EQ(rec.start_caller, owner);
  DC_ASSERT_EQ(p->state, DC__PORT_OPEN);
  DC_ASSERT(p->drv_data == (ErlDrvData)rec.port);
  DC_ASSERT_EVENT("open #Port<0.%u>", p->idx);
}

static void open_fails(ErlDrvData ret, int err, const char *reason) {
  load(0);
  cfg.use_ret = 1;
  cfg.start_ret = ret;
  cfg.start_errno = err;
  cfg.start_timer = 1;
  dc__open_result r = dc__port_open("tport", 0, owner);
  DC_ASSERT(r.port == NULL);
  DC_ASSERT_STREQ(r.error, reason);
  DC_ASSERT_EQ(rec.stops, 0); /* stop is not called after a failed start */
  dc__port *p = dc__port_lookup(rec.port);
  DC_ASSERT_EQ(p->state, DC__PORT_DEAD);
  DC_ASSERT_EQ(p->timer_armed, 0); /* the timer set in start is cancelled */
  DC_ASSERT_EVENT("open {error,%s}", reason);
}

DC_TEST(open_error_general_is_einval) {
  open_fails(ERL_DRV_ERROR_GENERAL, 0, "einval");
}
DC_TEST(open_error_errno_is_errno_atom) {
  open_fails(ERL_DRV_ERROR_ERRNO, EACCES, "eacces");
}
DC_TEST(open_error_badarg) { open_fails(ERL_DRV_ERROR_BADARG, 0, "badarg"); }

DC_TEST(open_other_values_accepted_as_drv_data) {
  /* -4 and NULL are plain drv_data values (OTP 25 run, §3.2). */
  load(0);
  cfg.use_ret = 1;
  cfg.start_ret = (ErlDrvData)-4;
  dc__port *p = open_port(0);
  DC_ASSERT(p->drv_data == (ErlDrvData)-4);
}

DC_TEST(port_flags_zero_in_start_binary_after) {
  load(0);
  dc__port *p = open_port(DC__OPT_BINARY);
  DC_ASSERT_EQ(rec.start_flags, 0);
  DC_ASSERT_EQ(get_port_flags(dc__port_handle(p)), PORT_FLAG_BINARY);
}

DC_TEST(null_start_gives_zero_drv_data) {
  entry.start = NULL;
  load(0);
  dc__port *p = open_port(0);
  DC_ASSERT(p->drv_data == NULL);
  DC_ASSERT_EQ(p->state, DC__PORT_OPEN);
}

DC_TEST(slots_are_never_reused) {
  load(0);
  dc__port *a = open_port(0);
  dc__port_exit(a, "normal", 0);
  dc__port *b = open_port(0);
  DC_ASSERT(a != b);
  DC_ASSERT(dc__port_live(dc__port_handle(a)) == NULL);
  DC_ASSERT(dc__port_live(dc__port_handle(b)) == b);
  DC_ASSERT(dc__port_by_term(b->id) == b);
  DC_ASSERT(dc__port_by_term(a->id) == NULL);
}

/* ------------------------------------------------------------------------ */
/* port_command                                                              */

DC_TEST(outputv_gets_placeholder_and_segments) {
  load(0);
  dc__port *p = open_port(0);
  ErlDrvTermData sender = dc__proc_spawn("sender");
  SysIOVec segs[2] = {{"ab", 2}, {"cde", 3}};
  DC_ASSERT_EQ(dc__port_command(p, sender, segs, 2, 0), 0);
  DC_ASSERT_EQ(rec.outputs, 1);
  DC_ASSERT_EQ(rec.vsize, 3); /* placeholder + 2 segments */
  DC_ASSERT_EQ(rec.size, 5);
  DC_ASSERT(rec.iov0_base == NULL);
  DC_ASSERT_EQ(rec.iov0_len, 0);
  DC_ASSERT(rec.binv0_null);
  DC_ASSERT(rec.binv1_set);
  DC_ASSERT_EQ(rec.len, 5);
  DC_ASSERT(memcmp(rec.data, "abcde", 5) == 0);
  DC_ASSERT_EQ(rec.out_caller, sender); /* the sender, not the owner */
}

DC_TEST(outputv_empty_command_has_vsize_2) {
  load(0);
  dc__port *p = open_port(0);
  DC_ASSERT_EQ(dc__port_command(p, owner, NULL, 0, 0), 0);
  DC_ASSERT_EQ(rec.vsize, 2); /* OTP 25 run, §3.3 */
  DC_ASSERT_EQ(rec.size, 0);
  DC_ASSERT_EQ(rec.iov1_len, 0);
}

DC_TEST(outputv_binaries_released_unless_kept) {
  load(0);
  dc__port *p = open_port(0);
  size_t before = dc__bin_live_count();
  SysIOVec seg = {"xyz", 3};
  dc__port_command(p, owner, &seg, 1, 0);
  DC_ASSERT_EQ(dc__bin_live_count(), before);
  cfg.outputv_keep = 1;
  dc__port_command(p, owner, &seg, 1, 0);
  DC_ASSERT_EQ(dc__bin_live_count(), before + 1);
  DC_ASSERT_EQ(driver_binary_get_refc(rec.kept), 1);
  driver_free_binary(rec.kept);
}

DC_TEST(output_gets_flat_private_copy) {
  entry.outputv = NULL;
  load(0);
  dc__port *p = open_port(0);
  char a[] = "ab", b[] = "cde";
  SysIOVec segs[2] = {{a, 2}, {b, 3}};
  DC_ASSERT_EQ(dc__port_command(p, owner, segs, 2, 0), 0);
  DC_ASSERT_EQ(rec.len, 5);
  DC_ASSERT(memcmp(rec.data, "abcde", 5) == 0);
  DC_ASSERT(a[0] == 'a'); /* the driver wrote into its copy only */
}

DC_TEST(null_output_callbacks_accept_commands) {
  entry.outputv = NULL;
  entry.output = NULL;
  load(0);
  dc__port *p = open_port(0);
  SysIOVec seg = {"x", 1};
  DC_ASSERT_EQ(dc__port_command(p, owner, &seg, 1, 0), 0);
  DC_ASSERT_EQ(p->state, DC__PORT_OPEN);
}

DC_TEST(busy_port_without_force_not_delivered) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 9, ""); /* set_busy_port(port, 1) */
  SysIOVec seg = {"x", 1};
  DC_ASSERT_EQ(dc__port_command(p, owner, &seg, 1, 0), DC_ESTATE);
  DC_ASSERT_EQ(rec.outputs, 0);
  set_busy_port(dc__port_handle(p), 0);
  DC_ASSERT_EQ(dc__port_command(p, owner, &seg, 1, 0), 0);
  DC_ASSERT_EQ(rec.outputs, 1);
}

DC_TEST(force_without_soft_busy_is_notsup) {
  load(0);
  dc__port *p = open_port(0);
  SysIOVec seg = {"x", 1};
  /* notsup even when not busy (OTP 25 run, §3.8) */
  DC_ASSERT_EQ(dc__port_command(p, owner, &seg, 1, 1), DC_EINVAL);
  DC_ASSERT_EQ(rec.outputs, 0);
  DC_ASSERT_EVENT("command #Port<0.%u> -> notsup", p->idx);
}

DC_TEST(force_with_soft_busy_delivers_while_busy) {
  load(ERL_DRV_FLAG_SOFT_BUSY);
  dc__port *p = open_port(0);
  control(p, 9, "");
  SysIOVec seg = {"x", 1};
  DC_ASSERT_EQ(dc__port_command(p, owner, &seg, 1, 1), 0);
  DC_ASSERT_EQ(rec.outputs, 1);
}

DC_TEST(command_to_closed_port_is_badarg) {
  load(0);
  dc__port *p = open_port(0);
  dc__port_exit(p, "normal", 0);
  SysIOVec seg = {"x", 1};
  DC_ASSERT_EQ(dc__port_command(p, owner, &seg, 1, 0), DC_EINVAL);
  DC_ASSERT_EQ(rec.outputs, 0);
  DC_ASSERT_EVENT("command #Port<0.%u> -> badarg", p->idx);
}

/* ------------------------------------------------------------------------ */
/* port_control                                                              */

DC_TEST(control_list_mode_default_buffer) {
  load(0);
  dc__port *p = open_port(0);
  DC_ASSERT_EQ(control(p, 1, "hi"), 0);
  DC_ASSERT_EQ(rec.rlen, 64); /* OTP 25 run: rlen 64 */
  DC_ASSERT_EVENT("control #Port<0.%u> -> [104,105]", p->idx);
}

DC_TEST(control_binary_mode_default_buffer) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 14, ""); /* set_port_control_flags(binary) */
  control(p, 1, "hi");
  DC_ASSERT_EVENT("control #Port<0.%u> -> <<104,105>>", p->idx);
}

DC_TEST(control_null_rbuf_is_nil_in_both_modes) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 2, "");
  DC_ASSERT_EVENT("control #Port<0.%u> -> []", p->idx);
  dc__trace_reset();
  control(p, 14, "");
  control(p, 2, "");
  DC_ASSERT_EVENT("control #Port<0.%u> -> []", p->idx);
}

DC_TEST(control_replaced_list_buffer_is_freed) {
  load(0);
  dc__port *p = open_port(0);
  size_t before = dc__mem_live_count(NULL);
  control(p, 3, "");
  DC_ASSERT_EVENT("control #Port<0.%u> -> [104,101,108,108,111]", p->idx);
  DC_ASSERT_EQ(dc__mem_live_count(NULL), before);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_RBUF_FOREIGN), 0);
}

DC_TEST(control_replaced_binary_whole_and_released) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 14, "");
  size_t before = dc__bin_live_count();
  control(p, 4, ""); /* returns 3, binary holds 10 bytes */
  DC_ASSERT_EVENT("control #Port<0.%u> -> <<48,49,50,51,52,53,54,55,56,57>>",
                  p->idx);
  DC_ASSERT_EQ(dc__bin_live_count(), before);
}

DC_TEST(control_negative_is_badarg) {
  load(0);
  dc__port *p = open_port(0);
  DC_ASSERT_EQ(control(p, 5, ""), DC_EINVAL);
  DC_ASSERT_EVENT("control #Port<0.%u> -> badarg", p->idx);
}

DC_TEST(control_overflow_flagged) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 6, "");
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_RBUF_OVERFLOW), 1);
}

DC_TEST(control_foreign_rbuf_flagged_not_freed) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 8, "");
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_RBUF_FOREIGN), 1);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_MEM_BAD_FREE), 0);
  DC_ASSERT_STREQ(static_reply, "static");
}

DC_TEST(control_without_callback_is_badarg) {
  entry.control = NULL;
  load(0);
  dc__port *p = open_port(0);
  DC_ASSERT_EQ(control(p, 1, "x"), DC_EINVAL);
  DC_ASSERT_EVENT("control #Port<0.%u> -> badarg", p->idx);
}

DC_TEST(control_not_blocked_by_busy) {
  load(0);
  dc__port *p = open_port(0);
  control(p, 9, "");
  DC_ASSERT_EQ(control(p, 1, "ok"), 0);
  DC_ASSERT_EVENT("control #Port<0.%u> -> [111,107]", p->idx);
}

/* ------------------------------------------------------------------------ */
/* port_call                                                                 */

static int call(dc__port *p, unsigned cmd) {
  char etf[16];
  int i = 0;
  ei_encode_version(etf, &i);
  ei_encode_atom(etf, &i, "arg");
  return dc__port_call(p, owner, cmd, etf, (size_t)i);
}

DC_TEST(call_good_reply) {
  load(0);
  dc__port *p = open_port(0);
  DC_ASSERT_EQ(call(p, 1), 0);
  DC_ASSERT_EQ(rec.rlen, 255); /* OTP 25 run, immediate execution */
  DC_ASSERT_EVENT("call #Port<0.%u> -> {ok,42}", p->idx);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_CALL_BAD_ETF), 0);
}

DC_TEST(call_bad_magic_is_badarg_and_flagged) {
  load(0);
  dc__port *p = open_port(0);
  call(p, 2);
  DC_ASSERT_EVENT("call #Port<0.%u> -> badarg", p->idx);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_CALL_BAD_ETF), 1);
}

DC_TEST(call_negative_is_badarg_not_flagged) {
  load(0);
  dc__port *p = open_port(0);
  call(p, 5);
  DC_ASSERT_EVENT("call #Port<0.%u> -> badarg", p->idx);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_CALL_BAD_ETF), 0);
}

DC_TEST(call_replaced_buffer_freed) {
  load(0);
  dc__port *p = open_port(0);
  size_t before = dc__mem_live_count(NULL);
  call(p, 3);
  DC_ASSERT_EVENT("call #Port<0.%u> -> arg", p->idx);
  DC_ASSERT_EQ(dc__mem_live_count(NULL), before);
}

DC_TEST(call_keep_buffer_left_alone) {
  load(0);
  dc__port *p = open_port(0);
  call(p, 4);
  DC_ASSERT_EVENT("call #Port<0.%u> -> kept", p->idx);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_RBUF_FOREIGN), 0);
}
