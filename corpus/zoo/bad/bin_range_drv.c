/* bin_range_drv: a framing decoder.
 *
 * Each command is a frame: a 4-byte big-endian sequence number followed by
 * the payload. The driver keeps the frame in a driver binary and delivers
 * the payload without copying (driver_output_binary with an offset), with
 * the sequence number as the header bytes. Frames shorter than 4 bytes are
 * answered with "short".
 *
 * DEFECT (bin.range): the payload length passed is the whole frame length
 * instead of frame length - 4, so the slice [4, 4 + len) runs 4 bytes past
 * the end of the binary.
 */
#include <erl_driver.h>

#include <string.h>

#define HDR 4

static ErlDrvData fr_start(ErlDrvPort port, char *command) {
  (void)command;
  return (ErlDrvData)port;
}

static void fr_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  ErlDrvPort port = (ErlDrvPort)d;
  if (len < HDR) {
    driver_output(port, "short", 5);
    return;
  }
  ErlDrvBinary *frame = driver_alloc_binary(len);
  if (!frame) {
    driver_failure_atom(port, "enomem");
    return;
  }
  memcpy(frame->orig_bytes, buf, len);
  /* the defect: the payload is len - HDR bytes long */
  driver_output_binary(port, frame->orig_bytes, HDR, frame, HDR, len);
  driver_free_binary(frame);
}

static ErlDrvEntry fr_entry = {
    .start = fr_start,
    .output = fr_output,
    .driver_name = "bin_range_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(bin_range_drv) { return &fr_entry; }
