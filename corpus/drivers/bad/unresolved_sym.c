/* A driver that calls a function neither it nor the emulator provides:
 * dlopen with RTLD_NOW fails; drvcheck must name the missing symbol. */
#include <erl_driver.h>

void drvcheck_no_such_function(void);

static void out(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  (void)d;
  (void)buf;
  (void)len;
  drvcheck_no_such_function();
}

static ErlDrvEntry entry = {
    .output = out,
    .driver_name = "unresolved_sym",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(unresolved_sym) { return &entry; }
