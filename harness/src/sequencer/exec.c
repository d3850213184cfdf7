/* Isolated execution of one run unit (honggfuzz style: the configuration
 * lives in dc__exec, the per-run state in a shared memory region).
 *
 * The parent forks a child per unit. Before each operation runs, the child
 * appends it (with its payload) to an operation log in a MAP_SHARED region;
 * findings go straight into a table in the same region; callback entry and
 * exit bump a heartbeat (dc__cb_watch). So whatever the driver does --
 * segfault, abort, loop forever -- the parent still has the scenario up to
 * the fatal operation, every finding so far, and the callback that was
 * running. The parent never loads the driver itself. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "../loader/internal.h"
#include "internal.h"

#define SHARED_FINDINGS 256
#define OPLOG_BYTES ((size_t)32 << 20) /* touched lazily (MAP_NORESERVE) */
#define TRACE_BYTES ((size_t)4 << 20)
#define DEFAULT_HANG_MS 2000
#define PROBE_GRACE_MS 300 /* time the hung child gets to name its PC */
#define IN_PROGRESS 1      /* load_rc while init() runs */

/* Per-run state shared by parent and child. Only the child writes, except
 * the parent's reset before each fork. */
typedef struct shm_hdr {
  volatile int done; /* the child finished the unit normally */
  volatile int load_rc;
  char load_err[256];
  int have_entry;
  ErlDrvEntry entry;
  char driver_name[64];
  dc__watch watch;
  volatile unsigned step; /* operation in progress */
  volatile unsigned nops; /* operations logged */
  unsigned long callbacks[DC__CB_COUNT];
  unsigned stimuli;
  unsigned supp_hits[DC__MAX_SUPPRESS]; /* per suppression, in this unit */
  volatile int illegal;
  volatile unsigned illegal_step;
  volatile pid_t emu_tid; /* the child's emulator thread, for the probe */
  /* written once by the fatal-signal handler */
  volatile int crash_sig;
  int crash_cb, crash_port;
  char crash_stim[48];
  char crash_loc[160];
  volatile size_t oplog_len;
  volatile size_t trace_len;
  volatile unsigned batch_ran; /* sequences of a batch started */
  uint64_t batch_seed;         /* the last one's */
} shm_hdr;

struct dc__exec {
  dc__exec_config cfg;
  unsigned char *mem;
  size_t size;
  shm_hdr *hdr;
  void *findings;
  size_t findings_bytes;
  unsigned char *oplog;
  char *trace;
  char san_prefix[256]; /* child sanitizer reports: <prefix>.<pid> */
};

/* Child-side globals for the signal handler (one unit per process). */
static shm_hdr *volatile crash_hdr;
static void *drv_base; /* load address of the driver object */
static volatile sig_atomic_t crash_taken;

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

