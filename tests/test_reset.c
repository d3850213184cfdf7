/* The emulator reset and reload that the fuzz targets run for every input
 * (dc__emu_reset, dc__async_reset, dc__load_again): each costs what the
 * previous run used, yet leaves the same fresh state as a full reset. */
#include <dlfcn.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

#define EV(fd) ((ErlDrvEvent)(intptr_t)(fd))

/* A static test driver counting its load-time calls. */
static struct { int driver_init_calls, init_calls, finish_calls; } seen;

static ErlDrvData drv_start(ErlDrvPort port, char *cmd) {
  (void)cmd;
  return (ErlDrvData)port;
}
static int drv_init(void) {
  seen.init_calls++;
  return 0;
}
static void drv_finish(void) { seen.finish_calls++; }
static void drv_process_exit(ErlDrvData d, ErlDrvMonitor *m) {
  (void)d;
  (void)m;
}

static ErlDrvEntry entry;
static ErlDrvEntry *get_entry(void) {
  seen.driver_init_calls++;
  return &entry;
}

static void setup(void) {
  memset(&entry, 0, sizeof entry);
  entry.init = drv_init;
  entry.start = drv_start;
  entry.finish = drv_finish;
  entry.process_exit = drv_process_exit;
  entry.driver_name = "resettest";
  entry.extended_marker = ERL_DRV_EXTENDED_MARKER;
  entry.major_version = ERL_DRV_EXTENDED_MAJOR_VERSION;
  entry.minor_version = ERL_DRV_EXTENDED_MINOR_VERSION;
  dc_test_load_static(get_entry);
}

static dc__port *open_port(ErlDrvTermData owner) {
  return dc_test_open_port("resettest", 0, owner);
}

/* ---- async jobs ------------------------------------------------------------
 */

static struct {
  long tid; /* kernel thread id: unlike a pthread_t, not reused at once */
  pthread_t thread;
  int invoked, freed;
  _Atomic int *gate;
} jobs[4];

static void job_invoke(void *arg) {
  int n = (int)(intptr_t)arg;
  if (jobs[n].gate)
    while (!atomic_load(jobs[n].gate))
      usleep(1000);
  jobs[n].tid = syscall(SYS_gettid);
  jobs[n].thread = pthread_self();
  jobs[n].invoked = 1;
}
static void job_free(void *arg) { jobs[(int)(intptr_t)arg].freed++; }

static long submit(dc__port *p, int n) {
  dc__cbframe f;
  unsigned key = 0; /* all on one worker: FIFO */
  dc__cb_enter(p, DC__CB_CONTROL, DC__NIL, &f);
  long id = driver_async(dc__port_handle(p), &key, job_invoke,
                         (void *)(intptr_t)n, job_free);
  dc__cb_leave(p, &f);
  return id;
}

/* A reset keeps the pool's worker thread (no create/join per fuzz input)
 * but job ids restart at 1, as in a fresh pool (erl_async.c numbers jobs
 * from 1). */
DC_TEST(reset_keeps_async_workers_and_restarts_job_ids) {
  setup();
  dc__port *p = open_port(dc__proc_spawn("owner"));
  DC_ASSERT_EQ(submit(p, 0), 1);
  DC_ASSERT_EQ(submit(p, 1), 2);
  dc__async_wait_idle();
  setup();
  p = open_port(dc__proc_spawn("owner"));
  DC_ASSERT_EQ(submit(p, 2), 1);
  dc__async_wait_idle();
  DC_ASSERT(jobs[2].invoked);
  DC_ASSERT_EQ(jobs[0].tid, jobs[2].tid);
}

/* As dc__async_stop: at a reset the running job finishes, the queued one
 * never runs, and neither is delivered; both go to async_free. */
DC_TEST(reset_discards_queued_and_undelivered_jobs) {
  static _Atomic int gate;
  setup();
  dc__port *p = open_port(dc__proc_spawn("owner"));
  jobs[0].gate = &gate;
  DC_ASSERT(submit(p, 0) > 0);
  DC_ASSERT(submit(p, 1) > 0);
  usleep(10 * 1000); /* the worker takes job 0 and waits at the gate */
  atomic_store(&gate, 1);
  dc__emu_reset(1);
  DC_ASSERT(jobs[0].invoked);
  DC_ASSERT(!jobs[1].invoked);
  DC_ASSERT_EQ(jobs[0].freed, 1);
  DC_ASSERT_EQ(jobs[1].freed, 1);
  int done = -1;
  DC_ASSERT_EQ(dc__async_pending(&done), 0);
  DC_ASSERT_EQ(done, 0);
}

/* Threads do not survive fork: a child of a process whose pool runs gets a
 * working pool from its first reset instead of joining ghost threads. */
DC_TEST(reset_after_fork_starts_a_new_pool) {
  setup();
  pid_t pid = fork();
  DC_ASSERT(pid >= 0);
  if (pid == 0) {
    alarm(10); /* a join of a ghost thread would hang */
    setup();
    dc__port *p = open_port(dc__proc_spawn("owner"));
    if (submit(p, 0) <= 0)
      _exit(2);
    dc__async_wait_idle();
    _exit(jobs[0].invoked && !pthread_equal(jobs[0].thread, pthread_self())
              ? 0
              : 3);
  }
  int status = 0;
  DC_ASSERT_EQ(waitpid(pid, &status, 0), pid);
  DC_ASSERT(WIFEXITED(status));
  DC_ASSERT_EQ(WEXITSTATUS(status), 0);
}

