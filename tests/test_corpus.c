/* The corpus drivers behave the same in the real emulator and in drvcheck.
 *
 * Each scenario below is run twice: by tests/erl/run.escript in the real
 * `erl` (the ground truth) and here, step by step, through the core's
 * Erlang-side API. Both print what Erlang observes as lines of the form
 * "msg T", "control T", "call T", "command T", "open T", "wait Ms" with T in
 * io:format("~w") syntax, ports shown as `port` and pids as `pid`; the two
 * line lists must be equal. The escript traps exits, so port exit reasons
 * arrive as {'EXIT', Port, Reason} messages on both sides. The step lists here
 * mirror steps/1 in the escript: keep both in sync.
 *
 * The bad drivers are checked against erl_ddll:load_driver's verdict: the
 * ones erl refuses must be refused by dc__load_driver with exactly one
 * entry.* finding; the ones erl loads (const entry, unknown flags) load with
 * exactly one finding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* ------------------------------------------------------------------------ */
/* Scenario table                                                            */

typedef enum {
  S_END,
  S_OPEN,
  S_CMD,
  S_CTL,
  S_CALL,
  S_CLOSE,
  S_BANG,
  S_WAIT
} step_kind;

typedef struct {
  step_kind kind;
  unsigned op;        /* open: DC__OPT_*; ctl/call: operation; wait: ms */
  const char *arg[3]; /* cmd: segments ("#N" = N pattern bytes); ctl: bytes;
                         call: term in ei_x_format syntax ("#N" = N 'a's) */
  size_t len;         /* ctl: byte count (the bytes may contain NUL) */
} step;

#define OPEN(opts)                                                             \
  { S_OPEN, (opts), {NULL}, 0 }
#define CMD(...)                                                               \
  { S_CMD, 0, {__VA_ARGS__}, 0 }
#define CMD0                                                                   \
  { S_CMD, 0, {NULL}, 0 }
#define CTL(op, lit)                                                           \
  { S_CTL, (op), {lit}, sizeof(lit) - 1 }
#define CALL(op, term)                                                         \
  { S_CALL, (op), {term}, 0 }
#define CLOSE                                                                  \
  { S_CLOSE, 0, {NULL}, 0 }
#define BANG_CLOSE                                                             \
  { S_BANG, 0, {NULL}, 0 }
#define WAIT(ms)                                                               \
  { S_WAIT, (ms), {NULL}, 0 }
#define END                                                                    \
  { S_END, 0, {NULL}, 0 }

typedef struct {
  const char *name;   /* scenario name (escript steps/1 clause) */
  const char *driver; /* driver name = file name */
  const char *subdir; /* "" or "/bad" under DC_DRIVER_DIR */
  const step *steps;
} scenario;