int dc__exec_open(dc__exec **out, const dc__exec_config *cfg) {
  dc__exec *ex = calloc(1, sizeof *ex);
  if (!ex)
    return DC_ENOMEM;
  ex->cfg = *cfg;
  if (!ex->cfg.hang_ms)
    ex->cfg.hang_ms = DEFAULT_HANG_MS;
  ex->findings_bytes = align8(dc__findings_share_size(SHARED_FINDINGS));
  ex->size =
      align8(sizeof(shm_hdr)) + ex->findings_bytes + OPLOG_BYTES + TRACE_BYTES;
  ex->mem = mmap(NULL, ex->size, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (ex->mem == MAP_FAILED) {
    free(ex);
    return DC_ENOMEM;
  }
  ex->hdr = (shm_hdr *)ex->mem;
  ex->findings = ex->mem + align8(sizeof(shm_hdr));
  ex->oplog = (unsigned char *)ex->findings + ex->findings_bytes;
  ex->trace = (char *)ex->oplog + OPLOG_BYTES;
  dc__san_log_prefix(ex->san_prefix, sizeof ex->san_prefix);
  *out = ex;
  return 0;
}

void dc__exec_close(dc__exec *ex) {
  if (!ex)
    return;
  munmap(ex->mem, ex->size);
  free(ex);
}

/* ------------------------------------------------------------------------ */
/* Child: crash handler                                                      */

static const void *context_pc(void *uctx) {
  const ucontext_t *uc = uctx;
  if (!uc)
    return NULL;
#if defined(__x86_64__)
  return (const void *)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  return (const void *)uc->uc_mcontext.pc;
#else
  return NULL;
#endif
}

static int in_driver(const void *pc) {
  Dl_info di;
  return pc && drv_base && dladdr(pc, &di) && di.dli_fbase == drv_base;
}

/* The driver location: the faulting PC when it is in the driver, else the
 * first backtrace frame inside it (abort() faults in libc). dladdr and
 * backtrace are not async-signal-safe on paper; they are in practice once
 * warmed up, and the process is about to die anyway. */
static void locate(const void *pc, char *buf, size_t cap) {
  void *frames[64];
  buf[0] = '\0';
  if (in_driver(pc)) {
    dc__describe_site(pc, buf, cap);
    return;
  }
  int n = backtrace(frames, 64);
  for (int i = 0; i < n; i++)
    if (in_driver(frames[i])) {
      dc__describe_site(frames[i], buf, cap);
      return;
    }
}

static void publish_counts(shm_hdr *h);

static void on_fatal(int sig, siginfo_t *si, void *uctx) {
  shm_hdr *h = crash_hdr;
  (void)si;
  if (h && !__sync_lock_test_and_set(&crash_taken, 1)) {
    h->crash_cb = dc__tls.cb;
    h->crash_port = dc__tls.port ? (int)DC__IDX(dc__tls.port->id) : -1;
    const char *st = dc__tls.stimulus ? dc__tls.stimulus : "";
    size_t i = 0;
    for (; st[i] && i + 1 < sizeof h->crash_stim; i++)
      h->crash_stim[i] = st[i];
    h->crash_stim[i] = '\0';
    locate(context_pc(uctx), h->crash_loc, sizeof h->crash_loc);
    publish_counts(h); /* the fatal callback counts as run */
    __atomic_store_n(&h->crash_sig, sig, __ATOMIC_SEQ_CST);
  }
  _exit(128 + sig);
}

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

/* The hang probe's SIGUSR2. TSan defers a signal until the thread next
 * enters its runtime, which a driver spinning in a loop never does: the
 * probe would never run and the hang would have no location. Under TSan
 * the handler is installed with libc's own sigaction, past TSan's
 * interceptor, so the kernel runs it at once. (It reads the interrupted PC
 * and a backtrace; the child is killed right after either way.) */
static void install_probe(const struct sigaction *sa) {
  if (DC__TSAN) {
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    sigaction_fn real = libc ? (sigaction_fn)dlsym(libc, "sigaction") : NULL;
    if (libc)
      dlclose(libc);
    if (real && real(SIGUSR2, sa, NULL) == 0)
      return;
  }
  sigaction(SIGUSR2, sa, NULL);
}

static void install_handlers(void) {
  static const int sigs[] = {SIGSEGV, SIGBUS,  SIGFPE, SIGILL,
                             SIGABRT, SIGTRAP, SIGSYS};
  stack_t ss = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16};
  struct sigaction sa;
  void *warm[4];
  backtrace(warm, 4); /* loads the unwinder now, not inside the handler */
  if (ss.ss_sp)
    sigaltstack(&ss, NULL);
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fatal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigfillset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    sigaction(sigs[i], &sa, NULL);
  install_probe(&sa);
}

/* ------------------------------------------------------------------------ */
/* Child: running the unit                                                   */

/* Appends op to the shared log before it runs. -1 when the log is full. */
static int log_op(dc__exec *ex, const dc__op *op) {
  shm_hdr *h = ex->hdr;
  size_t need = align8(sizeof *op) + align8(op->len);
  if (h->oplog_len + need > OPLOG_BYTES)
    return -1;
  unsigned char *p = ex->oplog + h->oplog_len;
  memcpy(p, op, sizeof *op);
  if (op->len)
    memcpy(p + align8(sizeof *op), op->data, op->len);
  h->oplog_len += need;
  h->nops++;
  return 0;
}

