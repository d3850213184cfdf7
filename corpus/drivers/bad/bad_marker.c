/* bad_marker: extended_marker left 0, as in pre-R13 drivers. The docs still
 * describe 0 as allowed, but OTP 25 refuses it with
 * {error, driver_incorrect_version}.
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
    .driver_name = "bad_marker",
    .extended_marker = 0,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
};

DRIVER_INIT(bad_marker) { return &bad_entry; }
