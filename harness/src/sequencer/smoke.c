/* The smoke scenario: one deterministic pass over every callback the driver
 * defines (open in list and binary mode, commands of several shapes,
 * controls, calls, events, timers, async, close with flush, unload). */
#include <ei.h>
#include <string.h>

#include "internal.h"

static int add(dc__scenario *s, dc__op op) { return dc__scenario_add(s, &op); }

static dc__op make(dc__op_kind k, int slot) {
  dc__op op = dc__op_make(k);
  op.slot = slot;
  return op;
}

static int add_data(dc__scenario *s, dc__op op, const void *data, size_t len) {
  op.data = data;
  op.len = len;
  return dc__scenario_add(s, &op);
}

/* Commands: empty, a short text, a payload split over several segments
 * (odd splits exercise outputv), and a few random bytes. */
static int add_commands(dc__scenario *s, int slot, uint64_t *rng) {
  static const char text[] = "hello drvcheck";
  unsigned char rnd[37];
  int rc = 0;
  for (size_t i = 0; i < sizeof rnd; i++)
    rnd[i] = (unsigned char)dc__rand(rng);
  dc__op op = make(DC__OP_COMMAND, slot);
  rc |= add_data(s, op, text, sizeof text - 1);
  rc |= add_data(s, op, NULL, 0);
  op.nsegs = 3;
  op.seg[0] = 1;
  op.seg[1] = 5;
  op.seg[2] = 31;
  rc |= add_data(s, op, rnd, sizeof rnd);
  return rc;
}

static int add_controls(dc__scenario *s, int slot, uint64_t *rng) {
  unsigned char payload[8];
  int rc = 0;
  for (unsigned cmd = 0; cmd < 4; cmd++) {
    for (size_t i = 0; i < sizeof payload; i++)
      payload[i] = (unsigned char)('a' + dc__rand(rng) % 26);
    dc__op op = make(DC__OP_CONTROL, slot);
    op.cmd = cmd;
    rc |= add_data(s, op, payload, cmd % 2 ? sizeof payload : 0);
  }
  return rc;
}

/* port_call arguments: an atom, an integer and a tuple, as term_to_binary
 * would encode them. */
static int add_calls(dc__scenario *s, int slot, uint64_t *rng) {
  int rc = 0;
  for (unsigned cmd = 0; cmd < 3; cmd++) {
    ei_x_buff x;
    if (ei_x_new_with_version(&x) != 0)
      return DC_ENOMEM;
    if (cmd == 0)
      ei_x_encode_atom(&x, "drvcheck");
    else if (cmd == 1)
      ei_x_encode_long(&x, (long)(dc__rand(rng) % 1000));
    else {
      ei_x_encode_tuple_header(&x, 2);
      ei_x_encode_atom(&x, "ok");
      ei_x_encode_binary(&x, "abc", 3);
    }
    dc__op op = make(DC__OP_CALL, slot);
    op.cmd = cmd;
    rc |= add_data(s, op, x.buff, (size_t)x.index);
    ei_x_free(&x);
  }
  return rc;
}

static int add_port_work(dc__scenario *s, const ErlDrvEntry *e, int slot,
                         uint64_t *rng) {
  int rc = 0;
  if (e->output || e->outputv)
    rc |= add_commands(s, slot, rng);
  if (e->control)
    rc |= add_controls(s, slot, rng);
  if (e->call)
    rc |= add_calls(s, slot, rng);
  return rc;
}

int dc__smoke_build(dc__scenario *s, const ErlDrvEntry *e, uint64_t seed) {
  uint64_t rng = seed;
  int rc = 0;
  dc__op open = make(DC__OP_OPEN, 0);
  rc |= add(s, open);
  open.slot = 1;
  open.opts = DC__OPT_BINARY;
  rc |= add(s, open);
  for (int slot = 0; slot < 2; slot++)
    rc |= add_port_work(s, e, slot, &rng);
  dc__op adv = make(DC__OP_ADVANCE, 0);
  adv.ms = 1000;
  rc |= add(s, make(DC__OP_POLL, 0));
  rc |= add(s, adv);
  rc |= add(s, make(DC__OP_SETTLE, 0));
  for (int slot = 0; slot < 2; slot++) {
    rc |= add(s, make(DC__OP_CLOSE, slot));
    rc |= add(s, make(DC__OP_SETTLE, 0));
  }
  rc |= add(s, make(DC__OP_UNLOAD, 0));
  return rc ? DC_ENOMEM : 0;
}
