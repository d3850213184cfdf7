/* Scenario text (harness/src/sequencer/scenario.c, docs/scenario.md):
 * format/parse round trips, exact parse-error messages, file load/write. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sequencer/internal.h"
#include "support.h"

/* Field-by-field equality, payload compared by content. */
static int op_equal(const dc__op *a, const dc__op *b) {
  if (a->kind != b->kind || a->slot != b->slot || a->proc != b->proc ||
      a->cmd != b->cmd || a->opts != b->opts || a->force != b->force ||
      a->bang != b->bang || a->rlen != b->rlen || a->k != b->k ||
      a->mode != b->mode || a->ms != b->ms || a->len != b->len ||
      a->nsegs != b->nsegs || strcmp(a->reason, b->reason) != 0)
    return 0;
  if (a->len && memcmp(a->data, b->data, a->len) != 0)
    return 0;
  for (int i = 0; i < a->nsegs; i++)
    if (a->seg[i] != b->seg[i])
      return 0;
  return 1;
}

/* Formats op, parses the line back, and requires the identical op. */
static void round_trip(const dc__op *op) {
  size_t cap = 512 + 2 * op->len + 256;
  char *line = malloc(cap), err[256];
  dc__scenario s;
  DC_ASSERT(line);
  DC_ASSERT_EQ(dc__op_format(op, line, cap), 0);
  dc__scenario_init(&s);
  int rc = dc__scenario_parse(&s, line, strlen(line), "rt", err, sizeof err);
  if (rc != 0)
    DC_FAIL("parse of formatted line failed: %s (line: %.200s)", err, line);
  DC_ASSERT_EQ(s.n, 1);
  if (!op_equal(op, &s.ops[0]))
    DC_FAIL("round trip changed the op: %.300s", line);
  dc__scenario_free(&s);
  free(line);
}

/* Parses text expecting failure with exactly `msg`. */
static void expect_error(const char *text, const char *msg) {
  dc__scenario s;
  char err[256];
  dc__scenario_init(&s);
  DC_ASSERT_EQ(
      dc__scenario_parse(&s, text, strlen(text), "t.scn", err, sizeof err),
      DC_EPARSE);
  DC_ASSERT_STREQ(err, msg);
  DC_ASSERT_EQ(s.n, 0); /* nothing of a failed text is kept */
  dc__scenario_free(&s);
}

static dc__scenario parse_ok(const char *text) {
  dc__scenario s;
  char err[256] = "";
  dc__scenario_init(&s);
  int rc = dc__scenario_parse(&s, text, strlen(text), "t.scn", err, sizeof err);
  if (rc != 0)
    DC_FAIL("unexpected parse error %d: %s", rc, err);
  return s;
}

static const unsigned char bin5[] = {0x00, 0xff, 0x10, 0x83, 0x0a};

DC_TEST(round_trip_every_kind_with_non_default_fields) {
  dc__op ops[DC__OP_COUNT];
  for (int k = 0; k < DC__OP_COUNT; k++)
    ops[k] = dc__op_make((dc__op_kind)k);
  ops[DC__OP_OPEN].slot = 7,
  ops[DC__OP_OPEN].opts = DC__OPT_BINARY | DC__OPT_EOF;
  ops[DC__OP_OPEN].proc = 11;
  dc__op *c = &ops[DC__OP_COMMAND];
  c->slot = 3, c->data = bin5, c->len = 5, c->nsegs = 3, c->force = 1,
  c->proc = 2;
  c->seg[0] = 0, c->seg[1] = 2, c->seg[2] = 3;
  dc__op *ct = &ops[DC__OP_CONTROL];
  ct->slot = 1, ct->cmd = 4294967295u,
  ct->data = (const unsigned char *)"a b#\"\\\n";
  ct->len = 7, ct->rlen = 0, ct->proc = 0;
  dc__op *cl = &ops[DC__OP_CALL];
  cl->slot = 2, cl->cmd = 9, cl->data = bin5, cl->len = 5, cl->proc = 5;
  ops[DC__OP_EVENT].slot = 4, ops[DC__OP_EVENT].k = DC__MAX_SLOT_EVENTS - 1;
  ops[DC__OP_EVENT].mode = ERL_DRV_WRITE;
  ops[DC__OP_ADVANCE].ms = 1000000000000ull;
  ops[DC__OP_ASYNC].k = 3;
  ops[DC__OP_EXIT].proc = 4;
  strcpy(ops[DC__OP_EXIT].reason, "shutdown_2@x");
  ops[DC__OP_SSMODE].mode = DC__SS_DEFERRED;
  ops[DC__OP_CLOSE].slot = 6, ops[DC__OP_CLOSE].bang = 1;
  for (int k = 0; k < DC__OP_COUNT; k++)
    round_trip(&ops[k]);
  /* and every kind at its defaults where the defaults have a text form */
  dc__op d = dc__op_make(DC__OP_EVENT);
  d.k = 0, d.mode = ERL_DRV_READ;
  round_trip(&d);
  d = dc__op_make(DC__OP_EXIT);
  d.proc = 0;
  round_trip(&d);
  for (int k = 0; k < DC__OP_COUNT; k++)
    if (k != DC__OP_EVENT && k != DC__OP_EXIT) {
      d = dc__op_make((dc__op_kind)k);
      round_trip(&d);
    }
}