static const scenario scenarios[] = {
    {"echo_list", "echo_drv", "",
     (const step[]){OPEN(0), CMD("hi"), CMD("ab", "cd"), CMD0, CTL(1, ""),
                    CTL(2, ""), CLOSE, END}},
    {"echo_binary", "echo_drv", "",
     (const step[]){OPEN(DC__OPT_BINARY), CMD("hi"), CMD("ab", "cd"),
                    CMD("ab", "#300", "cd"), CMD0, CTL(1, ""), CLOSE, END}},
    {"queue", "queue_drv", "",
     (const step[]){OPEN(0), CMD("hello"), CMD("wor", "ld!"), CTL(3, ""),
                    CTL(1, ""), CTL(2, "\3"), CTL(3, ""), CMD("#100"),
                    CTL(1, ""), CTL(2, "\144"), CTL(2, "\11"), CTL(3, ""),
                    BANG_CLOSE, WAIT(500), END}},
    {"timer", "timer_drv", "",
     (const step[]){OPEN(0), CTL(1, "\0\0\1\364"), CTL(3, ""), CTL(2, ""),
                    CTL(3, ""), WAIT(600), CTL(1, "\0\0\0\310"),
                    CTL(1, "\0\0\2\130"), WAIT(400), WAIT(400), CTL(3, ""),
                    CTL(1, "\0\0\0\0"), CTL(4, ""), CLOSE, END}},
    {"pipe", "pipe_drv", "",
     (const step[]){OPEN(DC__OPT_BINARY), CMD("ping"), CMD("ab", "c"), CLOSE,
                    END}},
    {"async", "async_drv", "",
     (const step[]){OPEN(DC__OPT_BINARY), CMD("abc"), CMD("hello"), CMD0, CLOSE,
                    END}},
    {"term", "term_drv", "",
     (const step[]){OPEN(0), CTL(1, ""), CTL(2, ""), CTL(3, ""), CTL(4, ""),
                    CTL(5, ""), CLOSE, END}},
    {"call", "call_drv", "",
     (const step[]){OPEN(0), CALL(1, "21"), CALL(1, "hello"),
                    CALL(1, "{a,\"str\",[1,2],-5}"), CALL(1, "#300"),
                    CALL(2, "x"), CLOSE, END}},
    {"control_bin", "control_bin_drv", "",
     (const step[]){OPEN(0), CTL(1, ""), CTL(2, "\12"), CTL(2, "\144"),
                    CTL(3, ""), CLOSE, END}},
    {"bad_const_entry", "bad_const_entry", "/bad",
     (const step[]){OPEN(0), CMD("hi"), CLOSE, END}},
    {"bad_flags", "bad_flags", "/bad",
     (const step[]){OPEN(0), CMD("hi"), CLOSE, END}},
};

/* ------------------------------------------------------------------------ */
/* Line lists                                                                */

typedef struct {
  char **v;
  size_t n, cap;
} lines;

static void lines_add(lines *l, const char *s) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 32;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    DC_ASSERT(l->v != NULL);
  }
  l->v[l->n] = strdup(s);
  DC_ASSERT(l->v[l->n] != NULL);
  l->n++;
}

/* Runs the escript and collects its stdout lines. Returns its exit status. */
static int erl_lines(const char *subdir, const char *driver, const char *what,
                     lines *out) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "escript %s/tests/erl/run.escript %s%s %s %s",
           DC_SOURCE_DIR, DC_DRIVER_DIR, subdir, driver, what);
  FILE *f = popen(cmd, "r");
  if (!f)
    DC_FAIL("popen %s", cmd);
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) > 0) {
    if (line[len - 1] == '\n')
      line[len - 1] = '\0';
    lines_add(out, line);
  }
  free(line);
  return pclose(f);
}

static void lines_assert_equal(const lines *erl, const lines *dc) {
  size_t n = erl->n > dc->n ? erl->n : dc->n, bad = n;
  for (size_t i = 0; i < n && bad == n; i++)
    if (i >= erl->n || i >= dc->n || strcmp(erl->v[i], dc->v[i]) != 0)
      bad = i;
  if (bad == n)
    return;
  fprintf(stderr, "first difference at line %zu\n", bad + 1);
  for (size_t i = 0; i < n; i++) {
    fprintf(stderr, "%s erl: %s\n", i == bad ? ">>" : "  ",
            i < erl->n ? erl->v[i] : "(none)");
    fprintf(stderr, "%s drv: %s\n", i == bad ? ">>" : "  ",
            i < dc->n ? dc->v[i] : "(none)");
  }
  DC_FAIL("drvcheck and erl disagree");
}

/* ------------------------------------------------------------------------ */
/* The drvcheck side                                                         */

/* Length of a "#Port<0.N>" (what = 'o') or "<0.N.0>" (what = 'p') token at
 * s, or 0. */
static size_t id_token(const char *s, char what) {
  const char *p = s;
  if (what == 'o') {
    if (strncmp(p, "#Port<", 6) != 0)
      return 0;
    p += 6;
  } else if (*p++ != '<') {
    return 0;
  }
  int groups = what == 'o' ? 2 : 3;
  for (int g = 0; g < groups; g++) {
    if (*p < '0' || *p > '9')
      return 0;
    while (*p >= '0' && *p <= '9')
      p++;
    if (*p != (g + 1 < groups ? '.' : '>'))
      return 0;
    p++;
  }
  return (size_t)(p - s);
}

