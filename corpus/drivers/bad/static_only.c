/* static_only: built with STATIC_ERLANG_DRIVER defined, so the library only
 * exports static_only_driver_init and no driver_init. erl_ddll cannot find
 * an init function ({error, no_driver_init}): a statically linked driver
 * cannot be loaded dynamically.
 *
 * Apart from that defect this is a working echo driver: command data comes
 * back to the owner as {Port, {data, Data}}.
 */
/* Meant to be linked into the emulator: DRIVER_INIT then names the
 * function static_only_driver_init instead of driver_init. */
#define STATIC_ERLANG_DRIVER
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
    .driver_name = "static_only",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
};

/* Exported explicitly (STATIC_ERLANG_DRIVER drops the export attribute and
 * the corpus is built with -fvisibility=hidden), so the symbol is visible. */
__attribute__((visibility("default"))) DRIVER_INIT(static_only) {
  return &bad_entry;
}