/* Appends the trace events recorded since *last as "step text" lines. */
static void log_trace(dc__exec *ex, unsigned step, const dc__event **last) {
  char line[2048];
  const dc__event *ev = *last ? (*last)->next : dc__trace_first();
  for (; ev; ev = ev->next) {
    *last = ev;
    dc__event_print(ev, line, sizeof line);
    size_t room = TRACE_BYTES - ex->hdr->trace_len;
    int n =
        snprintf(ex->trace + ex->hdr->trace_len, room, "%u %s\n", step, line);
    if (n > 0 && (size_t)n < room)
      ex->hdr->trace_len += (size_t)n;
  }
}

/* Suppression hit counts when the unit began: a forked child starts with
 * the parent's totals and publishes only what it added. */
static unsigned supp_base[DC__MAX_SUPPRESS];
/* Callbacks of the batch's earlier sequences (each reset the emulator). */
static unsigned long batch_callbacks[DC__CB_COUNT];

static void publish_counts(shm_hdr *h) {
  unsigned now[DC__MAX_SUPPRESS];
  for (int i = 0; i < DC__CB_COUNT; i++)
    h->callbacks[i] = batch_callbacks[i] + dc__g.cb_count[i];
  h->stimuli = dc__stimuli_applied;
  int n = dc__suppress_hits(now, DC__MAX_SUPPRESS);
  for (int i = 0; i < n && i < DC__MAX_SUPPRESS; i++)
    h->supp_hits[i] = now[i] - supp_base[i];
}

static void run_ops(dc__exec *ex, const dc__exec_unit *u, dc__source *src) {
  shm_hdr *h = ex->hdr;
  const dc__event *last = NULL;
  dc__runner r;
  dc__op op;
  dc__runner_init(&r);
  for (unsigned i = 0; dc__source_next(src, &r, &op); i++) {
    if (log_op(ex, &op) != 0)
      break;
    h->step = i;
    h->watch.beat++;
    dc__report_set_step(i);
    /* Port-locking drivers: per-port operations run concurrently on
     * per-slot threads (an illegal one is then skipped there, unseen). */
    int rc = dc__conc_exec(&r, &op);
    if (rc == DC_ESTATE && !h->illegal) {
      h->illegal_step = i;
      h->illegal = 1;
    }
    dc__entry_check_modified();
    if (u->collect_trace)
      log_trace(ex, i, &last);
    publish_counts(h);
    if (rc == DC_ESTATE && u->stop_on_illegal)
      break;
  }
  dc__conc_barrier();
  /* A scenario need not end with unload: the emulator unloads anyway, and
   * what the driver does then (finish, leaks) belongs to the run. */
  if (dc__g.loaded) {
    h->step = h->nops;
    dc__report_set_step(h->nops);
    dc__unload_driver();
    if (u->collect_trace)
      log_trace(ex, h->nops, &last);
  }
}

static double now_ms(void);

/* A fresh emulator (the async pool's threads exist from here on). */
static void fresh_emulator(dc__exec *ex, const dc__exec_unit *u) {
  dc__emu_reset(ex->cfg.async_threads);
  /* Only units that report their trace (smoke, replay) record it: in a
   * random sequence nobody reads it, and copying every message would be
   * the costliest thing the harness does per output. */
  dc__g.trace_enabled = u->collect_trace;
  dc__findings_reset();
}

/* Loads the driver into the fresh emulator; fills the load fields of h.
 * Returns dc__load_driver's result. */