DC_TEST(formatted_lines_are_readable) {
  char line[512];
  dc__op op = dc__op_make(DC__OP_COMMAND);
  op.data = (const unsigned char *)"hello\n", op.len = 6;
  DC_ASSERT_EQ(dc__op_format(&op, line, sizeof line), 0);
  DC_ASSERT_STREQ(line, "command 0 \"hello\\n\"");
  op.data = bin5, op.len = 5, op.nsegs = 2, op.seg[0] = 1, op.seg[1] = 0;
  DC_ASSERT_EQ(dc__op_format(&op, line, sizeof line), 0);
  DC_ASSERT_STREQ(line, "command 0 00ff10830a split=1,0");
  op = dc__op_make(DC__OP_CONTROL);
  op.cmd = 1;
  DC_ASSERT_EQ(dc__op_format(&op, line, sizeof line), 0);
  DC_ASSERT_STREQ(line, "control 0 1 -");
  op = dc__op_make(DC__OP_OPEN);
  DC_ASSERT_EQ(dc__op_format(&op, line, sizeof line), 0);
  DC_ASSERT_STREQ(line, "open 0 list");
  DC_ASSERT_EQ(dc__op_format(&op, line, 5), DC_EINVAL); /* does not fit */
}

DC_TEST(call_payload_is_hex_with_term_comment) {
  ei_x_buff x;
  char line[512];
  ei_x_new_with_version(&x);
  ei_x_encode_tuple_header(&x, 2);
  ei_x_encode_atom(&x, "ok");
  ei_x_encode_binary(&x, "abc", 3);
  dc__op op = dc__op_make(DC__OP_CALL);
  op.cmd = 1, op.data = (const unsigned char *)x.buff, op.len = (size_t)x.index;
  DC_ASSERT_EQ(dc__op_format(&op, line, sizeof line), 0);
  /* ei writes atoms as SMALL_ATOM_UTF8_EXT (119); ~w prints bytes */
  DC_ASSERT_STREQ(line, "call 0 1 83680277026f6b6d00000003616263"
                        " # {ok,<<97,98,99>>}");
  round_trip(&op); /* the comment is ignored by the parser */
  ei_x_free(&x);
}

static uint64_t rng = 42;
static uint64_t below(uint64_t n) { return dc__rand(&rng) % n; }

/* Random bytes, or printable text (then written in the quoted form). */
static size_t random_payload(unsigned char *buf) {
  size_t len = below(8) == 0 ? below(70000) : below(40);
  int text = below(2);
  for (size_t i = 0; i < len; i++)
    buf[i] =
        text ? (unsigned char)(0x20 + below(95)) : (unsigned char)below(256);
  if (text && len && below(2))
    buf[below(len)] = "\n\t\r"[below(3)];
  return len;
}

