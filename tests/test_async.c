/* driver_async and the async pool: where jobs run, queue selection and key
 * rewriting, FIFO per key, delivery to ready_async or async_free.
 * ERTS facts: erts/emulator/beam/erl_async.c (driver_async, async_main,
 * call_async_ready) and shared/spec/protocol.md §3.10. */
#include <stdint.h>
#include <unistd.h>

#include "support.h"

#define MAXJOBS 64

/* One job's record; the job's async_data points at it. */
typedef struct job_rec {
  int n; /* job number given by the test */
  int invoked;
  pthread_t thread;   /* where async_invoke ran */
  dc__thr_kind kind;  /* dc__tls.kind there */
  dc__cb cb;          /* dc__tls.cb there */
  dc__port *ctx_port; /* dc__tls.port there */
  int sleep_ms;       /* async_invoke sleeps this long */
  _Atomic int *gate;  /* async_invoke waits until *gate != 0 */
  int freed;
} job_rec;

static job_rec jobs[MAXJOBS];
static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
static int run_order[MAXJOBS], nrun;

/* What ready_async saw. */
static struct {
  int calls;
  ErlDrvData drv_data;
  ErlDrvThreadData data;
  pthread_t thread;
  dc__cb cb;
  int order[MAXJOBS];
} ready;

static void job_invoke(void *arg) {
  job_rec *j = arg;
  if (j->gate)
    while (!atomic_load(j->gate))
      usleep(1000);
  if (j->sleep_ms)
    usleep((useconds_t)j->sleep_ms * 1000);
  j->thread = pthread_self();
  j->kind = dc__tls.kind;
  j->cb = dc__tls.cb;
  j->ctx_port = dc__tls.port;
  pthread_mutex_lock(&order_lock);
  run_order[nrun++] = j->n;
  pthread_mutex_unlock(&order_lock);
  j->invoked = 1;
}

static void job_free(void *arg) { ((job_rec *)arg)->freed++; }

static ErlDrvData drv_start(ErlDrvPort port, char *cmd) {
  (void)cmd;
  return (ErlDrvData)port;
}

static void drv_ready_async(ErlDrvData d, ErlDrvThreadData data) {
  ready.order[ready.calls % MAXJOBS] = ((job_rec *)data)->n;
  ready.calls++;
  ready.drv_data = d;
  ready.data = data;
  ready.thread = pthread_self();
  ready.cb = dc__tls.cb;
}

static ErlDrvEntry entry;
static ErlDrvEntry *get_entry(void) { return &entry; }
static ErlDrvTermData owner;

/* Loads the test driver into an emulator with `threads` async threads. */
static void setup_with(int threads, int with_ready) {
  char err[256] = "";
  memset(&entry, 0, sizeof entry);
  entry.start = drv_start;
  entry.ready_async = with_ready ? drv_ready_async : NULL;
  entry.driver_name = "asynctest";
  entry.extended_marker = ERL_DRV_EXTENDED_MARKER;
  entry.major_version = ERL_DRV_EXTENDED_MAJOR_VERSION;
  entry.minor_version = ERL_DRV_EXTENDED_MINOR_VERSION;
  if (threads == 1) {
    dc_test_load_static(get_entry);
  } else {
    dc__emu_reset(threads);
    dc__findings_reset();
    if (dc__load_static(get_entry, err, sizeof err) != 0)
      DC_FAIL("load: %s", err);
  }
  owner = dc__proc_spawn("owner");
  for (int i = 0; i < MAXJOBS; i++)
    jobs[i] = (job_rec){.n = i};
}
static void setup(void) { setup_with(1, 1); }

static dc__port *open_port(void) {
  return dc_test_open_port("asynctest", 0, owner);
}

/* driver_async as the driver calls it: from a callback of port p. */
static long submit(dc__port *p, unsigned *key, int n) {
  dc__cbframe f;
  dc__cb_enter(p, DC__CB_CONTROL, DC__NIL, &f);
  long id =
      driver_async(dc__port_handle(p), key, job_invoke, &jobs[n], job_free);
  dc__cb_leave(p, &f);
  return id;
}

