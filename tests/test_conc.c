/* Concurrency mode (sequencer/conc.c): with ERL_DRV_FLAG_USE_PORT_LOCKING,
 * callbacks of different ports run at the same time on different threads
 * while one port's callbacks stay serialized and in order (protocol.md
 * §3.15); global operations are barriers. Without port locking everything
 * runs on the calling thread, as the driver lock serializes it in ERTS. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "sequencer/internal.h"
#include "support.h"

/* ---- a static test driver: control records what runs where ------------- */

#define NREC 256
#define MAXP 8

typedef struct {
  ErlDrvPort port;
  int slot; /* first byte of the start command tail is unused: slot by order */
} t_state;

static _Atomic int opened;
static _Atomic int inside;     /* controls running right now */
static _Atomic int max_inside; /* most controls seen running at once */
static _Atomic int not_emu;    /* a callback ran on a non-emulator thread */
static _Atomic int on_main;    /* a callback ran on the dispatching thread */
static _Atomic int slow_done;  /* control 3 finished */
static pthread_t main_thread;
static unsigned rec[MAXP][NREC]; /* per port: command numbers in run order */
static _Atomic int nrec[MAXP];
static char seen_data[64];
static int stop_saw_slow; /* stop ran after control 3 finished */

static ErlDrvData t_start(ErlDrvPort port, char *cmd) {
  (void)cmd;
  t_state *st = driver_alloc(sizeof *st);
  st->port = port;
  st->slot = atomic_fetch_add(&opened, 1);
  return (ErlDrvData)st;
}