static dc__op random_op(unsigned char *buf) {
  dc__op op = dc__op_make((dc__op_kind)below(DC__OP_COUNT));
  int proc = below(2) ? -1 : (int)below(DC__MAX_SPROCS);
  switch (op.kind) {
  case DC__OP_OPEN:
    op.slot = (int)below(8), op.opts = (int)below(4), op.proc = proc;
    break;
  case DC__OP_COMMAND:
    op.slot = (int)below(8), op.data = buf, op.len = random_payload(buf);
    op.force = (int)below(2), op.proc = proc;
    op.nsegs = (int)below(DC__OP_MAX_SEGS + 1);
    for (int i = 0, left = (int)op.len; i < op.nsegs; i++) {
      op.seg[i] = below((uint64_t)left + 1);
      left -= (int)op.seg[i];
    }
    break;
  case DC__OP_CONTROL:
  case DC__OP_CALL:
    op.slot = (int)below(8), op.cmd = (unsigned)below(1ull << 32);
    op.data = buf, op.len = random_payload(buf), op.proc = proc;
    if (op.kind == DC__OP_CONTROL)
      op.rlen = below(2) ? -1 : (int)below((1u << 20) + 1);
    break;
  case DC__OP_EVENT:
    op.slot = (int)below(8), op.k = (int)below(DC__MAX_SLOT_EVENTS);
    op.mode = below(2) ? ERL_DRV_READ : ERL_DRV_WRITE;
    break;
  case DC__OP_ADVANCE:
    op.ms = below(2) ? below(1000) : below(1000000000001ull);
    break;
  case DC__OP_ASYNC:
    op.k = below(2) ? -1 : (int)below(65536);
    break;
  case DC__OP_EXIT:
    op.proc = (int)below(DC__MAX_SPROCS);
    for (size_t i = 0, n = below(DC__REASON_MAX); i < n; i++)
      op.reason[i] = i ? "abcXYZ09_@"[below(10)] : (char)('a' + below(26));
    break;
  case DC__OP_SSMODE:
    op.mode = below(2) ? DC__SS_SYNC : DC__SS_DEFERRED;
    break;
  case DC__OP_CLOSE:
    op.slot = (int)below(8), op.bang = (int)below(2);
    break;
  default:
    break;
  }
  return op;
}

DC_TEST(round_trip_1000_random_ops) {
  static unsigned char buf[70000];
  int seen[DC__OP_COUNT] = {0};
  for (int i = 0; i < 1000; i++) {
    dc__op op = random_op(buf);
    seen[op.kind]++;
    round_trip(&op);
  }
  for (int k = 0; k < DC__OP_COUNT; k++)
    DC_ASSERT(seen[k] > 0);
}

DC_TEST(whole_scenario_round_trips_through_write) {
  static unsigned char buf[70000];
  dc__scenario a, b;
  char *text = NULL, err[256];
  size_t len = 0;
  dc__scenario_init(&a);
  for (int i = 0; i < 200; i++) {
    dc__op op = random_op(buf);
    DC_ASSERT_EQ(dc__scenario_add(&a, &op), 0);
  }
  FILE *f = open_memstream(&text, &len);
  DC_ASSERT_EQ(dc__scenario_write(&a, f, "seed 42\nshrunk: no"), 0);
  fclose(f);
  DC_ASSERT(
      strncmp(text, "# seed 42\n# shrunk: no\ndrvcheck-scenario 1\n", 43) == 0);
  dc__scenario_init(&b);
  DC_ASSERT_EQ(dc__scenario_parse(&b, text, len, "w", err, sizeof err), 0);
  DC_ASSERT_EQ(b.n, a.n);
  for (size_t i = 0; i < a.n; i++)
    DC_ASSERT(op_equal(&a.ops[i], &b.ops[i]));
  free(text);
  dc__scenario_free(&a);
  dc__scenario_free(&b);
}

DC_TEST(quoted_payload_escapes) {
  dc__scenario s = parse_ok("command 0 \"a\\n\\t\\x00\\101\\\"\\\\ #x\" # c\n");
  DC_ASSERT_EQ(s.n, 1);
  DC_ASSERT_EQ(s.ops[0].len, 10);
  DC_ASSERT(memcmp(s.ops[0].data, "a\n\t\0A\"\\ #x", 10) == 0);
  dc__scenario_free(&s);
  s = parse_ok("control 1 2 \"\" rlen=3\ncommand 0 AbCd\n");
  DC_ASSERT_EQ(s.ops[0].len, 0);
  DC_ASSERT_EQ(s.ops[0].rlen, 3);
  DC_ASSERT_EQ(s.ops[1].len, 2);
  DC_ASSERT(s.ops[1].data[0] == 0xab && s.ops[1].data[1] == 0xcd);
  dc__scenario_free(&s);
}

