/* bin_leak_drv: an echo with a driver-wide "last message" register.
 *
 * Every command is echoed and also kept as the driver-wide last message
 * (a driver binary, replaced and freed on each command). control 1 on any
 * port replies with the last message any port received.
 *
 * DEFECT (bin.leak): finish does not release the last message, so the
 * binary outlives the driver: unloading leaks it for the life of the node.
 */
#include <erl_driver.h>

#include <string.h>

static ErlDrvBinary *last_msg;

static int lm_init(void) {
  last_msg = NULL;
  return 0;
}

static void lm_finish(void) {
  /* the defect: missing driver_free_binary(last_msg) */
}

static ErlDrvData lm_start(ErlDrvPort port, char *command) {
  (void)command;
  return (ErlDrvData)port;
}

static void lm_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  ErlDrvPort port = (ErlDrvPort)d;
  ErlDrvBinary *b = driver_alloc_binary(len);
  if (!b) {
    driver_failure_atom(port, "enomem");
    return;
  }
  memcpy(b->orig_bytes, buf, len);
  if (last_msg)
    driver_free_binary(last_msg);
  last_msg = b;
  driver_output(port, buf, len);
}

static ErlDrvSSizeT lm_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  (void)d;
  (void)buf;
  (void)len;
  if (cmd != 1)
    return -1;
  ErlDrvSizeT n = last_msg ? (ErlDrvSizeT)last_msg->orig_size : 0;
  if (n > rlen) {
    char *big = driver_alloc(n);
    if (!big)
      return -1;
    *rbuf = big;
  }
  if (n)
    memcpy(*rbuf, last_msg->orig_bytes, n);
  return (ErlDrvSSizeT)n;
}

static ErlDrvEntry lm_entry = {
    .init = lm_init,
    .start = lm_start,
    .output = lm_output,
    .finish = lm_finish,
    .control = lm_control,
    .driver_name = "bin_leak_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(bin_leak_drv) { return &lm_entry; }