static int child_load(dc__exec *ex) {
  shm_hdr *h = ex->hdr;
  Dl_info di;
  drv_base = NULL;
  h->load_rc = IN_PROGRESS;
  int rc =
      dc__load_driver(ex->cfg.driver_path, h->load_err, sizeof h->load_err);
  h->have_entry =
      dc__loader_entry_copy(&h->entry, h->driver_name, sizeof h->driver_name);
  h->load_rc = rc;
  if (rc == 0 && dladdr(dc__g.entry, &di)) {
    drv_base = di.dli_fbase;
    dc__san_pin_driver(di.dli_fname); /* symbolizable at the leak check */
  }
  return rc;
}

/* Entries of a /proc directory (threads, fds), or -1. */
static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  if (!d)
    return -1;
  for (struct dirent *e; (e = readdir(d));)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

/* The next sequence of a batch may run in this child only if it starts as
 * fresh as in a child of its own, or its finding would not replay alone:
 * the library was really unmapped at unload (its statics start over at the
 * next dlopen; sanitizer builds pin it, a NODELETE library stays), and the
 * driver left no thread (that could run unmapped code) and no fd behind. */
static int can_continue(const char *path, int threads0, int fds0) {
  int threads = 0;
  char dl[4096];
  void *still =
      dlopen(dc__dl_name(path, dl, sizeof dl), RTLD_LAZY | RTLD_NOLOAD);
  if (still) {
    dlclose(still);
    return 0;
  }
  dc__thread_live_counts(&threads, NULL);
  return threads == 0 && threads0 >= 0 &&
         count_entries("/proc/self/task") == threads0 &&
         count_entries("/proc/self/fd") == fds0;
}

/* Random sequences one after another, each on a fresh emulator and a fresh
 * load; what the parent gets is the last one's operations and findings. */
static void run_batch(dc__exec *ex, const dc__exec_unit *u, int threads0,
                      int fds0) {
  shm_hdr *h = ex->hdr;
  uint64_t seeds = u->seeds;
  double end = now_ms() + u->batch_ms;
  for (unsigned k = 0; k < u->batch; k++) {
    if (k > 0) {
      for (int i = 0; i < DC__CB_COUNT; i++)
        batch_callbacks[i] += dc__g.cb_count[i];
      h->oplog_len = 0;
      h->nops = 0;
      h->step = 0;
      fresh_emulator(ex, u);
      if (child_load(ex) != 0)
        return;
    }
    h->batch_seed = dc__rand(&seeds);
    h->batch_ran = k + 1;
    dc__source_gen(u->src, h->batch_seed, 0, u->max_ops);
    run_ops(ex, u, u->src);
    dc__conc_stop();
    size_t nf;
    dc__findings(&nf);
    if (nf || h->illegal || k + 1 == u->batch || now_ms() >= end ||
        !can_continue(ex->cfg.driver_path, threads0, fds0))
      return;
  }
}

static void child_main(dc__exec *ex, const dc__exec_unit *u) {
  shm_hdr *h = ex->hdr;
  h->emu_tid = (pid_t)syscall(SYS_gettid);
  dc__suppress_hits(supp_base, DC__MAX_SUPPRESS);
  /* zero also with --no-fork, where every unit runs in this process */
  memset(batch_callbacks, 0, sizeof batch_callbacks);
  dc__findings_share(ex->findings, ex->findings_bytes);
  dc__stimuli_applied = 0;
  dc__cb_watch = &h->watch;
  fresh_emulator(ex, u);
  /* what a batch's sequences must leave as they found it */
  int threads0 = u->batch > 1 ? count_entries("/proc/self/task") : -1;
  int fds0 = u->batch > 1 ? count_entries("/proc/self/fd") : -1;
  if (child_load(ex) == 0) {
    dc__scenario smoke;
    dc__source *src = u->src, *own = NULL;
    dc__scenario_init(&smoke);
    if (u->smoke && (own = malloc(sizeof *own)) &&
        dc__smoke_build(&smoke, dc__g.entry, u->seed) == 0) {
      dc__source_scenario(own, &smoke);
      src = own;
    }
    if (u->batch && src && !own)
      run_batch(ex, u, threads0, fds0);
    else if (src)
      run_ops(ex, u, src);
    else if (dc__g.loaded)
      dc__unload_driver();
    free(own);
    dc__scenario_free(&smoke);
  }
  dc__conc_stop();
  publish_counts(h);
  dc__cb_watch = NULL;
  h->done = 1;
}

