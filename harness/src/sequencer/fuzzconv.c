/* Fuzz input bytes as operations: the one loop the fuzz targets run, and
 * the converter that turns a fuzz input (a libFuzzer artifact) into a
 * scenario file.
 *
 * Decoding is the generator's (gen.c, fed by dc__source_fuzz), so every
 * decoded operation is legal in the current state. On top of it, the
 * payload bytes of command and control operations are taken verbatim from
 * the input: the generator fills payloads from a PRNG seeded by 4 input
 * bytes, which a coverage-guided fuzzer cannot steer byte by byte, and a
 * driver bug behind a 4-byte magic would then take ~2^32 tries. With the
 * raw bytes, libFuzzer's comparison feedback finds such fields quickly.
 * Every payload byte comes from the input: a payload the generator drew
 * longer than what remains of the input is cut to the remaining bytes
 * (padding it with filler would only cost time: bytes the fuzzer cannot
 * steer, copied and scanned on every execution).
 *
 * The converter replays the bytes through exactly this loop in a forked
 * child (a crash input crashes the driver again; the parent survives and
 * keeps every operation up to and including the fatal one). Each operation
 * travels as its scenario line through a pipe before it runs, so the
 * scenario is what the fuzzer executed, in order. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../loader/internal.h"
#include "internal.h"

#define LINE_CAP ((size_t)3 * sizeof(((dc__source *)0)->buf) + 4096)
#define IDLE_LIMIT_MS 30000 /* no new line for this long: the child hangs */

void dc__fuzz_source(dc__source *src, const void *bytes, size_t len) {
  dc__source_fuzz(src, bytes, len, DC__FUZZ_MAX_OPS);
}

/* Cuts a payload drawn as op->len bytes to its first n: the I/O vector
 * pieces of a command are clipped in order, so they still add up to the
 * length (the last pieces may become empty, as the generator makes too). */
static void cut_payload(dc__op *op, size_t n) {
  size_t rem = n;
  op->len = n;
  for (int i = 0; i < op->nsegs && i < DC__OP_MAX_SEGS; i++) {
    if (op->seg[i] > rem)
      op->seg[i] = rem;
    rem -= op->seg[i];
  }
}

/* The payload of a command or control: the next input bytes verbatim, at
 * most as many as remain. The generator left the payload unfilled
 * (defer_fill), and the input outlives the operation, so op->data points
 * straight into it: nothing is filled or copied. */
static void raw_payload(dc__source *src, dc__op *op) {
  dc__entropy *e = &src->ent;
  size_t left = e->pos < e->len ? e->len - e->pos : 0;
  if (op->len > left)
    cut_payload(op, left);
  op->data = op->len ? e->bytes + e->pos : src->buf;
  e->pos += op->len;
}

int dc__fuzz_next(dc__source *src, dc__runner *r, dc__op *op) {
  src->defer_fill = src->ent.is_bytes;
  int more = dc__source_next(src, r, op);
  src->defer_fill = 0;
  if (more && src->ent.is_bytes &&
      (op->kind == DC__OP_COMMAND || op->kind == DC__OP_CONTROL))
    raw_payload(src, op);
  return more;
}

unsigned dc__fuzz_run(const void *bytes, size_t len, dc__fuzz_op_fn on_op,
                      void *arg) {
  /* The source holds a 64 KiB payload buffer: static, not on the stack
   * (one emulator thread runs this at a time). */
  static dc__source src;
  dc__runner r;
  dc__op op;
  unsigned n = 0;
  dc__fuzz_source(&src, bytes, len);
  dc__runner_init(&r);
  while (dc__fuzz_next(&src, &r, &op)) {
    if (on_op)
      on_op(arg, &op);
    dc__report_set_step(n++);
    dc__runner_exec(&r, &op);
    dc__entry_check_modified();
  }
  /* The source ends with unload, unless a port never drained: unload
   * anyway, as ERTS would at shutdown, so the unload checks run. */
  if (dc__g.loaded) {
    dc__report_set_step(n);
    dc__unload_driver();
  }
  return n;
}

const dc__finding *dc__fuzz_first_error(void) {
  size_t n;
  const dc__finding *f = dc__findings(&n);
  for (size_t i = 0; i < n; i++)
    if (dc__rule_severity(f[i].rule) == DC_SEV_ERROR)
      return &f[i];
  return NULL;
}

int dc__fuzz_format_finding(const dc__finding *f, char *buf, size_t cap) {
  return snprintf(buf, cap, "drvcheck: %s: %s [%s] at %s", dc__rule_id(f->rule),
                  f->message, f->callback[0] ? f->callback : "-",
                  f->location[0] ? f->location : "?");
}

/* ------------------------------------------------------------------------ */
/* Converter                                                                 */

typedef struct line_sink {
  int fd;
  char *line;
} line_sink;

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Before the operation runs: its line goes out unbuffered, so it survives
 * a crash inside the operation. */
static void send_line(void *arg, const dc__op *op) {
  line_sink *s = arg;
  if (dc__op_format(op, s->line, LINE_CAP - 1) != 0)
    snprintf(s->line, LINE_CAP - 1, "# (operation without a text form)");
  size_t n = strlen(s->line);
  s->line[n++] = '\n';
  write_all(s->fd, s->line, n);
}

/* A sanitizer runtime (ASan/UBSan/TSan builds of drvcheck) installs its
 * own handlers for the fatal signals: a driver crash would end the child
 * with the runtime's report and exit code 1, which the parent cannot tell
 * from a driver calling exit(1). The default disposition makes the crash
 * end the child by its signal, as in a plain build (describe_end). */
