/* bin.write_after_delivery: checksum mode and strict (page protection)
 * mode, on a static test driver whose control commands deliver a binary
 * and then (bad) write it or (fixed) write a fresh copy. */
#include <string.h>

#include "support.h"

static ErlDrvPort g_port;
static ErlDrvBinary *g_bin;

enum {
  C_OUTPUT = 1, /* driver_output_binary of g_bin (kept) */
  C_WRITE,      /* writes g_bin[0]: the defect */
  C_FREE,       /* frees g_bin */
  C_ENQ,        /* driver_enq_bin of g_bin (kept) */
  C_DEQ,        /* dequeues everything */
  C_CTL_REPLY,  /* binary control reply of g_bin, a reference kept */
  C_PRIVATE,    /* fills a binary that was never delivered, twice */
  C_WRITE_TAIL, /* writes g_bin bytes after the delivered slice */
  C_FRESH_COPY  /* the fixed twin: copies g_bin, writes the copy */
};

static ErlDrvData dstart(ErlDrvPort port, char *cmd) {
  (void)cmd;
  g_port = port;
  set_port_control_flags(port, PORT_CONTROL_FLAG_BINARY);
  return (ErlDrvData)port;
}

static void new_bin(void) {
  g_bin = driver_alloc_binary(64);
  memset(g_bin->orig_bytes, 'a', 64);
}

/* Exported (non-static) so strict mode can name it as the writer. */
__attribute__((noinline)) void rul_dlv_write_byte(ErlDrvBinary *b, int at) {
  b->orig_bytes[at] ^= 0x5A;
}

static ErlDrvSSizeT dcontrol(ErlDrvData d, unsigned int cmd, char *buf,
                             ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  (void)d, (void)buf, (void)len, (void)rlen;
  switch (cmd) {
  case C_OUTPUT:
    new_bin();
    driver_output_binary(g_port, NULL, 0, g_bin, 0, 32);
    break;
  case C_WRITE:
    rul_dlv_write_byte(g_bin, 3);
    break;
  case C_FREE:
    driver_free_binary(g_bin);
    g_bin = NULL;
    break;
  case C_ENQ:
    new_bin();
    driver_enq_bin(g_port, g_bin, 0, 64);
    break;
  case C_DEQ:
    driver_deq(g_port, driver_sizeq(g_port));
    break;
  case C_CTL_REPLY:
    new_bin();
    driver_binary_inc_refc(g_bin); /* one for the reply, one kept */
    *rbuf = (char *)g_bin;
    return 64;
  case C_PRIVATE: {
    ErlDrvBinary *b = driver_alloc_binary(16);
    memset(b->orig_bytes, 1, 16);
    memset(b->orig_bytes, 2, 16);
    driver_free_binary(b);
    break;
  }
  case C_WRITE_TAIL:
    rul_dlv_write_byte(g_bin, 40); /* outside [0,32) */
    break;
  case C_FRESH_COPY: {
    ErlDrvBinary *c = driver_alloc_binary(64);
    memcpy(c->orig_bytes, g_bin->orig_bytes, 64);
    rul_dlv_write_byte(c, 3);
    driver_free_binary(g_bin);
    g_bin = c;
    break;
  }
  }
  return 0;
}

static ErlDrvEntry entry = {
    .driver_name = "rul_dlv",
    .start = dstart,
    .control = dcontrol,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

static ErlDrvEntry *init_fn(void) { return &entry; }

static dc__port *open_one(void) {
  return dc_test_open_static(init_fn, "rul_dlv", 0);
}

static void ctl(dc__port *p, unsigned cmd) {
  dc__port_control(p, p->owner, cmd, "", 0);
}

static const dc__finding *only(dc_rule r) {
  size_t n = 0;
  const dc__finding *f = dc__findings(&n);
  const dc__finding *hit = NULL;
  for (size_t i = 0; i < n; i++)
    if (f[i].rule == r) {
      if (hit)
        return NULL;
      hit = &f[i];
    }
  return hit;
}

DC_TEST(write_after_output_binary_is_reported_once) {
  dc__port *p = open_one();
  ctl(p, C_OUTPUT);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_BIN_WRITE_AFTER_DELIVERY), 0);
  ctl(p, C_WRITE);
  const dc__finding *f = only(DC_RULE_BIN_WRITE_AFTER_DELIVERY);
  DC_ASSERT(f != NULL);
  DC_ASSERT_EQ(f->count, 1);
  DC_ASSERT_STREQ(f->callback, "control"); /* seen after this callback */
  DC_ASSERT_STREQ(f->api, "driver_output_binary");
  ctl(p, C_WRITE); /* once per binary */
  ctl(p, C_FREE);
  DC_ASSERT_EQ(only(DC_RULE_BIN_WRITE_AFTER_DELIVERY)->count, 1);
}

