/* thread.lock_order (lockdep) and thread.lock_held_on_return. */
#include <string.h>

#include "support.h"

static void reset(void) {
  dc__emu_reset(1);
  dc__findings_reset();
}

static ErlDrvMutex *A, *B, *C;

/* Takes x then y (and releases both) on a driver thread. */
typedef struct pair {
  ErlDrvMutex *x, *y;
} pair;

static void *take_pair(void *arg) {
  pair *p = arg;
  erl_drv_mutex_lock(p->x);
  erl_drv_mutex_lock(p->y);
  erl_drv_mutex_unlock(p->y);
  erl_drv_mutex_unlock(p->x);
  return NULL;
}

/* Runs take_pair on a fresh driver thread and joins it, so the two orders
 * never overlap in time: no deadlock can happen in this run. */
static void on_thread(ErlDrvMutex *x, ErlDrvMutex *y) {
  pair p = {x, y};
  ErlDrvTid t;
  if (erl_drv_thread_create("ld", &t, take_pair, &p, NULL) != 0)
    DC_FAIL("thread create");
  erl_drv_thread_join(t, NULL);
}

static void make_locks(void) {
  A = erl_drv_mutex_create("lock_a");
  B = erl_drv_mutex_create("lock_b");
  C = erl_drv_mutex_create("lock_c");
}

DC_TEST(ab_ba_on_two_threads_is_one_report) {
  reset();
  make_locks();
  on_thread(A, B);
  on_thread(B, A);
  on_thread(B, A); /* again: known edge, no new report */
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_LOCK_ORDER), 1);
  size_t n = 0;
  const dc__finding *f = dc__findings(&n);
  DC_ASSERT(strstr(f[0].message, "lock_a") && strstr(f[0].message, "lock_b"));
  DC_ASSERT_EQ(f[0].count, 1);
}

DC_TEST(consistent_order_is_clean) {
  reset();
  make_locks();
  on_thread(A, B);
  on_thread(A, B);
  on_thread(B, C);
  on_thread(A, C);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_LOCK_ORDER), 0);
}

DC_TEST(three_lock_cycle_is_reported) {
  reset();
  make_locks();
  on_thread(A, B);
  on_thread(B, C);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_LOCK_ORDER), 0);
  on_thread(C, A); /* closes A -> B -> C -> A */
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_LOCK_ORDER), 1);
  size_t n = 0;
  const dc__finding *f = dc__findings(&n);
  DC_ASSERT(strstr(f[0].message, "lock_c") != NULL);
}

/* A destroyed lock's address may be reused by an unrelated lock: the old
 * edges must not produce an inversion. */
DC_TEST(destroyed_lock_forgets_its_order) {
  reset();
  make_locks();
  on_thread(A, B);
  erl_drv_mutex_destroy(B);
  ErlDrvMutex *b2 = erl_drv_mutex_create("lock_b2");
  on_thread(b2, A);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_LOCK_ORDER), 0);
}

DC_TEST(trylock_adds_no_order) {
  reset();
  make_locks();
  on_thread(A, B);
  erl_drv_mutex_lock(B);
  DC_ASSERT_EQ(erl_drv_mutex_trylock(A), 0); /* cannot deadlock */
  erl_drv_mutex_unlock(A);
  erl_drv_mutex_unlock(B);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_LOCK_ORDER), 0);
}

DC_TEST(read_lock_inversion_with_writer_is_reported) {
  reset();
  ErlDrvRWLock *r = erl_drv_rwlock_create("rw");
  ErlDrvMutex *m = erl_drv_mutex_create("m");
  erl_drv_rwlock_rlock(r);
  erl_drv_mutex_lock(m); /* r(read) -> m */
  erl_drv_mutex_unlock(m);
  erl_drv_rwlock_runlock(r);
  erl_drv_mutex_lock(m);
  erl_drv_rwlock_rlock(r); /* m -> r(read): readers share, no edge */
  erl_drv_rwlock_runlock(r);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_LOCK_ORDER), 0);
  erl_drv_rwlock_rwlock(r); /* m -> r(write): deadlocks with the first */
  erl_drv_rwlock_rwunlock(r);
  erl_drv_mutex_unlock(m);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_LOCK_ORDER), 1);
}

/* ---- thread.lock_held_on_return, on a static driver ---------------- */

static ErlDrvMutex *g_mu;
static int g_bad;

static ErlDrvData hstart(ErlDrvPort port, char *cmd) {
  (void)cmd;
  g_mu = erl_drv_mutex_create("state");
  return (ErlDrvData)port;
}

static void hstop(ErlDrvData d) {
  (void)d;
  erl_drv_mutex_destroy(g_mu);
}

ErlDrvSSizeT rul_held_control(ErlDrvData d, unsigned int cmd, char *buf,
                              ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  (void)d, (void)buf, (void)len, (void)rbuf, (void)rlen;
  if (cmd == 1) {
    erl_drv_mutex_lock(g_mu);
    if (!g_bad) /* the defect: an early return path forgets the unlock */
      erl_drv_mutex_unlock(g_mu);
  } else if (cmd == 2) {
    erl_drv_mutex_unlock(g_mu);
  }
  return 0;
}

static ErlDrvEntry hentry = {
    .driver_name = "rul_held",
    .start = hstart,
    .stop = hstop,
    .control = rul_held_control,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

static ErlDrvEntry *hinit(void) { return &hentry; }

static void run_held(int bad) {
  g_bad = bad;
  dc_test_load_static(hinit);
  dc__open_result r = dc__port_open("rul_held", 0, dc__proc_spawn("o"));
  DC_ASSERT(r.port != NULL);
  dc__port_control(r.port, r.port->owner, 1, "", 0);
  if (bad)
    dc__port_control(r.port, r.port->owner, 2, "", 0);
  dc__port_control(r.port, r.port->owner, 1, "", 0);
  if (bad)
    dc__port_control(r.port, r.port->owner, 2, "", 0);
  dc__port_exit(r.port, "normal", 0);
  dc__unload_driver();
}

DC_TEST(callback_returning_with_lock_held_is_reported_once) {
  run_held(1);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_LOCK_HELD_ON_RETURN), 1);
  size_t n = 0;
  const dc__finding *f = dc__findings(&n);
  for (size_t i = 0; i < n; i++)
    if (f[i].rule == DC_RULE_THREAD_LOCK_HELD_ON_RETURN) {
      DC_ASSERT_STREQ(f[i].callback, "control");
      DC_ASSERT(strstr(f[i].message, "state") != NULL);
      DC_ASSERT(strstr(f[i].location, "rul_held_control") != NULL);
    }
}

DC_TEST(callback_unlocking_before_return_is_clean) {
  run_held(0);
  size_t n = 0;
  dc__findings(&n);
  DC_ASSERT_EQ(n, 0);
}
