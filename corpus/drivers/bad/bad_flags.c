/* bad_flags: driver_flags has bit 0x100 set, which OTP 25 does not define.
 * OTP 25 ignores unknown bits and loads the driver; a later release may give
 * the bit a meaning, so it is a warning.
 *
 * Apart from that defect this is a working echo driver: command data comes
 * back to the owner as {Port, {data, Data}}.
 */
#include <erl_driver.h>

static ErlDrvData bad_start(ErlDrvPort port, char *command) {
  (void)command;
  return (ErlDrvData)port;
}

static void bad_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  driver_output((ErlDrvPort)drv_data, buf, len);
}

static ErlDrvEntry bad_entry = {
    .start = bad_start,
    .output = bad_output,
    .driver_name = "bad_flags",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = ERL_DRV_FLAG_USE_PORT_LOCKING | 0x100 /* undefined bit */,
};

DRIVER_INIT(bad_flags) { return &bad_entry; }
