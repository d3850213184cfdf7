/* bin_foreign_drv: an echo that avoids allocating for short messages.
 *
 * Commands longer than 32 bytes are echoed through a fresh driver binary
 * (driver_output_binary, then driver_free_binary). Short ones are meant to
 * take a "fast path" through a preallocated buffer.
 *
 * DEFECT (bin.foreign): the fast path builds its own ErlDrvBinary header in
 * a static struct and passes it to driver_output_binary. Only binaries from
 * driver_alloc_binary/driver_realloc_binary carry the emulator's hidden
 * header (reference count, allocator); a hand-made one corrupts it. Short
 * messages should simply use driver_output.
 */
#include <erl_driver.h>

#include <string.h>

#define FAST_MAX 32

static struct {
  ErlDrvBinary hdr;
  char room[FAST_MAX];
} fast_bin;

static ErlDrvData fe_start(ErlDrvPort port, char *command) {
  (void)command;
  return (ErlDrvData)port;
}

static void fe_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  ErlDrvPort port = (ErlDrvPort)d;
  if (len <= FAST_MAX) {
    fast_bin.hdr.orig_size = (ErlDrvSInt)len;
    memcpy(fast_bin.hdr.orig_bytes, buf, len);
    driver_output_binary(port, NULL, 0, &fast_bin.hdr, 0, len); /* defect */
    return;
  }
  ErlDrvBinary *b = driver_alloc_binary(len);
  if (!b) {
    driver_failure_atom(port, "enomem");
    return;
  }
  memcpy(b->orig_bytes, buf, len);
  driver_output_binary(port, NULL, 0, b, 0, len);
  driver_free_binary(b);
}

static ErlDrvEntry fe_entry = {
    .start = fe_start,
    .output = fe_output,
    .driver_name = "bin_foreign_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(bin_foreign_drv) { return &fe_entry; }