DC_TEST(fresh_copy_after_output_binary_is_clean) {
  dc__port *p = open_one();
  ctl(p, C_OUTPUT);
  ctl(p, C_FRESH_COPY);
  ctl(p, C_FREE);
  dc__unload_driver();
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_BIN_WRITE_AFTER_DELIVERY), 0);
}

DC_TEST(write_outside_the_delivered_slice_is_clean) {
  dc__port *p = open_one();
  ctl(p, C_OUTPUT);
  ctl(p, C_WRITE_TAIL);
  ctl(p, C_FREE);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_BIN_WRITE_AFTER_DELIVERY), 0);
}

DC_TEST(write_to_undelivered_binary_is_clean) {
  dc__port *p = open_one();
  ctl(p, C_PRIVATE);
  ctl(p, C_PRIVATE);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_BIN_WRITE_AFTER_DELIVERY), 0);
}

DC_TEST(write_while_queued_is_reported) {
  dc__port *p = open_one();
  ctl(p, C_ENQ);
  ctl(p, C_WRITE);
  const dc__finding *f = only(DC_RULE_BIN_WRITE_AFTER_DELIVERY);
  DC_ASSERT(f != NULL);
  DC_ASSERT_STREQ(f->api, "driver_enq_bin");
}

/* Once dequeued, the bytes are the driver's again. */
DC_TEST(write_after_dequeue_is_clean) {
  dc__port *p = open_one();
  ctl(p, C_ENQ);
  ctl(p, C_DEQ);
  ctl(p, C_WRITE);
  ctl(p, C_FREE);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_BIN_WRITE_AFTER_DELIVERY), 0);
}

DC_TEST(write_after_binary_control_reply_is_reported) {
  dc__port *p = open_one();
  ctl(p, C_CTL_REPLY);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_BIN_WRITE_AFTER_DELIVERY), 0);
  ctl(p, C_WRITE);
  const dc__finding *f = only(DC_RULE_BIN_WRITE_AFTER_DELIVERY);
  DC_ASSERT(f != NULL);
  DC_ASSERT_STREQ(f->api, "control");
}

/* A write between delivery and free, with no callback boundary in between
 * that re-checks (free is inside the same callback), is caught at free. */
DC_TEST(write_is_caught_at_free) {
  dc__port *p = open_one();
  ctl(p, C_OUTPUT);
  rul_dlv_write_byte(g_bin, 0); /* outside any callback */
  driver_free_binary(g_bin);
  g_bin = NULL;
  DC_ASSERT(only(DC_RULE_BIN_WRITE_AFTER_DELIVERY) != NULL);
  (void)p;
}

DC_TEST(strict_mode_names_the_writing_function) {
  dc__set_strict_binaries(1);
  dc__port *p = open_one();
  ctl(p, C_OUTPUT);
  ctl(p, C_WRITE);
  const dc__finding *f = only(DC_RULE_BIN_WRITE_AFTER_DELIVERY);
  DC_ASSERT(f != NULL);
  DC_ASSERT(strstr(f->location, "rul_dlv_write_byte") != NULL);
  DC_ASSERT(strstr(f->message, "page protection") != NULL);
  DC_ASSERT_EQ(f->count, 1);
  /* The write went through after the fault. */
  DC_ASSERT_EQ((unsigned char)g_bin->orig_bytes[3], 'a' ^ 0x5A);
  ctl(p, C_FREE);
}

DC_TEST(strict_mode_write_to_undelivered_part_is_clean) {
  dc__set_strict_binaries(1);
  dc__port *p = open_one();
  ctl(p, C_OUTPUT);
  ctl(p, C_WRITE_TAIL); /* same page, outside the slice: faults, no report */
  ctl(p, C_FREE);
  ctl(p, C_PRIVATE);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_BIN_WRITE_AFTER_DELIVERY), 0);
}

/* The emulator's references (queue) are gone at unload: only the driver's
 * own unfreed binaries count as bin.leak. */
DC_TEST(bin_leak_excludes_queued_binaries) {
  dc__port *p = open_one();
  ctl(p, C_ENQ);
  ctl(p, C_FREE); /* the queue holds the only reference now */
  dc__unload_driver();
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_BIN_LEAK), 0);
}

DC_TEST(bin_leak_reports_driver_held_binary) {
  dc__port *p = open_one();
  ctl(p, C_OUTPUT); /* kept, never freed */
  dc__unload_driver();
  DC_ASSERT(only(DC_RULE_BIN_LEAK) != NULL);
}