static void default_fatal_signals(void) {
  static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    signal(sigs[i], SIG_DFL);
}

static void child(int fd, const void *bytes, size_t len, const char *path) {
  char err[256] = "";
  line_sink s = {fd, malloc(LINE_CAP)};
  default_fatal_signals();
  dc__emu_reset(1);
  dc__findings_reset();
  if (!s.line)
    _exit(3);
  int rc = dc__load_driver(path, err, sizeof err);
  if (rc != 0) {
    /* A line the parent recognises; the scenario parser never sees it. */
    snprintf(s.line, LINE_CAP, "!load %d %s\n", rc, err);
    write_all(fd, s.line, strlen(s.line));
    _exit(2);
  }
  dc__fuzz_run(bytes, len, send_line, &s);
  _exit(0); /* no atexit handlers: driver threads may still run */
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Reads everything the child writes into *text (malloc'ed). Returns 0 at
 * EOF, 1 when the child went silent for IDLE_LIMIT_MS (it was killed),
 * DC_ENOMEM. */
static int collect(int fd, pid_t pid, char **text, size_t *len) {
  size_t cap = 1 << 16;
  double last = now_ms();
  *len = 0;
  *text = malloc(cap);
  if (!*text)
    return DC_ENOMEM;
  for (;;) {
    if (cap - *len < 4096) {
      char *t = realloc(*text, cap *= 2);
      if (!t)
        return DC_ENOMEM;
      *text = t;
    }
    struct pollfd pf = {fd, POLLIN, 0};
    int pr = poll(&pf, 1, 200);
    if (pr < 0 && errno != EINTR)
      return DC_EIO;
    if (pr <= 0) {
      if (now_ms() - last > IDLE_LIMIT_MS) {
        kill(pid, SIGKILL);
        return 1;
      }
      continue;
    }
    ssize_t n = read(fd, *text + *len, cap - *len - 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return 0;
    *len += (size_t)n;
    last = now_ms();
  }
}

/* How the child's run ended, as a note in errbuf. */
static void describe_end(int status, int hung, size_t nops, char *errbuf,
                         size_t cap) {
  if (hung)
    snprintf(errbuf, cap, "the driver hung in its last operation (%zu; killed)",
             nops);
  else if (WIFSIGNALED(status))
    snprintf(errbuf, cap,
             "the driver crashed in its last operation (%zu): "
             "signal %d (%s)",
             nops, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    snprintf(errbuf, cap, "the run exited with status %d after %zu operations",
             WEXITSTATUS(status), nops);
  else
    snprintf(errbuf, cap, "completed: %zu operations", nops);
}

/* The child's text minus a partial last line (a crash mid-write). */
static size_t whole_lines(const char *text, size_t len) {
  while (len > 0 && text[len - 1] != '\n')
    len--;
  return len;
}

int dc__fuzz_to_scenario(const void *bytes, size_t len, const char *driver_path,
                         dc__scenario *out, char *errbuf, size_t cap) {
  int fds[2], status = 0;
  char *text = NULL;
  size_t tlen = 0;
  if (errbuf && cap)
    errbuf[0] = '\0';
  /* The child resets the emulator, which joins the async pool's threads;
   * threads do not survive fork, so none may run here (an emulator that
   * ran before in this process is stopped first). */
  if (dc__g.loaded) {
    if (errbuf && cap)
      snprintf(errbuf, cap, "a driver is loaded in this process");
    return DC_ESTATE;
  }
  dc__async_stop();
  if (pipe(fds) != 0)
    return DC_EIO;
  fflush(stdout); /* or the child would flush our buffered output again */
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return DC_EIO;
  }
  if (pid == 0) {
    close(fds[0]);
    child(fds[1], bytes, len, driver_path);
  }
  close(fds[1]);
  int rc = collect(fds[0], pid, &text, &tlen);
  close(fds[0]);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (rc != 0 && rc != 1) {
    free(text);
    return rc;
  }
  if (tlen > 6 && memcmp(text, "!load ", 6) == 0) {
    char *p = text + 6, *nl = memchr(p, '\n', tlen - 6);
    long lrc = strtol(p, &p, 10);
    if (errbuf && cap)
      snprintf(errbuf, cap, "%.*s", nl ? (int)(nl - p - 1) : 0, p + 1);
    free(text);
    return lrc ? (int)lrc : DC_ELOAD;
  }
  tlen = whole_lines(text, tlen);
  size_t nops = 0;
  for (size_t i = 0; i < tlen; i++)
    nops += text[i] == '\n';
  char perr[256] = "";
  dc__scenario s;
  dc__scenario_init(&s);
  int prc = dc__scenario_parse(&s, text, tlen, "fuzz-input", perr, sizeof perr);
  free(text);
  if (prc != 0) {
    /* Cannot happen unless dc__op_format and the parser disagree. */
    if (errbuf && cap)
      snprintf(errbuf, cap, "%s", perr);
    dc__scenario_free(&s);
    return prc;
  }
  for (size_t i = 0; i < s.n; i++)
    if (dc__scenario_add(out, &s.ops[i]) != 0) {
      dc__scenario_free(&s);
      return DC_ENOMEM;
    }
  dc__scenario_free(&s);
  if (errbuf && cap)
    describe_end(status, rc == 1, nops, errbuf, cap);
  return 0;
}