DC_TEST(job_runs_on_async_thread_and_completes_on_emulator_thread) {
  setup();
  dc__port *p = open_port();
  long id = submit(p, NULL, 0);
  DC_ASSERT(id > 0);
  dc__async_wait_idle();
  DC_ASSERT(jobs[0].invoked);
  DC_ASSERT(!pthread_equal(jobs[0].thread, pthread_self()));
  DC_ASSERT_EQ(jobs[0].kind, DC__THR_ASYNC);
  DC_ASSERT_EQ(jobs[0].cb, DC__CB_ASYNC_INVOKE);
  DC_ASSERT(jobs[0].ctx_port == NULL); /* no port callback, no lock */
  DC_ASSERT_EQ(ready.calls, 0);        /* not delivered before asked */
  int done = -1;
  DC_ASSERT_EQ(dc__async_pending(&done), 0);
  DC_ASSERT_EQ(done, 1);
  DC_ASSERT_EQ(dc__async_deliver(-1), 1);
  DC_ASSERT_EQ(ready.calls, 1);
  DC_ASSERT(ready.data == (ErlDrvThreadData)&jobs[0]);
  DC_ASSERT(ready.drv_data == (ErlDrvData)dc__port_handle(p));
  DC_ASSERT(pthread_equal(ready.thread, pthread_self()));
  DC_ASSERT_EQ(ready.cb, DC__CB_READY_ASYNC);
  DC_ASSERT_EQ(jobs[0].freed, 0); /* the driver owns the data now */
  DC_ASSERT_EQ(dc__async_pending(&done), 0);
  DC_ASSERT_EQ(done, 0);
}

DC_TEST(job_ids_are_positive_and_increasing) {
  setup();
  dc__port *p = open_port();
  long a = submit(p, NULL, 0), b = submit(p, NULL, 1), c = submit(p, NULL, 2);
  DC_ASSERT(a > 0);
  DC_ASSERT(b > a);
  DC_ASSERT(c > b);
}

/* erl_async.c driver_async: queue = *key % n and *key := queue index. */
DC_TEST(key_is_rewritten_to_the_queue_index) {
  setup_with(4, 1);
  dc__port *p = open_port();
  unsigned k1 = 10, k2 = 3, k3 = 4;
  DC_ASSERT(submit(p, &k1, 0) > 0);
  DC_ASSERT(submit(p, &k2, 1) > 0);
  DC_ASSERT(submit(p, &k3, 2) > 0);
  DC_ASSERT_EQ(k1, 2);
  DC_ASSERT_EQ(k2, 3);
  DC_ASSERT_EQ(k3, 0);
}

/* otp_9302: jobs with the same key run in order, on one thread. */
DC_TEST(same_key_jobs_run_in_fifo_order_on_one_thread) {
  setup_with(4, 1);
  dc__port *p = open_port();
  for (int i = 0; i < 12; i++) {
    unsigned key = 7;
    jobs[i].sleep_ms = i % 3 == 0 ? 5 : 0; /* early jobs slower */
    DC_ASSERT(submit(p, &key, i) > 0);
  }
  dc__async_wait_idle();
  DC_ASSERT_EQ(nrun, 12);
  for (int i = 0; i < 12; i++) {
    DC_ASSERT_EQ(run_order[i], i);
    DC_ASSERT(pthread_equal(jobs[i].thread, jobs[0].thread));
  }
  DC_ASSERT_EQ(dc__async_deliver(-1), 12);
  for (int i = 0; i < 12; i++)
    DC_ASSERT_EQ(ready.order[i], i); /* completion order */
}

/* key == NULL: queue = job id % n, so consecutive jobs use other threads. */
DC_TEST(null_key_spreads_jobs_by_job_id) {
  setup_with(4, 1);
  dc__port *p = open_port();
  long id[8];
  for (int i = 0; i < 8; i++)
    id[i] = submit(p, NULL, i);
  dc__async_wait_idle();
  for (int i = 0; i < 4; i++) {
    DC_ASSERT_EQ(id[i + 4] % 4, id[i] % 4);
    DC_ASSERT(pthread_equal(jobs[i].thread, jobs[i + 4].thread));
    DC_ASSERT(!pthread_equal(jobs[i].thread, jobs[(i + 1) % 4].thread));
  }
}