/* Replaces port and pid tokens by the atoms `port` and `pid`, as the
 * escript does before printing (they differ between runs). */
static void normalise(const char *in, char *out, size_t cap) {
  size_t o = 0;
  while (*in && o + 5 < cap) {
    size_t k;
    if ((k = id_token(in, 'o')) > 0) {
      memcpy(out + o, "port", 4), o += 4, in += k;
    } else if ((k = id_token(in, 'p')) > 0) {
      memcpy(out + o, "pid", 3), o += 3, in += k;
    } else {
      out[o++] = *in++;
    }
  }
  out[o] = '\0';
}

static void add_term_line(lines *out, const char *kind, const dc__event *ev) {
  static char raw[65536], norm[65536], line[65600];
  if (dc__etf_print(ev->etf, ev->len, raw, sizeof raw) != 0)
    snprintf(raw, sizeof raw, "(invalid etf, %zu bytes)", ev->len);
  normalise(raw, norm, sizeof norm);
  snprintf(line, sizeof line, "%s %s", kind, norm);
  lines_add(out, line);
}

/* Prints the trace events after the first *seen: replies first (the escript
 * prints a reply when the call returns, then the messages it collects),
 * then the messages self received. */
static void drain_events(lines *out, size_t *seen, ErlDrvTermData self) {
  for (int pass = 0; pass < 2; pass++) {
    size_t i = 0;
    for (const dc__event *ev = dc__trace_first(); ev; ev = ev->next, i++) {
      if (i < *seen)
        continue;
      if (pass == 0 && ev->kind == DC__EV_CONTROL_REPLY)
        add_term_line(out, "control", ev);
      else if (pass == 0 && ev->kind == DC__EV_CALL_REPLY)
        add_term_line(out, "call", ev);
      else if (pass == 0 && ev->kind == DC__EV_COMMAND)
        add_term_line(out, "command", ev);
      else if (pass == 1 && ev->kind == DC__EV_MSG && ev->to == self)
        add_term_line(out, "msg", ev);
    }
  }
  *seen = dc__trace_count();
}

/* What happens "soon" in the real emulator while the escript waits for
 * messages: async completions, pending fd events, timers due now. */
static void settle(void) {
  for (int round = 0; round < 100; round++) {
    dc__async_wait_idle();
    int n = dc__async_deliver(-1);
    n += dc__select_poll(0);
    n += dc__timer_advance(0);
    if (n == 0)
      return;
  }
}

/* "#N" -> N bytes 0,1,..,255,0,..; anything else -> the text itself. */
static size_t segment(const char *spec, char *buf, size_t cap) {
  if (spec[0] != '#') {
    size_t n = strlen(spec);
    memcpy(buf, spec, n);
    return n;
  }
  size_t n = strtoul(spec + 1, NULL, 10);
  DC_ASSERT(n <= cap);
  for (size_t i = 0; i < n; i++)
    buf[i] = (char)(i % 256);
  return n;
}

/* ERTS builds outputv's vector from an iolist by copying heap binaries
 * (<= 64 bytes) and list bytes into one shared buffer, so adjacent small
 * pieces become ONE segment, while larger (refc) binaries are passed by
 * reference as segments of their own ([OTP25 run] with a probe driver:
 * [<<"ab">>,<<"cd">>] -> 1 segment; [<<"ab">>,Big300,<<"cd">>] -> 3). */
#define HEAP_BIN_LIMIT 64

static void do_command(dc__port *p, ErlDrvTermData self, const step *s) {
  static char data[3][1024];
  SysIOVec segs[3];
  int n = 0, small_open = 0;
  for (int i = 0; i < 3 && s->arg[i]; i++) {
    size_t len = segment(s->arg[i], data[i], sizeof data[i]);
    if (len <= HEAP_BIN_LIMIT && small_open) {
      /* Append to the previous small segment (its row has room). */
      SysIOVec *prev = &segs[n - 1];
      memcpy(prev->iov_base + prev->iov_len, data[i], len);
      prev->iov_len += len;
      continue;
    }
    segs[n].iov_base = data[i];
    segs[n].iov_len = len;
    small_open = len <= HEAP_BIN_LIMIT;
    n++;
  }
  dc__port_command(p, self, segs, n, 0);
}

