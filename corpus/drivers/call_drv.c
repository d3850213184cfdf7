/* call_drv: erlang:port_call/3 with ei.
 *
 * The call callback receives term_to_binary(Arg) and must reply with one term
 * in external format (starting with the version byte 131):
 *   port_call(P, 1, N) when is_integer(N), |N| small -> N * 2
 *   port_call(P, 1, Arg)                              -> {ok, Arg}
 * Any other operation, or an argument that does not decode, raises badarg.
 *
 * The reply is built with ei_x (malloc'ed). It is copied into the default
 * reply buffer when it fits in rlen bytes; otherwise the reply goes into a
 * driver_alloc'ed buffer that replaces *rbuf, which ERTS frees with
 * driver_free after decoding (DRIVER_CALL_KEEP_BUFFER is not set).
 */
#include <ei.h>
#include <erl_driver.h>
#include <string.h>

#define CALL_OP_ECHO 1

static ErlDrvData call_start(ErlDrvPort port, char *command) {
  (void)command;
  return (ErlDrvData)port; /* no state besides the port */
}

/* Encodes the reply for the argument at buf[*index..]. Returns 0 or -1. */
static int encode_reply(const char *buf, int *index, ei_x_buff *x) {
  int type = 0, size = 0;
  if (ei_get_type(buf, index, &type, &size) < 0)
    return -1;
  if (type == ERL_SMALL_INTEGER_EXT || type == ERL_INTEGER_EXT) {
    long n = 0;
    if (ei_decode_long(buf, index, &n) < 0)
      return -1;
    return ei_x_encode_long(x, n * 2);
  }
  /* Anything else is echoed inside {ok, Arg} without decoding it: find its
   * extent with ei_skip_term and append its encoded bytes as they are. */
  int start = *index;
  if (ei_skip_term(buf, index) < 0)
    return -1;
  if (ei_x_encode_tuple_header(x, 2) < 0 || ei_x_encode_atom(x, "ok") < 0)
    return -1;
  return ei_x_append_buf(x, buf + start, *index - start);
}

static ErlDrvSSizeT call_call(ErlDrvData drv_data, unsigned int command,
                              char *buf, ErlDrvSizeT len, char **rbuf,
                              ErlDrvSizeT rlen, unsigned int *flags) {
  (void)drv_data;
  (void)flags; /* 0: ERTS frees a replacement *rbuf */
  int index = 0, version = 0;
  if (command != CALL_OP_ECHO || ei_decode_version(buf, &index, &version) < 0)
    return -1;
  ei_x_buff x;
  if (ei_x_new_with_version(&x) < 0)
    return -1;
  ErlDrvSSizeT ret = -1;
  if (encode_reply(buf, &index, &x) == 0 && (ErlDrvSizeT)index == len) {
    char *out = *rbuf;
    if ((ErlDrvSizeT)x.index > rlen)
      out = driver_alloc((ErlDrvSizeT)x.index);
    if (out != NULL) {
      memcpy(out, x.buff, (size_t)x.index);
      *rbuf = out;
      ret = x.index;
    }
  }
  ei_x_free(&x);
  return ret;
}

static ErlDrvEntry call_entry = {
    .start = call_start,
    .driver_name = "call_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
    .call = call_call,
};

DRIVER_INIT(call_drv) { return &call_entry; }
