/* control_bin_drv: port_control replies as binaries.
 *
 * start switches the port's control replies to binary mode with
 * set_port_control_flags(PORT_CONTROL_FLAG_BINARY). Then:
 *   port_control(P, 1, _)   -> <<"ok">>              (default reply buffer)
 *   port_control(P, 2, [N]) -> <<0, 1, ..., N-1>>    (N bytes, N <= 255)
 * A reply longer than rlen (64) bytes cannot use the default buffer: in binary
 * mode the replacement must be an ErlDrvBinary (cast to char *). ERTS then
 * returns the whole binary (its orig_size bytes) and consumes our reference.
 */
#include <erl_driver.h>
#include <string.h>

#define CB_OP_OK 1
#define CB_OP_BYTES 2

static ErlDrvData cb_start(ErlDrvPort port, char *command) {
  (void)command;
  set_port_control_flags(port, PORT_CONTROL_FLAG_BINARY);
  return (ErlDrvData)port; /* no state besides the port */
}

static void fill_pattern(char *dst, ErlDrvSizeT n) {
  for (ErlDrvSizeT i = 0; i < n; i++)
    dst[i] = (char)i;
}

static ErlDrvSSizeT cb_control(ErlDrvData drv_data, unsigned int command,
                               char *buf, ErlDrvSizeT len, char **rbuf,
                               ErlDrvSizeT rlen) {
  (void)drv_data;
  if (command == CB_OP_OK) {
    if (rlen < 2)
      return -1;
    memcpy(*rbuf, "ok", 2);
    return 2;
  }
  if (command != CB_OP_BYTES || len != 1)
    return -1;
  ErlDrvSizeT n = (unsigned char)buf[0];
  if (n <= rlen) {
    fill_pattern(*rbuf, n);
    return (ErlDrvSSizeT)n;
  }
  ErlDrvBinary *bin = driver_alloc_binary(n);
  if (bin == NULL)
    return -1;
  fill_pattern(bin->orig_bytes, n);
  *rbuf = (char *)bin; /* ownership passes to ERTS */
  return (ErlDrvSSizeT)n;
}

static ErlDrvEntry cb_entry = {
    .start = cb_start,
    .driver_name = "control_bin_drv",
    .control = cb_control,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
};

DRIVER_INIT(control_bin_drv) { return &cb_entry; }