static void do_call(dc__port *p, ErlDrvTermData self, const step *s) {
  ei_x_buff x;
  DC_ASSERT(ei_x_new_with_version(&x) == 0);
  if (s->arg[0][0] == '#') {
    char str[1024];
    size_t n = strtoul(s->arg[0] + 1, NULL, 10);
    DC_ASSERT(n < sizeof str);
    memset(str, 'a', n);
    str[n] = '\0';
    DC_ASSERT(ei_x_encode_string(&x, str) == 0);
  } else {
    DC_ASSERT(ei_x_format_wo_ver(&x, s->arg[0]) == 0);
  }
  dc__port_call(p, self, s->op, x.buff, (size_t)x.index);
  ei_x_free(&x);
}

/* Runs one step; returns the (possibly new) port. */
static dc__port *do_step(dc__port *p, ErlDrvTermData self, const step *s,
                         const char *driver, lines *out) {
  char line[64];
  switch (s->kind) {
  case S_OPEN: {
    dc__open_result r = dc__port_open(driver, (int)s->op, self);
    if (!r.port) {
      snprintf(line, sizeof line, "open %s", r.error ? r.error : "(null)");
      lines_add(out, line);
    }
    return r.port;
  }
  case S_CMD:
    do_command(p, self, s);
    break;
  case S_CTL:
    dc__port_control(p, self, s->op, s->arg[0], s->len);
    break;
  case S_CALL:
    do_call(p, self, s);
    break;
  case S_CLOSE:
    dc__port_exit(p, "normal", 0);
    break;
  case S_BANG:
    dc__port_exit(p, "normal", 1);
    break;
  case S_WAIT:
    snprintf(line, sizeof line, "wait %u", s->op);
    lines_add(out, line);
    settle();
    dc__timer_advance(s->op);
    break;
  case S_END:
    break;
  }
  return p;
}

static void load_path(const char *subdir, const char *driver, char *path,
                      size_t cap) {
  snprintf(path, cap, "%s%s/%s.so", DC_DRIVER_DIR, subdir, driver);
}

static void drvcheck_lines(const scenario *sc, lines *out) {
  char path[512], err[256] = "";
  load_path(sc->subdir, sc->driver, path, sizeof path);
  dc__emu_reset(1);
  dc__findings_reset();
  int rc = dc__load_driver(path, err, sizeof err);
  if (rc != 0)
    DC_FAIL("loading %s: %d %s", path, rc, err);
  ErlDrvTermData self = dc__proc_spawn("escript");
  dc__port *p = NULL;
  size_t seen = 0;
  for (const step *s = sc->steps; s->kind != S_END; s++) {
    p = do_step(p, self, s, sc->driver, out);
    settle();
    drain_events(out, &seen, self);
  }
  /* The example drivers use the API correctly: no finding at all (the bad
   * ones keep exactly their load-time finding). */
  size_t n = 0;
  const dc__finding *f = dc__findings(&n);
  size_t want = sc->subdir[0] ? 1 : 0;
  for (size_t i = 0; n != want && i < n; i++)
    fprintf(stderr, "finding: %s in %s: %s\n", dc__rule_id(f[i].rule),
            f[i].callback, f[i].message);
  DC_ASSERT_EQ(n, want);
}

static void run_scenario(const char *name) {
  const scenario *sc = NULL;
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
    if (strcmp(scenarios[i].name, name) == 0)
      sc = &scenarios[i];
  DC_ASSERT(sc != NULL);
  lines erl = {0}, dc = {0};
  int st = erl_lines(sc->subdir, sc->driver, sc->name, &erl);
  if (st != 0)
    DC_FAIL("escript for %s exited with status %d", name, st);
  DC_ASSERT(erl.n > 0);
  drvcheck_lines(sc, &dc);
  lines_assert_equal(&erl, &dc);
}