/* ------------------------------------------------------------------------ */
/* Parent: supervision                                                       */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms) {
  long ns = (long)(ms * 1e6);
  struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
  nanosleep(&ts, NULL);
}

/* Waits up to ms for the child; 1 when it exited (*status set). */
static int reap_within(pid_t pid, int *status, double ms) {
  double end = now_ms() + ms;
  do {
    if (waitpid(pid, status, WNOHANG) == pid)
      return 1;
    sleep_ms(2);
  } while (now_ms() < end);
  return 0;
}

/* Watches the child until it exits. A heartbeat that does not move for the
 * hang limit means one callback (or a lock wait before one) is stuck: the
 * child's emulator thread is asked for its location (SIGUSR2 lands in the
 * crash handler), then the child is killed. Returns 1 on a hang. */
static int supervise(dc__exec *ex, pid_t pid, int *status, dc__watch *snap,
                     unsigned *step) {
  shm_hdr *h = ex->hdr;
  unsigned long beat = h->watch.beat;
  double changed = now_ms(), nap = 0.05;
  for (;;) {
    if (waitpid(pid, status, WNOHANG) == pid)
      return 0;
    double t = now_ms();
    if (h->watch.beat != beat) {
      beat = h->watch.beat;
      changed = t;
    } else if (t - changed > ex->cfg.hang_ms) {
      snap->emu_cb = h->watch.emu_cb;
      snap->any_cb = h->watch.any_cb;
      snap->port = h->watch.port;
      *step = h->step;
      if (h->emu_tid)
        syscall(SYS_tgkill, pid, h->emu_tid, SIGUSR2);
      if (!reap_within(pid, status, PROBE_GRACE_MS)) {
        kill(pid, SIGKILL);
        waitpid(pid, status, 0);
      }
      return 1;
    }
    sleep_ms(nap); /* quick units return fast; long ones poll every 5 ms */
    if (nap < 5)
      nap *= 2;
  }
}

static void reset_hdr(shm_hdr *h) {
  memset(h, 0, sizeof *h);
  h->watch.port = -1;
  h->load_rc = IN_PROGRESS;
}

/* ------------------------------------------------------------------------ */
/* Parent: collecting the result                                             */

static int add_finding(dc__exec_result *res, const dc__finding *f) {
  dc__finding *nf = realloc(res->findings, (res->nfindings + 1) * sizeof *nf);
  if (!nf)
    return DC_ENOMEM;
  res->findings = nf;
  nf[res->nfindings++] = *f;
  return 0;
}

static const char *cb_or(int cb, const char *dflt) {
  return cb != DC__CB_NONE ? dc__cb_name((dc__cb)cb) : dflt;
}