static void t_stop(ErlDrvData d) {
  stop_saw_slow = atomic_load(&slow_done);
  driver_free(d);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void note_thread(void) {
  if (dc__tls.kind != DC__THR_EMU)
    atomic_store(&not_emu, 1);
  if (pthread_equal(pthread_self(), main_thread))
    atomic_store(&on_main, 1);
}

/* 1: rendezvous — stay inside until two controls run at once (or 2 s).
 * 2: record the command order. 3: slow (50 ms). 4: keep the data. */
static ErlDrvSSizeT t_control(ErlDrvData d, unsigned int cmd, char *buf,
                              ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  t_state *st = (t_state *)d;
  (void)rbuf;
  (void)rlen;
  note_thread();
  int now = atomic_fetch_add(&inside, 1) + 1;
  int m = atomic_load(&max_inside);
  while (now > m && !atomic_compare_exchange_weak(&max_inside, &m, now))
    ;
  if (cmd == 1) {
    double t0 = now_s();
    while (atomic_load(&max_inside) < 2 && now_s() - t0 < 2.0)
      usleep(100);
  } else if (cmd >= 100 && st->slot < MAXP) {
    int i = atomic_fetch_add(&nrec[st->slot], 1);
    if (i < NREC)
      rec[st->slot][i] = cmd;
  } else if (cmd == 3) {
    usleep(50000);
    atomic_store(&slow_done, 1);
  } else if (cmd == 4 && len < sizeof seen_data) {
    memcpy(seen_data, buf, len);
  }
  atomic_fetch_sub(&inside, 1);
  return 0;
}

static ErlDrvEntry t_entry = {
    .start = t_start,
    .stop = t_stop,
    .driver_name = "conc_t",
    .control = t_control,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = ERL_DRV_FLAG_USE_PORT_LOCKING,
};
static ErlDrvEntry *t_init_locking(void) { return &t_entry; }
static ErlDrvEntry *t_init_plain(void) {
  t_entry.driver_flags = 0;
  return &t_entry;
}

static void open_slots(dc__runner *r, int n) {
  main_thread = pthread_self();
  dc__runner_init(r);
  for (int i = 0; i < n; i++) {
    dc__op op = dc__op_make(DC__OP_OPEN);
    op.slot = i;
    DC_ASSERT_EQ(dc__conc_exec(r, &op), 0);
    DC_ASSERT(r->slots[i] != NULL);
  }
}

static int control(dc__runner *r, int slot, unsigned cmd, const void *data,
                   size_t len) {
  dc__op op = dc__op_make(DC__OP_CONTROL);
  op.slot = slot;
  op.cmd = cmd;
  op.data = data;
  op.len = len;
  return dc__conc_exec(r, &op);
}

/* ---- tests -----------------------------------------------------------------
 */

DC_TEST(port_locking_runs_two_ports_at_the_same_time) {
  dc__runner r;
  dc_test_load_static(t_init_locking);
  DC_ASSERT(dc__g.port_locking);
  open_slots(&r, 2);
  DC_ASSERT_EQ(control(&r, 0, 1, NULL, 0), 0);
  DC_ASSERT_EQ(control(&r, 1, 1, NULL, 0), 0);
  dc__conc_barrier();
  DC_ASSERT_EQ(atomic_load(&max_inside), 2);
  dc__conc_stop();
}

DC_TEST(slot_operations_run_on_emulator_worker_threads) {
  dc__runner r;
  dc_test_load_static(t_init_locking);
  open_slots(&r, 1);
  for (int i = 0; i < 10; i++)
    control(&r, 0, 2, NULL, 0);
  dc__conc_barrier();
  DC_ASSERT_EQ(atomic_load(&on_main), 0);
  DC_ASSERT_EQ(atomic_load(&not_emu), 0);
  DC_ASSERT_EQ(dc__g.cb_count[DC__CB_CONTROL], 10);
  dc__conc_stop();
}

/* Callbacks of one port never overlap and keep their order (FIFO per slot),
 * while three ports' sequences interleave freely. */
DC_TEST(one_ports_callbacks_stay_serialized_and_in_order) {
  dc__runner r;
  dc_test_load_static(t_init_locking);
  open_slots(&r, 3);
  for (unsigned i = 0; i < 200; i++)
    for (int s = 0; s < 3; s++)
      control(&r, s, 100 + i, NULL, 0);
  dc__conc_barrier();
  for (int s = 0; s < 3; s++) {
    DC_ASSERT_EQ(atomic_load(&nrec[s]), 200);
    for (unsigned i = 0; i < NREC && i < 200; i++)
      DC_ASSERT_EQ(rec[s][i], 100 + i);
  }
  DC_ASSERT(atomic_load(&max_inside) <= 3);
  dc__conc_stop();
}

/* close is a barrier: the slow control queued before it has finished when
 * stop runs. */
DC_TEST(global_operations_wait_for_queued_slot_operations) {
  dc__runner r;
  dc_test_load_static(t_init_locking);
  open_slots(&r, 1);
  control(&r, 0, 3, NULL, 0);
  dc__op close = dc__op_make(DC__OP_CLOSE);
  close.slot = 0;
  DC_ASSERT_EQ(dc__conc_exec(&r, &close), 0);
  DC_ASSERT_EQ(stop_saw_slow, 1);
  dc__conc_stop();
}

/* A source may reuse its payload buffer for the next operation at once. */
DC_TEST(payload_is_copied_at_dispatch) {
  dc__runner r;
  char buf[8] = "abcdefg";
  dc_test_load_static(t_init_locking);
  open_slots(&r, 1);
  control(&r, 0, 3, NULL, 0); /* keeps the worker busy for 50 ms */
  control(&r, 0, 4, buf, 7);
  memset(buf, 'X', sizeof buf);
  dc__conc_barrier();
  DC_ASSERT_STREQ(seen_data, "abcdefg");
  dc__conc_stop();
}

/* Driver-level locking: the calling thread runs everything, in order. */
DC_TEST(without_port_locking_everything_runs_on_the_caller) {
  dc__runner r;
  dc_test_load_static(t_init_plain);
  DC_ASSERT(!dc__g.port_locking);
  open_slots(&r, 2);
  control(&r, 0, 3, NULL, 0);
  DC_ASSERT_EQ(atomic_load(&slow_done), 1); /* done before the call returned */
  control(&r, 0, 1, NULL, 0);
  control(&r, 1, 1, NULL, 0);
  DC_ASSERT_EQ(atomic_load(&max_inside), 1);
  DC_ASSERT_EQ(atomic_load(&on_main), 1);
  dc__conc_stop();
}

/* The workers can be stopped and started again (one run after another). */
DC_TEST(stop_then_reuse) {
  dc__runner r;
  dc_test_load_static(t_init_locking);
  open_slots(&r, 2);
  for (unsigned i = 0; i < 50; i++)
    control(&r, (int)(i & 1), 2, NULL, 0);
  dc__conc_stop();
  DC_ASSERT_EQ(dc__g.cb_count[DC__CB_CONTROL], 50);
  for (unsigned i = 0; i < 50; i++)
    control(&r, (int)(i & 1), 2, NULL, 0);
  dc__conc_barrier();
  DC_ASSERT_EQ(dc__g.cb_count[DC__CB_CONTROL], 100);
  dc__conc_stop();
}

/* ---- locking_drv: shared state under an erl_drv mutex -------------------- */

static unsigned long long u64_at(const unsigned char *p) {
  unsigned long long v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | p[i];
  return v;
}

/* Decodes the last control reply (a list of bytes: a string in ETF). */
static int last_reply(unsigned char *out, size_t cap) {
  const dc__event *ev, *last = NULL;
  for (ev = dc__trace_first(); ev; ev = ev->next)
    if (ev->kind == DC__EV_CONTROL_REPLY)
      last = ev;
  if (!last)
    return -1;
  int idx = 0, ver, type, size;
  if (ei_decode_version(last->etf, &idx, &ver) ||
      ei_get_type(last->etf, &idx, &type, &size) || (size_t)size > cap)
    return -1;
  return ei_decode_string(last->etf, &idx, (char *)out) == 0 ? size : -1;
}

DC_TEST(locking_drv_counts_every_command_of_four_concurrent_ports) {
  dc__runner r;
  unsigned char rep[64];
  static const unsigned char payload[5] = "hello";
  dc_test_load("locking_drv");
  DC_ASSERT(dc__g.port_locking);
  open_slots(&r, 4);
  for (int i = 0; i < 400; i++) {
    dc__op op = dc__op_make(DC__OP_COMMAND);
    op.slot = i % 4;
    op.data = payload;
    op.len = sizeof payload;
    DC_ASSERT_EQ(dc__conc_exec(&r, &op), 0);
  }
  dc__conc_barrier();
  DC_ASSERT_EQ(dc__g.cb_count[DC__CB_OUTPUTV] + dc__g.cb_count[DC__CB_OUTPUT],
               400);
  control(&r, 2, 1, NULL, 0);
  dc__conc_barrier();
  DC_ASSERT_EQ(last_reply(rep, sizeof rep), 24);
  DC_ASSERT_EQ(u64_at(rep), 4);
  DC_ASSERT_EQ(u64_at(rep + 8), 400);
  DC_ASSERT_EQ(u64_at(rep + 16), 2000);
  size_t nf;
  dc__findings(&nf);
  DC_ASSERT_EQ(nf, 0);
  dc__conc_stop();
}

/* ---- race check: every per-port API area from four ports at once --------- */
/* Run under TSan (clang -fsanitize=thread) this exercises the core paths two
 * ports share: trace, timers, select, async, monitors, queue, binaries. */

typedef struct {
  ErlDrvPort port;
  int fds[2];
  unsigned long n;
  ErlDrvMonitor mon;
  int monitored;
} k_state;

static ErlDrvData k_start(ErlDrvPort port, char *cmd) {
  (void)cmd;
  k_state *st = driver_alloc(sizeof *st);
  memset(st, 0, sizeof *st);
  st->port = port;
  if (pipe2(st->fds, O_NONBLOCK) != 0)
    return ERL_DRV_ERROR_GENERAL;
  driver_select(port, (ErlDrvEvent)(intptr_t)st->fds[0], ERL_DRV_READ, 1);
  return (ErlDrvData)st;
}

static void k_stop(ErlDrvData d) {
  k_state *st = (k_state *)d;
  driver_select(st->port, (ErlDrvEvent)(intptr_t)st->fds[0], ERL_DRV_READ, 0);
  close(st->fds[0]);
  close(st->fds[1]);
  driver_free(st);
}

static void k_invoke(void *arg) { (*(unsigned long *)arg)++; }
static void k_free(void *arg) { driver_free(arg); }

static void k_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  k_state *st = (k_state *)d;
  st->n++;
  driver_output(st->port, buf, len);
  driver_enq(st->port, buf, len);
  driver_deq(st->port, driver_sizeq(st->port));
  driver_set_timer(st->port, st->n % 3);
  unsigned long *job = driver_alloc(sizeof *job);
  *job = st->n;
  unsigned int key = 0;
  driver_async(st->port, &key, k_invoke, job, k_free);
  if (!st->monitored &&
      driver_monitor_process(st->port, driver_caller(st->port), &st->mon) == 0)
    st->monitored = 1;
  ErlDrvBinary *b = driver_alloc_binary(len);
  if (len)
    memcpy(b->orig_bytes, buf, len);
  driver_output_binary(st->port, NULL, 0, b, 0, (ErlDrvSizeT)len);
  driver_free_binary(b);
  if (write(st->fds[1], "x", 1) != 1)
    driver_failure_atom(st->port, "write");
  ErlDrvTermData spec[] = {ERL_DRV_PORT,  driver_mk_port(st->port),
                           ERL_DRV_INT,   (ErlDrvTermData)st->n,
                           ERL_DRV_TUPLE, 2};
  erl_drv_output_term(driver_mk_port(st->port), spec, 6);
}

