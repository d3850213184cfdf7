/* null_init: driver_init returns NULL instead of its entry.
 * erl_ddll fails with {error, driver_init_failed}.
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
    .driver_name = "null_init",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
};

/* The entry exists but is never handed over. */
DRIVER_INIT(null_init) {
  (void)bad_entry;
  return NULL;
}