DC_TEST(echo_list_same_as_erl) { run_scenario("echo_list"); }
DC_TEST(echo_binary_same_as_erl) { run_scenario("echo_binary"); }
DC_TEST(queue_same_as_erl) { run_scenario("queue"); }
DC_TEST(timer_same_as_erl) { run_scenario("timer"); }
DC_TEST(pipe_same_as_erl) { run_scenario("pipe"); }
DC_TEST(async_same_as_erl) { run_scenario("async"); }
DC_TEST(term_same_as_erl) { run_scenario("term"); }
DC_TEST(call_same_as_erl) { run_scenario("call"); }
DC_TEST(control_bin_same_as_erl) { run_scenario("control_bin"); }
DC_TEST(bad_const_entry_same_as_erl) { run_scenario("bad_const_entry"); }
DC_TEST(bad_flags_same_as_erl) { run_scenario("bad_flags"); }

/* ------------------------------------------------------------------------ */
/* Bad drivers: drvcheck's load verdict against erl_ddll:load_driver's       */

/* Loads bad/<name>.so in both; erl must print `erl_says`, drvcheck must
 * return rc with exactly one finding, of `rule` (rule < 0: no finding). */
static void check_bad_load(const char *name, int rc, int rule,
                           const char *erl_says) {
  lines erl = {0};
  erl_lines("/bad", name, "load", &erl);
  DC_ASSERT_EQ(erl.n, 1);
  DC_ASSERT_STREQ(erl.v[0], erl_says);
  char path[512], err[256] = "";
  load_path("/bad", name, path, sizeof path);
  dc__emu_reset(1);
  dc__findings_reset();
  DC_ASSERT_EQ(dc__load_driver(path, err, sizeof err), rc);
  size_t n = 0;
  dc__findings(&n);
  DC_ASSERT_EQ(n, rule < 0 ? 0 : 1);
  if (rule >= 0)
    DC_ASSERT_EQ(dc__findings_count((dc_rule)rule), 1);
}

/* erl_bif_ddll.c do_load_driver_entry: the verdicts below were observed with
 * OTP 25.2.3 (escript run.escript DIR NAME load). */
DC_TEST(bad_version_refused) {
  check_bad_load("bad_version", DC_ELOAD, DC_RULE_ENTRY_VERSION,
                 "load {error,driver_incorrect_version}");
}
DC_TEST(bad_marker_refused) {
  check_bad_load("bad_marker", DC_ELOAD, DC_RULE_ENTRY_MARKER,
                 "load {error,driver_incorrect_version}");
}
DC_TEST(bad_name_refused) {
  check_bad_load("bad_name", DC_ELOAD, DC_RULE_ENTRY_NAME,
                 "load {error,bad_driver_name}");
}
DC_TEST(null_init_refused) {
  check_bad_load("null_init", DC_ELOAD, DC_RULE_ENTRY_NULL,
                 "load {error,driver_init_failed}");
}
DC_TEST(init_fails_refused) {
  check_bad_load("init_fails", DC_ELOAD, DC_RULE_ENTRY_INIT_FAILED,
                 "load {error,driver_init_failed}");
}
DC_TEST(static_only_refused) {
  check_bad_load("static_only", DC_ELOAD, DC_RULE_ENTRY_NULL,
                 "load {error,no_driver_init}");
}
/* Not a driver at all: a load error, no finding. */
DC_TEST(not_a_driver_is_load_error) {
  check_bad_load("not_a_driver", DC_ENOINIT, -1, "load {error,no_driver_init}");
}
/* The real emulator loads these two: they are findings, not refusals. */
DC_TEST(bad_const_entry_loads_with_finding) {
  check_bad_load("bad_const_entry", 0, DC_RULE_ENTRY_CONST, "load ok");
}
DC_TEST(bad_flags_loads_with_finding) {
  check_bad_load("bad_flags", 0, DC_RULE_ENTRY_FLAGS, "load ok");
}