/* OTP 25 run (protocol.md §3.10): a terminated port only gets async_free. */
DC_TEST(dead_port_gets_async_free_only) {
  setup();
  dc__port *p = open_port();
  DC_ASSERT(submit(p, NULL, 0) > 0);
  dc__async_wait_idle();
  dc__port_terminate(p, "normal");
  DC_ASSERT_EQ(dc__async_deliver(-1), 1);
  DC_ASSERT_EQ(ready.calls, 0);
  DC_ASSERT_EQ(jobs[0].freed, 1);
  DC_ASSERT_EQ(dc__g.cb_count[DC__CB_ASYNC_FREE], 1);
}

DC_TEST(null_ready_async_gives_data_to_async_free) {
  setup_with(1, 0);
  dc__port *p = open_port();
  DC_ASSERT(submit(p, NULL, 0) > 0);
  dc__async_wait_idle();
  DC_ASSERT_EQ(dc__async_deliver(-1), 1);
  DC_ASSERT(jobs[0].invoked);
  DC_ASSERT_EQ(jobs[0].freed, 1);
}

DC_TEST(null_async_free_on_dead_port_is_harmless) {
  setup();
  dc__port *p = open_port();
  dc__cbframe f;
  dc__cb_enter(p, DC__CB_CONTROL, DC__NIL, &f);
  long id = driver_async(dc__port_handle(p), NULL, job_invoke, &jobs[0], NULL);
  dc__cb_leave(p, &f);
  DC_ASSERT(id > 0);
  dc__async_wait_idle();
  dc__port_terminate(p, "normal");
  DC_ASSERT_EQ(dc__async_deliver(-1), 1);
  DC_ASSERT_EQ(ready.calls, 0);
  DC_ASSERT_EQ(dc__g.cb_count[DC__CB_ASYNC_FREE], 0);
}

DC_TEST(invalid_port_returns_minus_one_and_runs_nothing) {
  setup();
  dc__port *p = open_port();
  dc__port_terminate(p, "normal");
  DC_ASSERT_EQ(
      driver_async(dc__port_handle(p), NULL, job_invoke, &jobs[0], job_free),
      -1);
  dc__async_wait_idle();
  DC_ASSERT_EQ(dc__async_pending(NULL), 0);
  DC_ASSERT(!jobs[0].invoked);
  DC_ASSERT_EQ(jobs[0].freed, 0);
}

DC_TEST(port_key_comes_from_the_port_number) {
  setup();
  dc__port *p1 = open_port(), *p2 = open_port();
  unsigned k1 = driver_async_port_key(dc__port_handle(p1));
  unsigned k2 = driver_async_port_key(dc__port_handle(p2));
  DC_ASSERT_EQ(k1, DC__IDX(p1->id));
  DC_ASSERT_EQ(k2, DC__IDX(p2->id));
  DC_ASSERT(k1 != k2);
  dc__port_terminate(p2, "normal");
  DC_ASSERT_EQ(driver_async_port_key(dc__port_handle(p2)), 0);
}

DC_TEST(deliver_one_picks_a_completion_out_of_order) {
  setup();
  dc__port *p = open_port();
  submit(p, NULL, 0);
  submit(p, NULL, 1); /* one thread: completes after job 0 */
  dc__async_wait_idle();
  DC_ASSERT_EQ(dc__async_deliver_one(1), 1);
  DC_ASSERT_EQ(ready.calls, 1);
  DC_ASSERT_EQ(ready.order[0], 1);
  DC_ASSERT_EQ(dc__async_deliver_one(1), 0); /* only one left */
  DC_ASSERT_EQ(dc__async_deliver_one(0), 1);
  DC_ASSERT_EQ(ready.order[1], 0);
  DC_ASSERT_EQ(dc__async_deliver(-1), 0);
}

DC_TEST(deliver_respects_max) {
  setup();
  dc__port *p = open_port();
  for (int i = 0; i < 3; i++)
    submit(p, NULL, i);
  dc__async_wait_idle();
  DC_ASSERT_EQ(dc__async_deliver(2), 2);
  DC_ASSERT_EQ(ready.calls, 2);
  DC_ASSERT_EQ(dc__async_deliver(5), 1);
}

