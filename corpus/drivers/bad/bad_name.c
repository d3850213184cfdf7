/* bad_name: the library is bad_name.so but the entry says "other_name".
 * erl_ddll checks the name before init and fails with
 * {error, bad_driver_name}.
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
    .driver_name = "other_name",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
};

DRIVER_INIT(bad_name) { return &bad_entry; }