/* ---- emulator state --------------------------------------------------------
 */

/* What a run left behind (ports, selected fds, monitors, processes) is gone
 * after the reset, though only the used parts were cleared. */
DC_TEST(reset_clears_what_the_run_used) {
  int fds[2];
  DC_ASSERT_EQ(pipe(fds), 0);
  setup();
  ErlDrvTermData owner = dc__proc_spawn("owner");
  ErlDrvTermData target = dc__proc_spawn("target");
  dc__port *a = open_port(owner);
  dc__port *b = open_port(owner);
  ErlDrvMonitor m;
  DC_ASSERT_EQ(driver_select(dc__port_handle(b), EV(fds[0]), ERL_DRV_READ, 1),
               0);
  DC_ASSERT_EQ(driver_monitor_process(dc__port_handle(a), target, &m), 0);
  DC_ASSERT_EQ(dc__monitor_count_on(target), 1);
  int mode = 0;
  dc__port *sel = NULL;
  DC_ASSERT_EQ(dc__select_next(-1, &mode, &sel), fds[0]);

  dc__emu_reset(1);
  DC_ASSERT_EQ(atomic_load(&dc__g.nports), 0);
  DC_ASSERT_EQ(dc__g.ports[0].state, DC__PORT_FREE);
  DC_ASSERT_EQ(dc__g.ports[1].state, DC__PORT_FREE);
  DC_ASSERT_EQ(dc__g.ports[1].name[0], 0);
  DC_ASSERT(!dc__g.entry && !dc__g.loaded);
  DC_ASSERT_EQ(dc__select_next(-1, &mode, &sel), -1);
  DC_ASSERT(!dc__proc_known(owner));
  /* Pid numbers restart: the same pid term is a new process now, which no
   * driver monitors. */
  DC_ASSERT_EQ(dc__proc_spawn("x"), owner);
  DC_ASSERT_EQ(dc__proc_spawn("y"), target);
  DC_ASSERT_EQ(dc__monitor_count_on(target), 0);
  close(fds[0]);
  close(fds[1]);
}

/* ---- loading again ----------------------------------------------------------
 */

DC_TEST(load_again_needs_an_earlier_load) {
  char err[256] = "";
  dc__emu_reset(1);
  DC_ASSERT_EQ(dc__load_again(err, sizeof err), DC_ESTATE);
  DC_ASSERT(err[0]);
}

/* erl_ddll calls driver_init and init() on every load: so does each load
 * again, and the unload calls finish(). */
DC_TEST(load_again_runs_driver_init_and_init_each_time) {
  char err[256] = "";
  setup();
  DC_ASSERT_EQ(dc__unload_driver(), 0);
  for (int i = 0; i < 3; i++) {
    dc__emu_reset(1);
    DC_ASSERT_EQ(dc__load_again(err, sizeof err), 0);
    DC_ASSERT(dc__g.loaded && dc__g.is_static);
    DC_ASSERT(dc__g.entry == &entry);
    DC_ASSERT_EQ(dc__unload_driver(), 0);
  }
  DC_ASSERT_EQ(seen.driver_init_calls, 4);
  DC_ASSERT_EQ(seen.init_calls, 4);
  DC_ASSERT_EQ(seen.finish_calls, 4);
}

static size_t count_rule(dc_rule rule) {
  size_t n, k = 0;
  const dc__finding *f = dc__findings(&n);
  for (size_t i = 0; i < n; i++)
    k += f[i].rule == rule;
  return k;
}

/* The entry checks' findings come again with every load, also where the
 * verdict is reused (the entry did not move). */
DC_TEST(load_again_reports_the_entry_findings_again) {
  char path[512], err[256] = "";
  snprintf(path, sizeof path, "%s/bad/bad_const_entry.so", DC_DRIVER_DIR);
  dc__emu_reset(1);
  dc__findings_reset();
  DC_ASSERT_EQ(dc__load_driver(path, err, sizeof err), 0);
  DC_ASSERT_EQ(count_rule(DC_RULE_ENTRY_CONST), 1);
  /* Keep the library mapped, as the fuzz targets do. */
  DC_ASSERT(dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) != NULL);
  DC_ASSERT_EQ(dc__unload_driver(), 0);
  for (int i = 0; i < 2; i++) {
    dc__emu_reset(1);
    dc__findings_reset();
    DC_ASSERT_EQ(dc__load_again(err, sizeof err), 0);
    DC_ASSERT_EQ(count_rule(DC_RULE_ENTRY_CONST), 1);
    DC_ASSERT_STREQ(dc__g.driver_name, "bad_const_entry");
    DC_ASSERT(!dc__g.is_static);
    DC_ASSERT_EQ(dc__unload_driver(), 0);
  }
}

/* A good driver's load again is clean, and the entry stays in place. */
DC_TEST(load_again_of_a_good_driver_is_clean) {
  char path[512], err[256] = "";
  snprintf(path, sizeof path, "%s/echo_drv.so", DC_DRIVER_DIR);
  dc_test_load("echo_drv");
  ErlDrvEntry *first = dc__g.entry;
  DC_ASSERT(dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) != NULL);
  DC_ASSERT_EQ(dc__unload_driver(), 0);
  dc__emu_reset(1);
  dc__findings_reset();
  DC_ASSERT_EQ(dc__load_again(err, sizeof err), 0);
  DC_ASSERT(dc__g.entry == first);
  size_t n;
  dc__findings(&n);
  DC_ASSERT_EQ(n, 0);
  DC_ASSERT_EQ(dc__unload_driver(), 0);
}
