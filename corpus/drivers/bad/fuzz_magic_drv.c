/* fuzz_magic_drv: a record-protocol driver with a bug that only a fuzzer
 * reaching specific bytes finds (issue 5's "done when" fixture).
 *
 * Each port_command carries one record:
 *   "DCFZ" (4-byte magic) | length (4 bytes, big-endian) | body (length bytes)
 * A record is echoed back as {Port, {data, Body}}; anything else gets
 * {Port, {data, "badmagic"}} or {Port, {data, "short"}}.
 *
 * The defect: bodies of up to 64 bytes are staged in a fixed buffer in the
 * port state; longer ones were meant to go to a "large record" buffer that
 * is only allocated by control operation 1 (reserve). The parser checks the
 * length against the data it received, but not against what was reserved,
 * so a well-formed record longer than 64 bytes on a port that never called
 * reserve is copied to a NULL pointer: a deterministic crash in output,
 * reached only when the magic matches and the length field is > 64.
 *
 * Erlang usage (the correct sequence):
 *   P = open_port({spawn_driver, "fuzz_magic_drv"}, [binary]),
 *   port_control(P, 1, <<Max:32>>),                 % reserve
 *   port_command(P, <<"DCFZ", 3:32, "abc">>).      % => {P, {data, <<"abc">>}}
 */
#include <erl_driver.h>
#include <stdint.h>
#include <string.h>

#define SMALL_MAX 64
#define OP_RESERVE 1

typedef struct {
  ErlDrvPort port;
  char small[SMALL_MAX];
  char *large; /* allocated by OP_RESERVE, NULL until then */
  uint32_t reserved;
} fz_state;

static ErlDrvData fz_start(ErlDrvPort port, char *command) {
  (void)command;
  fz_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  memset(st, 0, sizeof *st);
  st->port = port;
  return (ErlDrvData)st;
}

static void fz_stop(ErlDrvData d) {
  fz_state *st = (fz_state *)d;
  if (st->large)
    driver_free(st->large);
  driver_free(st);
}

static uint32_t get32(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 |
         u[3];
}

/* Where a body of len bytes is staged. BUG: a large body goes to st->large
 * whether or not OP_RESERVE ever allocated it (or made it big enough). */
static char *staging(fz_state *st, uint32_t len) {
  return len <= SMALL_MAX ? st->small : st->large;
}

static void fz_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  fz_state *st = (fz_state *)d;
  if (len < 8 || memcmp(buf, "DCFZ", 4) != 0) {
    driver_output(st->port, "badmagic", 8);
    return;
  }
  /* Records are small: the protocol keeps sizes in 32 bits. */
  uint32_t body = get32(buf + 4), avail = (uint32_t)(len - 8);
  if (body > avail) {
    driver_output(st->port, "short", 5);
    return;
  }
  char *dst = staging(st, body);
  memcpy(dst, buf + 8, body);
  driver_output(st->port, dst, body);
}

/* OP_RESERVE <<Max:32>>: room for bodies up to Max bytes (at most 1 MiB). */
static ErlDrvSSizeT fz_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  fz_state *st = (fz_state *)d;
  (void)rbuf;
  (void)rlen;
  if (cmd != OP_RESERVE || len != 4)
    return -1;
  uint32_t max = get32(buf);
  if (max > (1u << 20))
    return -1;
  char *p = driver_realloc(st->large, max ? max : 1);
  if (!p)
    return -1;
  st->large = p;
  st->reserved = max;
  return 0;
}

static ErlDrvEntry fz_entry = {
    .start = fz_start,
    .stop = fz_stop,
    .output = fz_output,
    .driver_name = "fuzz_magic_drv",
    .control = fz_control,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(fuzz_magic_drv) { return &fz_entry; }