DC_TEST(pending_counts_queued_running_and_completed) {
  setup();
  dc__port *p = open_port();
  _Atomic int gate = 0;
  jobs[0].gate = &gate;
  submit(p, NULL, 0);
  submit(p, NULL, 1);
  int done = -1;
  DC_ASSERT_EQ(dc__async_pending(&done), 2);
  DC_ASSERT_EQ(done, 0);
  atomic_store(&gate, 1);
  dc__async_wait_idle();
  DC_ASSERT_EQ(dc__async_pending(&done), 0);
  DC_ASSERT_EQ(done, 2);
}

static _Atomic int stop_gate;
static void *open_gate_later(void *arg) {
  (void)arg;
  usleep(50 * 1000);
  atomic_store(&stop_gate, 1);
  return NULL;
}

/* Stopping the pool: the running job finishes, the queued one never runs;
 * neither is delivered, both give their data to async_free. */
DC_TEST(stop_frees_undelivered_and_never_run_jobs) {
  setup();
  dc__port *p = open_port();
  jobs[0].gate = &stop_gate;
  submit(p, NULL, 0);
  submit(p, NULL, 1);
  usleep(10 * 1000); /* let the worker pick job 0 */
  pthread_t t;
  pthread_create(&t, NULL, open_gate_later, NULL);
  dc__async_stop();
  pthread_join(t, NULL);
  DC_ASSERT(jobs[0].invoked);
  DC_ASSERT(!jobs[1].invoked);
  DC_ASSERT_EQ(jobs[0].freed, 1);
  DC_ASSERT_EQ(jobs[1].freed, 1);
  DC_ASSERT_EQ(ready.calls, 0);
  DC_ASSERT_EQ(
      driver_async(dc__port_handle(p), NULL, job_invoke, &jobs[2], job_free),
      -1); /* no pool */
  dc__async_start(2);
  DC_ASSERT(submit(p, NULL, 3) > 0);
  dc__async_wait_idle();
  DC_ASSERT(jobs[3].invoked);
}

/* erl_async.c driver_async/call_async_ready: a job holds a reference to the
 * port's PDL from driver_async until it has been delivered, so
 * async_invoke may lock it even after the port died. */
static ErlDrvPDL pdl_seen;
static ErlDrvSizeT size_seen;
static dc__port *pdl_port;
static void pdl_invoke(void *arg) {
  job_rec *j = arg;
  while (!atomic_load(j->gate))
    usleep(1000);
  driver_pdl_lock(pdl_seen);
  size_seen = driver_sizeq(dc__port_handle(pdl_port));
  driver_pdl_unlock(pdl_seen);
  j->invoked = 1;
}

DC_TEST(job_keeps_the_port_data_lock_alive) {
  setup();
  dc__port *p = open_port();
  _Atomic int gate = 0;
  jobs[0].gate = &gate;
  pdl_port = p;
  dc__cbframe f;
  dc__cb_enter(p, DC__CB_CONTROL, DC__NIL, &f);
  pdl_seen = driver_pdl_create(dc__port_handle(p));
  DC_ASSERT(pdl_seen != NULL);
  DC_ASSERT_EQ(driver_pdl_get_refc(pdl_seen), 1);
  long id =
      driver_async(dc__port_handle(p), NULL, pdl_invoke, &jobs[0], job_free);
  DC_ASSERT(id > 0);
  DC_ASSERT_EQ(driver_pdl_get_refc(pdl_seen), 2);
  dc__cb_leave(p, &f);
  dc__port_terminate(p, "normal"); /* drops the port's reference */
  DC_ASSERT_EQ(driver_pdl_get_refc(pdl_seen), 1);
  atomic_store(&gate, 1);
  dc__async_wait_idle();
  DC_ASSERT(jobs[0].invoked);
  DC_ASSERT_EQ(size_seen, (ErlDrvSizeT)-1); /* peek_non_existing_queue */
  DC_ASSERT_EQ(dc__async_deliver(-1), 1);
  DC_ASSERT_EQ(jobs[0].freed, 1);
}