static void k_ready_input(ErlDrvData d, ErlDrvEvent ev) {
  k_state *st = (k_state *)d;
  char buf[64];
  while (read((int)(intptr_t)ev, buf, sizeof buf) == (ssize_t)sizeof buf)
    ;
  driver_output(st->port, "in", 2);
}

static void k_timeout(ErlDrvData d) {
  k_state *st = (k_state *)d;
  driver_output(st->port, "t", 1);
}

static void k_ready_async(ErlDrvData d, ErlDrvThreadData t) {
  k_state *st = (k_state *)d;
  driver_output(st->port, "a", 1);
  driver_free(t);
}

static void k_process_exit(ErlDrvData d, ErlDrvMonitor *m) {
  k_state *st = (k_state *)d;
  (void)m;
  st->monitored = 0;
}

static ErlDrvEntry k_entry = {
    .start = k_start,
    .stop = k_stop,
    .output = k_output,
    .ready_input = k_ready_input,
    .driver_name = "conc_k",
    .timeout = k_timeout,
    .ready_async = k_ready_async,
    .process_exit = k_process_exit,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = ERL_DRV_FLAG_USE_PORT_LOCKING,
};
static ErlDrvEntry *k_init(void) { return &k_entry; }

DC_TEST_T(four_ports_using_every_area_at_once, 120) {
  dc__runner r;
  static const unsigned char payload[16] = "0123456789abcdef";
  dc_test_load_static(k_init);
  dc__rule_set_enabled(DC_RULE_CB_LENGTHY, 0); /* TSan slows callbacks */
  open_slots(&r, 4);
  for (int round = 0; round < 20; round++) {
    for (int i = 0; i < 40; i++) {
      dc__op op = dc__op_make(DC__OP_COMMAND);
      op.slot = i % 4;
      op.data = payload;
      op.len = 1 + (size_t)(i % 16);
      dc__conc_exec(&r, &op);
    }
    dc__op adv = dc__op_make(DC__OP_ADVANCE);
    adv.ms = 2;
    dc__conc_exec(&r, &adv);
    dc__op g = dc__op_make(round % 2 ? DC__OP_POLL : DC__OP_ASYNC);
    dc__conc_exec(&r, &g);
  }
  dc__op settle = dc__op_make(DC__OP_SETTLE);
  dc__conc_exec(&r, &settle);
  for (int s = 0; s < 4; s++) {
    dc__op c = dc__op_make(DC__OP_CLOSE);
    c.slot = s;
    DC_ASSERT_EQ(dc__conc_exec(&r, &c), 0);
  }
  dc__conc_stop();
  DC_ASSERT_EQ(dc__g.cb_count[DC__CB_OUTPUT], 800);
  DC_ASSERT(dc__g.cb_count[DC__CB_READY_ASYNC] > 0);
  DC_ASSERT(dc__g.cb_count[DC__CB_TIMEOUT] > 0);
  size_t nf;
  const dc__finding *f = dc__findings(&nf);
  if (nf)
    DC_FAIL("unexpected finding %s: %s", dc__rule_id(f[0].rule), f[0].message);
}

/* The generator reads the state model (busy, queue, timers, selected fds)
 * between dispatches, while workers run other ports' callbacks. */
DC_TEST_T(generated_sequences_on_a_port_locking_driver, 300) {
  static dc__source src;
  for (uint64_t seed = 1; seed <= 30; seed++) {
    dc__runner r;
    dc__op op;
    dc_test_load_static(k_init);
    /* CPU time per callback is not this test's business (TSan slows every
     * callback down by 10x). */
    dc__rule_set_enabled(DC_RULE_CB_LENGTHY, 0);
    dc__source_gen(&src, seed, (1u << DC__STIM_COUNT) - 1, 400);
    dc__runner_init(&r);
    while (dc__source_next(&src, &r, &op)) {
      if (op.kind == DC__OP_UNLOAD)
        dc__conc_stop();
      dc__conc_exec(&r, &op);
    }
    dc__conc_stop();
    size_t nf;
    const dc__finding *f = dc__findings(&nf);
    if (nf)
      DC_FAIL("seed %llu: %s: %s", (unsigned long long)seed,
              dc__rule_id(f[0].rule), f[0].message);
  }
}