DC_TEST(comments_blank_lines_crlf_and_option_order) {
  dc__scenario s = parse_ok("# a scenario\r\n"
                            "\r\n"
                            "   # indented comment\n"
                            "drvcheck-scenario 1 # header\r\n"
                            "\t\n"
                            "open 0 binary by=p3 eof\r\n"
                            "command 0 - from=p1 force\r\n"
                            "advance 10#no space before the comment\n"
                            "close 0");
  DC_ASSERT_EQ(s.n, 4);
  DC_ASSERT_EQ(s.ops[0].kind, DC__OP_OPEN);
  DC_ASSERT_EQ(s.ops[0].opts, DC__OPT_BINARY | DC__OPT_EOF);
  DC_ASSERT_EQ(s.ops[0].proc, 3);
  DC_ASSERT_EQ(s.ops[1].force, 1);
  DC_ASSERT_EQ(s.ops[1].proc, 1);
  DC_ASSERT_EQ(s.ops[2].ms, 10);
  DC_ASSERT_EQ(s.ops[3].kind, DC__OP_CLOSE);
  dc__scenario_free(&s);
}

DC_TEST(stop_select_and_async_forms) {
  dc__scenario s = parse_ok("stop_select deferred\nstop_select run\n"
                            "stop_select sync\nasync all\nasync 2\n");
  DC_ASSERT_EQ(s.ops[0].kind, DC__OP_SSMODE);
  DC_ASSERT_EQ(s.ops[0].mode, DC__SS_DEFERRED);
  DC_ASSERT_EQ(s.ops[1].kind, DC__OP_SSRUN);
  DC_ASSERT_EQ(s.ops[2].mode, DC__SS_SYNC);
  DC_ASSERT_EQ(s.ops[3].k, -1);
  DC_ASSERT_EQ(s.ops[4].k, 2);
  dc__scenario_free(&s);
}

DC_TEST(parse_errors_name_file_line_and_expectation) {
  expect_error("opne 0 list", "t.scn:1: expected operation name, got 'opne'");
  expect_error("# c\n\nopen 8 list", "t.scn:3: expected slot 0..7, got '8'");
  expect_error("open 1", "t.scn:1: expected list or binary, got ''");
  expect_error("open 0 list by=p12",
               "t.scn:1: expected process p0..p11, got 'by=p12'");
  expect_error("open 0 list force",
               "t.scn:1: expected eof, by=<proc> or end of line, got 'force'");
  expect_error("command 0 abc",
               "t.scn:1: expected payload (hex, - or \"text\"), got 'abc'");
  expect_error("command 0 zz",
               "t.scn:1: expected payload (hex, - or \"text\"), got 'zz'");
  expect_error("command 0 \"a\\q\"",
               "t.scn:1: expected string escape "
               "(\\n \\t \\r \\\\ \\\" \\xHH \\ooo), got '\"a\\q\"'");
  expect_error("command 0 \"abc",
               "t.scn:1: expected string ending in '\"', got '\"abc'");
  expect_error("command 0 aabb split=1,2",
               "t.scn:1: expected segment sizes summing to at most the "
               "payload size, got 'split=1,2'");
  expect_error("command 0 - split=0,0,0,0,0,0,0,0,0",
               "t.scn:1: expected at most 8 segment sizes, got "
               "'split=0,0,0,0,0,0,0,0,0'");
  expect_error("command 0 - split=1,",
               "t.scn:1: expected split=<bytes>[,<bytes>...], got 'split=1,'");
  expect_error("control 0 4294967296 -",
               "t.scn:1: expected command 0..4294967295, got '4294967296'");
  expect_error("control 0 1 - rlen=-1",
               "t.scn:1: expected rlen=0..1048576, got 'rlen=-1'");
  expect_error("event 0 0 up", "t.scn:1: expected in or out, got 'up'");
  expect_error("event 0 64 in",
               "t.scn:1: expected event index 0..63, got '64'");
  expect_error("advance 1e3",
               "t.scn:1: expected milliseconds 0..10^12, got '1e3'");
  expect_error(
      "async some",
      "t.scn:1: expected completion index 0..65535 or all, got 'some'");
  expect_error("exit p1 Normal",
               "t.scn:1: expected reason atom ([a-z][a-zA-Z0-9_@]*, at most "
               "23 chars), got 'Normal'");
  expect_error("stop_select later",
               "t.scn:1: expected sync, deferred or run, got 'later'");
  expect_error("close 0 bang bang",
               "t.scn:1: expected each option at most once, got 'bang'");
  expect_error("poll now", "t.scn:1: expected end of line, got 'now'");
  expect_error("drvcheck-scenario 2",
               "t.scn:1: expected scenario format version 1, got '2'");
  expect_error("poll\r\ndrvcheck-scenario 1\r\n",
               "t.scn:2: expected operation name, got 'drvcheck-scenario'");
}