static void crash_finding(dc__exec_result *res, const shm_hdr *h, int status,
                          const dc__watch *snap, unsigned step, int hung,
                          unsigned hang_ms) {
  dc__finding f;
  memset(&f, 0, sizeof f);
  f.count = 1;
  f.step = step;
  const char *where = h->load_rc == IN_PROGRESS ? "load" : "emulator";
  if (hung) {
    f.rule = DC_RULE_CB_HANG;
    int cb = snap->emu_cb != DC__CB_NONE ? snap->emu_cb : snap->any_cb;
    snprintf(f.callback, sizeof f.callback, "%s", cb_or(cb, where));
    f.port = snap->emu_cb != DC__CB_NONE ? snap->port : -1;
    snprintf(f.message, sizeof f.message,
             "%s did not return within %u ms (operation %u)", f.callback,
             hang_ms, step);
  } else if (h->crash_sig) {
    f.rule = DC_RULE_CB_CRASH;
    snprintf(f.callback, sizeof f.callback, "%s", cb_or(h->crash_cb, where));
    f.port = h->crash_port;
    snprintf(f.message, sizeof f.message, "SIG%s (%s) in %s (operation %u)",
             sigabbrev_np(h->crash_sig) ? sigabbrev_np(h->crash_sig) : "?",
             strsignal(h->crash_sig), f.callback, step);
  } else {
    /* Killed by a signal we do not handle, or the driver called exit().
     * Sanitizer hook (san.*, a later issue): an ASan/UBSan/TSan build
     * reports on stderr and exits non-zero; capture the child's stderr and
     * parse the report here to file san.<kind> with its first driver frame. */
    f.rule = DC_RULE_CB_CRASH;
    int cb = h->watch.emu_cb != DC__CB_NONE ? h->watch.emu_cb : h->watch.any_cb;
    snprintf(f.callback, sizeof f.callback, "%s", cb_or(cb, where));
    f.port = -1;
    if (WIFSIGNALED(status))
      snprintf(f.message, sizeof f.message, "killed by signal %d (%s) in %s",
               WTERMSIG(status), strsignal(WTERMSIG(status)), f.callback);
    else
      snprintf(f.message, sizeof f.message,
               "the emulator process exited with status %d in %s",
               WEXITSTATUS(status), f.callback);
  }
  if (hung || h->crash_sig) {
    snprintf(f.stimulus, sizeof f.stimulus, "%s", h->crash_stim);
    snprintf(f.location, sizeof f.location, "%s", h->crash_loc);
  }
  add_finding(res, &f);
  if (hung)
    res->hung = 1;
  else
    res->crashed = 1;
}

/* Sanitizer hook: the child's ASan/UBSan/TSan/LSan report, if any, from
 * <san_prefix>.<pid> (sanitizer.c). A report with a driver frame becomes a
 * san.* finding; one without is the harness's own and is shown, not
 * blamed on the driver. Returns 1 when a san.* finding was added. */
static int san_finding(dc__exec *ex, dc__exec_result *res, pid_t pid) {
  const shm_hdr *h = ex->hdr;
  dc__san_report rep;
  char *text = NULL;
  int rc = dc__san_collect(ex->san_prefix, (long)pid, ex->cfg.driver_path, &rep,
                           &text);
  if (rc == DC__SAN_FOREIGN)
    fprintf(stderr, "drvcheck: sanitizer report outside the driver:\n%s", text);
  free(text);
  if (rc != DC__SAN_DRIVER)
    return 0;
  dc__finding f;
  memset(&f, 0, sizeof f);
  dc__san_finding(&rep, &f);
  f.step = h->step;
  /* A child that finished reported from a driver thread or a callback we
   * no longer know (TSan keeps running), or leaks at its end (the check
   * runs after unload); one that died, from the callback running then. */
  int cb = h->watch.emu_cb != DC__CB_NONE ? h->watch.emu_cb : h->watch.any_cb;
  const char *done_cb = rep.rule == DC_RULE_SAN_LEAK ? "unload" : "thread";
  snprintf(f.callback, sizeof f.callback, "%s",
           h->done
               ? done_cb
               : cb_or(cb, h->load_rc == IN_PROGRESS ? "load" : "emulator"));
  f.port = h->done ? -1 : h->watch.port;
  add_finding(res, &f);
  if (!h->done)
    res->crashed = 1;
  return 1;
}

static void collect_ops(dc__exec *ex, dc__exec_result *res) {
  size_t off = 0, len = ex->hdr->oplog_len;
  while (off + sizeof(dc__op) <= len) {
    dc__op op;
    memcpy(&op, ex->oplog + off, sizeof op);
    op.data = op.len ? ex->oplog + off + align8(sizeof op) : NULL;
    dc__scenario_add(&res->ops, &op);
    off += align8(sizeof op) + align8(op.len);
  }
}

