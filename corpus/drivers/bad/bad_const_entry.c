/* bad_const_entry: the entry is declared const, so it lies in read-only memory.
 * The docs forbid this (the emulator reserves handle/handle2 for itself and
 * may write them); OTP 25 happens not to write them and loads it: a finding,
 * not a load failure.
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

static const ErlDrvEntry bad_entry = {
    .start = bad_start,
    .output = bad_output,
    .driver_name = "bad_const_entry",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
};

/* The cast hides the problem from the compiler, not from the loader. */
DRIVER_INIT(bad_const_entry) { return (ErlDrvEntry *)&bad_entry; }