DC_TEST(payload_limit_is_one_mebibyte) {
  size_t n = 2 * ((1u << 20) + 1);
  char *text = malloc(n + 32);
  dc__scenario s;
  char err[256];
  DC_ASSERT(text);
  memcpy(text, "command 0 ", 10);
  memset(text + 10, 'a', n);
  dc__scenario_init(&s);
  DC_ASSERT_EQ(dc__scenario_parse(&s, text, 10 + n, "big", err, sizeof err),
               DC_EPARSE);
  DC_ASSERT_STREQ(err, "big:1: expected payload of at most 1048576 bytes, got "
                       "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
  /* exactly 1 MiB is accepted */
  DC_ASSERT_EQ(dc__scenario_parse(&s, text, n + 8, "big", err, sizeof err), 0);
  DC_ASSERT_EQ(s.ops[0].len, 1u << 20);
  dc__scenario_free(&s);
  free(text);
}

/* Truncations and byte flips of valid text must parse or fail cleanly (the
 * parser is a fuzz target; run under ASan/Valgrind this checks bounds). */
DC_TEST(garbage_never_crashes) {
  static const char good[] =
      "drvcheck-scenario 1\nopen 0 binary eof by=p1\n"
      "command 0 \"x\\x41\\101\" split=1,1 force from=p2\n"
      "control 0 7 00ff rlen=0\ncall 0 1 836a # []\nevent 0 0 in\n"
      "exit p1 killed\nasync all\nstop_select deferred\nclose 0 bang\n";
  char *buf = malloc(sizeof good);
  char err[128];
  DC_ASSERT(buf);
  for (size_t cut = 0; cut < sizeof good; cut++)
    for (int flip = 0; flip < 40; flip++) {
      dc__scenario s;
      memcpy(buf, good, cut); /* heap copy of exactly cut bytes: no NUL */
      if (flip && cut)
        buf[below(cut)] = (char)below(256);
      dc__scenario_init(&s);
      int rc = dc__scenario_parse(&s, buf, cut, "g", err, sizeof err);
      DC_ASSERT(rc == 0 || rc == DC_EPARSE);
      DC_ASSERT(rc == 0 || strncmp(err, "g:", 2) == 0);
      dc__scenario_free(&s);
    }
  free(buf);
}

DC_TEST(load_missing_file) {
  dc__scenario s;
  char err[256];
  dc__scenario_init(&s);
  DC_ASSERT_EQ(dc__scenario_load(&s, "/nonexistent/x.scn", err, sizeof err),
               DC_ENOENT);
  DC_ASSERT_STREQ(err, "/nonexistent/x.scn: No such file or directory");
}

DC_TEST(corpus_scenarios_parse) {
  glob_t g;
  char err[512];
  DC_ASSERT_EQ(glob(DC_SOURCE_DIR "/corpus/scenarios/*.scn", 0, NULL, &g), 0);
  DC_ASSERT(g.gl_pathc >= 3);
  for (size_t i = 0; i < g.gl_pathc; i++) {
    dc__scenario s;
    dc__scenario_init(&s);
    int rc = dc__scenario_load(&s, g.gl_pathv[i], err, sizeof err);
    if (rc != 0)
      DC_FAIL("%s", err);
    DC_ASSERT(s.n > 0);
    DC_ASSERT_EQ(s.ops[s.n - 1].kind, DC__OP_UNLOAD);
    dc__scenario_free(&s);
  }
  globfree(&g);
}
