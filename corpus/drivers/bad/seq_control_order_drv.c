/* seq_control_order_drv: a configure-then-use control protocol.
 *
 * control operations:
 *   1 configure  Data = a prefix (up to 32 bytes): allocates the port's
 *                configuration and stores the prefix; again = replace it
 *   2 greet      Data = a name: replies prefix ++ name (from the default
 *                buffer, or a driver_alloc'ed one when longer than rlen)
 *                and counts the greetings
 * Anything else is badarg. Commands are echoed back unchanged.
 *
 * The one defect: greet assumes configure came first. Every client library
 * of the driver sends 1 then 2, but nothing in the port protocol forces that
 * order: port_control(P, 2, Name) on a fresh port is legal, and greet then
 * writes the greeting count through the NULL configuration pointer.
 */
#include <erl_driver.h>
#include <string.h>

#define OP_CONFIGURE 1
#define OP_GREET 2
#define PREFIX_MAX 32

typedef struct {
  char prefix[PREFIX_MAX];
  ErlDrvSizeT prefix_len;
  unsigned long greetings;
} co_config;

typedef struct {
  ErlDrvPort port;
  co_config *cfg; /* NULL until configure */
} co_state;

static ErlDrvData co_start(ErlDrvPort port, char *command) {
  (void)command;
  co_state *st = driver_alloc(sizeof *st);
  if (st == NULL)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->cfg = NULL;
  return (ErlDrvData)st;
}

static void co_stop(ErlDrvData drv_data) {
  co_state *st = (co_state *)drv_data;
  if (st->cfg)
    driver_free(st->cfg);
  driver_free(st);
}

static void co_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  co_state *st = (co_state *)drv_data;
  driver_output(st->port, buf, len);
}

static ErlDrvSSizeT configure(co_state *st, const char *buf, ErlDrvSizeT len) {
  if (len > PREFIX_MAX)
    return -1;
  if (st->cfg == NULL && (st->cfg = driver_alloc(sizeof *st->cfg)) == NULL)
    return -1;
  memcpy(st->cfg->prefix, buf, len);
  st->cfg->prefix_len = len;
  st->cfg->greetings = 0;
  return 0;
}

static ErlDrvSSizeT greet(co_state *st, const char *buf, ErlDrvSizeT len,
                          char **rbuf, ErlDrvSizeT rlen) {
  co_config *cfg = st->cfg;
  cfg->greetings++; /* DEFECT: NULL deref when 2 comes before 1 */
  ErlDrvSizeT n = cfg->prefix_len + len;
  char *out = *rbuf;
  if (n > rlen && (out = driver_alloc(n ? n : 1)) == NULL)
    return -1;
  memcpy(out, cfg->prefix, cfg->prefix_len);
  if (len)
    memcpy(out + cfg->prefix_len, buf, len);
  *rbuf = out;
  return (ErlDrvSSizeT)n;
}

static ErlDrvSSizeT co_control(ErlDrvData drv_data, unsigned int command,
                               char *buf, ErlDrvSizeT len, char **rbuf,
                               ErlDrvSizeT rlen) {
  co_state *st = (co_state *)drv_data;
  switch (command) {
  case OP_CONFIGURE:
    return configure(st, buf, len);
  case OP_GREET:
    return greet(st, buf, len, rbuf, rlen);
  default:
    return -1;
  }
}

static ErlDrvEntry co_entry = {
    .start = co_start,
    .stop = co_stop,
    .output = co_output,
    .driver_name = "seq_control_order_drv",
    .control = co_control,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(seq_control_order_drv) { return &co_entry; }