static void collect_trace(dc__exec *ex, dc__exec_result *res) {
  char *p = ex->trace, *end = ex->trace + ex->hdr->trace_len;
  size_t n = 0;
  for (char *q = p; q < end; q++)
    n += *q == '\n';
  res->trace = calloc(n ? n : 1, sizeof *res->trace);
  res->trace_step = calloc(n ? n : 1, sizeof *res->trace_step);
  if (!res->trace || !res->trace_step)
    return;
  while (p < end && res->ntrace < n) {
    char *nl = memchr(p, '\n', (size_t)(end - p)), *text;
    unsigned long step = strtoul(p, &text, 10);
    text += *text == ' ';
    res->trace[res->ntrace] = strndup(text, (size_t)(nl - text));
    res->trace_step[res->ntrace++] = (unsigned)step;
    p = nl + 1;
  }
}

static void collect(dc__exec *ex, dc__exec_result *res) {
  shm_hdr *h = ex->hdr;
  size_t n;
  res->load_rc = h->load_rc == IN_PROGRESS ? DC_ELOAD : h->load_rc;
  snprintf(res->load_err, sizeof res->load_err, "%s", h->load_err);
  res->have_entry = h->have_entry;
  res->entry = h->entry;
  snprintf(res->driver_name, sizeof res->driver_name, "%s", h->driver_name);
  memcpy(res->callbacks, h->callbacks, sizeof res->callbacks);
  res->stimuli = h->stimuli;
  memcpy(res->supp_hits, h->supp_hits, sizeof res->supp_hits);
  res->batch_ran = h->batch_ran;
  res->batch_seed = h->batch_seed;
  res->illegal = h->illegal;
  res->illegal_step = h->illegal_step;
  collect_ops(ex, res);
  const dc__finding *f = dc__findings_shared(ex->findings, &n);
  for (size_t i = 0; i < n && i < SHARED_FINDINGS; i++)
    add_finding(res, &f[i]);
  collect_trace(ex, res);
}

int dc__exec_run(dc__exec *ex, const dc__exec_unit *u, dc__exec_result *res) {
  int status = 0;
  dc__watch snap = {0};
  unsigned step = 0;
  memset(res, 0, sizeof *res);
  dc__scenario_init(&res->ops);
  reset_hdr(ex->hdr);
  /* Lays out an empty table (the child may die before doing it itself),
   * then gives this process its own table back. */
  dc__findings_share(ex->findings, ex->findings_bytes);
  dc__findings_share(NULL, 0);
  if (ex->cfg.no_fork) {
    child_main(ex, u);
    dc__findings_share(NULL, 0);
    collect(ex, res);
    /* The unit ran in this process: its suppressions are counted here
     * already, and must not be added again from the result. */
    memset(res->supp_hits, 0, sizeof res->supp_hits);
    return 0;
  }
  fflush(stdout); /* or the child would flush our buffered output again */
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0)
    return DC_EIO;
  if (pid == 0) {
    crash_hdr = ex->hdr;
    install_handlers();
    dc__san_child_begin(ex->san_prefix);
    child_main(ex, u);
    dc__san_child_end(); /* the leak check _exit skips */
    fflush(NULL);        /* keep what the driver printed */
    _exit(0);            /* no atexit: driver threads may still run */
  }
  int hung = supervise(ex, pid, &status, &snap, &step);
  collect(ex, res);
  int san = san_finding(ex, res, pid);
  /* a sanitizer runtime that ended the child: san.* replaces cb.crash */
  if (hung || ex->hdr->crash_sig || (!ex->hdr->done && !san))
    crash_finding(res, ex->hdr, status, &snap, hung ? step : ex->hdr->step,
                  hung, ex->cfg.hang_ms);
  return 0;
}

void dc__exec_result_free(dc__exec_result *res) {
  dc__scenario_free(&res->ops);
  free(res->findings);
  for (size_t i = 0; i < res->ntrace; i++)
    free(res->trace[i]);
  free(res->trace);
  free(res->trace_step);
  memset(res, 0, sizeof *res);
}
