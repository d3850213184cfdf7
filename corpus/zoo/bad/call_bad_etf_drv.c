/* call_bad_etf_drv: a key-value store over erlang:port_call/3.
 *
 * port_call(Port, 1, {Key, Value}) stores an integer under an atom key,
 * port_call(Port, 2, Key) looks it up; both reply {ok, Value} or error.
 * Arguments are decoded with ei, replies encoded with ei_x and copied into
 * *rbuf (or a driver_alloc'ed replacement when longer than rlen).
 *
 * DEFECT (call.bad_etf): replies are built with ei_x_new instead of
 * ei_x_new_with_version, so they lack the external-format version byte
 * (131). The emulator decodes the reply with binary_to_term rules and the
 * caller gets badarg.
 */
#include <ei.h>
#include <erl_driver.h>

#include <string.h>

#define KV_MAX 16

typedef struct {
  char key[MAXATOMLEN_UTF8];
  long value;
} kv_pair;

typedef struct {
  kv_pair kv[KV_MAX];
  int n;
} kv_state;

static ErlDrvData kv_start(ErlDrvPort port, char *command) {
  (void)port;
  (void)command;
  kv_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->n = 0;
  return (ErlDrvData)st;
}

static void kv_stop(ErlDrvData d) { driver_free(d); }

static kv_pair *find(kv_state *st, const char *key) {
  for (int i = 0; i < st->n; i++)
    if (strcmp(st->kv[i].key, key) == 0)
      return &st->kv[i];
  return NULL;
}

/* Decodes the argument; returns the pair to reply with, or NULL. */
static kv_pair *handle(kv_state *st, unsigned cmd, const char *buf) {
  int idx = 0, ver, arity;
  char key[MAXATOMLEN_UTF8];
  long value;
  if (ei_decode_version(buf, &idx, &ver) < 0)
    return NULL;
  if (cmd == 1) {
    if (ei_decode_tuple_header(buf, &idx, &arity) < 0 || arity != 2 ||
        ei_decode_atom(buf, &idx, key) < 0 ||
        ei_decode_long(buf, &idx, &value) < 0)
      return NULL;
    kv_pair *p = find(st, key);
    if (!p && st->n < KV_MAX) {
      p = &st->kv[st->n++];
      strcpy(p->key, key);
    }
    if (p)
      p->value = value;
    return p;
  }
  if (cmd == 2 && ei_decode_atom(buf, &idx, key) == 0)
    return find(st, key);
  return NULL;
}

static ErlDrvSSizeT kv_call(ErlDrvData d, unsigned int cmd, char *buf,
                            ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen,
                            unsigned int *flags) {
  kv_state *st = (kv_state *)d;
  ei_x_buff x;
  (void)len;
  (void)flags;
  kv_pair *p = handle(st, cmd, buf);
  if (ei_x_new(&x) != 0) /* the defect: no version byte */
    return -1;
  if (p) {
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "ok");
    ei_x_encode_long(&x, p->value);
  } else {
    ei_x_encode_atom(&x, "error");
  }
  ErlDrvSizeT n = (ErlDrvSizeT)x.index;
  if (n > rlen) {
    char *big = driver_alloc(n);
    if (!big) {
      ei_x_free(&x);
      return -1;
    }
    *rbuf = big;
  }
  memcpy(*rbuf, x.buff, n);
  ei_x_free(&x);
  return (ErlDrvSSizeT)n;
}

static ErlDrvEntry kv_entry = {
    .start = kv_start,
    .stop = kv_stop,
    .call = kv_call,
    .driver_name = "call_bad_etf_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(call_bad_etf_drv) { return &kv_entry; }
