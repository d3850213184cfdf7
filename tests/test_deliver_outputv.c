/* bin.write_after_delivery on the outputv path: a segment binary of at
 * least 256 bytes is the sender's own binary in ERTS (io.c copies smaller
 * pieces into private binaries), so a driver that keeps a reference to one
 * must not write it: not during outputv, not later. Smaller pieces and
 * segments the driver did not keep are its to scribble on. */
#include <string.h>

#include "support.h"

#define BIG 300   /* >= 256: shared with the sender */
#define SMALL 100 /* < 256: a private copy */

static ErlDrvBinary *g_kept;
static struct {
  int keep;      /* inc_refc binv[1] and keep it in g_kept */
  int write_now; /* write binv[1] during outputv */
  int over_free; /* driver_free_binary(binv[1]) without owning it */
} cfg;

enum { C_WRITE_KEPT = 1, C_FREE_KEPT };

__attribute__((noinline)) static void scribble(ErlDrvBinary *b) {
  b->orig_bytes[b->orig_size - 1] ^= 0x5A;
}

static ErlDrvData dstart(ErlDrvPort port, char *cmd) {
  (void)cmd;
  return (ErlDrvData)port;
}

static void doutputv(ErlDrvData d, ErlIOVec *ev) {
  (void)d;
  ErlDrvBinary *b = ev->vsize > 1 ? ev->binv[1] : NULL;
  if (!b)
    return;
  if (cfg.keep) {
    driver_binary_inc_refc(b);
    g_kept = b;
  }
  if (cfg.write_now)
    scribble(b);
  if (cfg.over_free)
    driver_free_binary(b);
}

static ErlDrvSSizeT dcontrol(ErlDrvData d, unsigned int cmd, char *buf,
                             ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  (void)d, (void)buf, (void)len, (void)rbuf, (void)rlen;
  if (cmd == C_WRITE_KEPT && g_kept)
    scribble(g_kept);
  if (cmd == C_FREE_KEPT && g_kept) {
    driver_free_binary(g_kept);
    g_kept = NULL;
  }
  return 0;
}

static ErlDrvEntry entry = {
    .driver_name = "dlv_ov",
    .start = dstart,
    .outputv = doutputv,
    .control = dcontrol,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

static ErlDrvEntry *init_fn(void) { return &entry; }

static dc__port *open_one(void) {
  return dc_test_open_static(init_fn, "dlv_ov", DC__OPT_BINARY);
}

static char src[BIG];

static void send_cmd(dc__port *p, size_t len) {
  memset(src, 's', sizeof src);
  SysIOVec seg = {src, len};
  DC_ASSERT_EQ(dc__port_command(p, p->owner, &seg, 1, 0), 0);
}

static void ctl(dc__port *p, unsigned cmd) {
  dc__port_control(p, p->owner, cmd, "", 0);
}

static size_t wad(void) {
  return dc__findings_count(DC_RULE_BIN_WRITE_AFTER_DELIVERY);
}

DC_TEST(kept_big_segment_written_during_outputv_is_reported) {
  cfg.keep = cfg.write_now = 1;
  dc__port *p = open_one();
  send_cmd(p, BIG);
  DC_ASSERT_EQ(wad(), 1);
  size_t n = 0;
  const dc__finding *f = dc__findings(&n);
  for (size_t i = 0; i < n; i++)
    if (f[i].rule == DC_RULE_BIN_WRITE_AFTER_DELIVERY) {
      DC_ASSERT_STREQ(f[i].api, "outputv");
      DC_ASSERT(strstr(f[i].message, "written during outputv") != NULL);
    }
  ctl(p, C_FREE_KEPT);
  DC_ASSERT_EQ(wad(), 1);
}

/* The sender's bytes must never change: the harness copied them into the
 * segment binary and may compare against them, never write them. */
DC_TEST(sender_bytes_are_untouched) {
  cfg.keep = cfg.write_now = 1;
  dc__port *p = open_one();
  send_cmd(p, BIG);
  for (size_t i = 0; i < BIG; i++)
    DC_ASSERT_EQ(src[i], 's');
  ctl(p, C_FREE_KEPT);
}

DC_TEST(kept_big_segment_written_later_is_reported) {
  cfg.keep = 1;
  dc__port *p = open_one();
  send_cmd(p, BIG);
  DC_ASSERT_EQ(wad(), 0);
  ctl(p, C_WRITE_KEPT);
  DC_ASSERT_EQ(wad(), 1);
  ctl(p, C_FREE_KEPT);
}

DC_TEST(kept_big_segment_untouched_is_clean) {
  cfg.keep = 1;
  dc__port *p = open_one();
  size_t before = dc__bin_live_count();
  send_cmd(p, BIG);
  DC_ASSERT_EQ(dc__bin_live_count(), before + 1);
  DC_ASSERT_EQ((unsigned char)g_kept->orig_bytes[0], 's');
  ctl(p, C_FREE_KEPT);
  DC_ASSERT_EQ(dc__bin_live_count(), before);
  dc__unload_driver();
  DC_ASSERT_EQ(wad(), 0);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_BIN_LEAK), 0);
}

/* Not kept: the binary dies after outputv, its bytes were never shared. */
DC_TEST(unkept_big_segment_written_is_clean) {
  cfg.write_now = 1;
  dc__port *p = open_one();
  send_cmd(p, BIG);
  send_cmd(p, BIG);
  DC_ASSERT_EQ(wad(), 0);
}

/* Below 256 bytes ERTS gives the driver a private copy. */
DC_TEST(kept_small_segment_written_is_clean) {
  cfg.keep = cfg.write_now = 1;
  dc__port *p = open_one();
  send_cmd(p, SMALL);
  ctl(p, C_WRITE_KEPT);
  ctl(p, C_FREE_KEPT);
  DC_ASSERT_EQ(wad(), 0);
}

/* Freeing a segment binary the driver never took a reference to is a
 * refcount error the harness sees when it drops its own reference. */
DC_TEST(over_freed_segment_is_reported) {
  cfg.over_free = 1;
  dc__port *p = open_one();
  send_cmd(p, BIG);
  DC_ASSERT(dc__findings_count(DC_RULE_BIN_REFC) >= 1);
  cfg.over_free = 0;
  send_cmd(p, SMALL); /* the harness carries on */
}

/* Above the registry's quarantine size an over-freed binary's memory goes
 * back to libc at once: the harness must not read it afterwards (ASan
 * builds turn such a read into a crash). */
DC_TEST(over_freed_large_segment_is_reported) {
  cfg.over_free = 1;
  dc__port *p = open_one();
  static char large[20000];
  SysIOVec seg = {large, sizeof large};
  DC_ASSERT_EQ(dc__port_command(p, p->owner, &seg, 1, 0), 0);
  DC_ASSERT(dc__findings_count(DC_RULE_BIN_REFC) +
                dc__findings_count(DC_RULE_BIN_FOREIGN) >=
            1);
}

/* Many segments (more than fit in any small fixed vector). */
DC_TEST(long_vectors_are_delivered_whole) {
  dc__port *p = open_one();
  static char bytes[40];
  SysIOVec segs[40];
  for (int i = 0; i < 40; i++) {
    bytes[i] = (char)('A' + i % 26);
    segs[i].iov_base = &bytes[i];
    segs[i].iov_len = 1;
  }
  size_t before = dc__bin_live_count();
  DC_ASSERT_EQ(dc__port_command(p, p->owner, segs, 40, 0), 0);
  DC_ASSERT_EQ(dc__bin_live_count(), before);
  DC_ASSERT_EQ(wad(), 0);
}
