/* Driver threads and sync primitives (erl_drv_thread.c semantics) and the
 * ownership checks thread.c reports. Tests reset only the thread area and
 * the findings, so they do not depend on the rest of the emulator. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

/* Occurrences of rule, counting merged repeats. */
static unsigned occurrences(dc_rule rule) {
  size_t n;
  const dc__finding *f = dc__findings(&n);
  unsigned c = 0;
  for (size_t i = 0; i < n; i++)
    c += f[i].rule == rule ? f[i].count : 0;
  return c;
}

static void reset(void) {
  dc__thread_reset();
  dc__findings_reset();
  dc__tls.kind = DC__THR_EMU;
}

/* ---- mutex -------------------------------------------------------------- */

#define N_THR 4
#define N_ITER 20000

static ErlDrvMutex *g_mtx;
static long g_counter;

static void *bump(void *arg) {
  (void)arg;
  for (int i = 0; i < N_ITER; i++) {
    erl_drv_mutex_lock(g_mtx);
    long v = g_counter; /* a non-atomic read-modify-write: needs the lock */
    sched_yield();
    g_counter = v + 1;
    erl_drv_mutex_unlock(g_mtx);
  }
  return NULL;
}

DC_TEST(mutex_excludes_threads) {
  reset();
  g_mtx = erl_drv_mutex_create("t.mtx");
  DC_ASSERT(g_mtx);
  ErlDrvTid t[N_THR];
  for (int i = 0; i < N_THR; i++)
    DC_ASSERT_EQ(erl_drv_thread_create("bump", &t[i], bump, NULL, NULL), 0);
  for (int i = 0; i < N_THR; i++)
    DC_ASSERT_EQ(erl_drv_thread_join(t[i], NULL), 0);
  DC_ASSERT_EQ(g_counter, (long)N_THR * N_ITER);
  erl_drv_mutex_destroy(g_mtx);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_RELOCK), 0);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_UNLOCK_NOT_OWNER), 0);
}

static void *try_other(void *arg) {
  return (void *)(intptr_t)erl_drv_mutex_trylock((ErlDrvMutex *)arg);
}

DC_TEST(mutex_trylock_busy) {
  reset();
  ErlDrvMutex *m = erl_drv_mutex_create("t.try");
  DC_ASSERT_EQ(erl_drv_mutex_trylock(m), 0);
  /* held: another thread gets EBUSY; so does the holder [OTP25 run] */
  ErlDrvTid t;
  void *res = NULL;
  DC_ASSERT_EQ(erl_drv_thread_create("try", &t, try_other, m, NULL), 0);
  DC_ASSERT_EQ(erl_drv_thread_join(t, &res), 0);
  DC_ASSERT_EQ((intptr_t)res, EBUSY);
  DC_ASSERT_EQ(erl_drv_mutex_trylock(m), EBUSY);
  erl_drv_mutex_unlock(m);
  DC_ASSERT_EQ(erl_drv_mutex_trylock(m), 0);
  erl_drv_mutex_unlock(m);
  erl_drv_mutex_destroy(m);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_UNLOCK_NOT_OWNER), 0);
}

DC_TEST(names_copied_and_unknown) {
  reset();
  char buf[16] = "drv.lock";
  ErlDrvMutex *m = erl_drv_mutex_create(buf);
  ErlDrvCond *c = erl_drv_cond_create(buf);
  ErlDrvRWLock *l = erl_drv_rwlock_create(buf);
  strcpy(buf, "changed");
  DC_ASSERT_STREQ(erl_drv_mutex_name(m), "drv.lock");
  DC_ASSERT_STREQ(erl_drv_cond_name(c), "drv.lock");
  DC_ASSERT_STREQ(erl_drv_rwlock_name(l), "drv.lock");
  ErlDrvMutex *m2 = erl_drv_mutex_create(NULL);
  DC_ASSERT_STREQ(erl_drv_mutex_name(m2), "unknown");
  DC_ASSERT(erl_drv_mutex_name(NULL) == NULL);
  DC_ASSERT(erl_drv_cond_name(NULL) == NULL);
  DC_ASSERT(erl_drv_rwlock_name(NULL) == NULL);
  DC_ASSERT(erl_drv_thread_name(NULL) == NULL);
  /* the calling (non-driver) thread is "unknown" [OTP25 run] */
  DC_ASSERT_STREQ(erl_drv_thread_name(erl_drv_thread_self()), "unknown");
  erl_drv_mutex_destroy(m);
  erl_drv_mutex_destroy(m2);
  erl_drv_cond_destroy(c);
  erl_drv_rwlock_destroy(l);
}

/* ---- cond --------------------------------------------------------------- */

static ErlDrvMutex *c_mtx;
static ErlDrvCond *c_cnd;
static int c_go, c_woken, c_waiting;

static void *waiter(void *arg) {
  (void)arg;
  erl_drv_mutex_lock(c_mtx);
  c_waiting++;
  erl_drv_cond_broadcast(c_cnd); /* tell the main thread */
  while (!c_go)
    erl_drv_cond_wait(c_cnd, c_mtx);
  c_go--; /* consume one wakeup token */
  c_woken++;
  erl_drv_mutex_unlock(c_mtx);
  return NULL;
}

static void start_waiters(ErlDrvTid *t, int n) {
  c_mtx = erl_drv_mutex_create("c.mtx");
  c_cnd = erl_drv_cond_create("c.cnd");
  c_go = c_woken = c_waiting = 0;
  for (int i = 0; i < n; i++)
    DC_ASSERT_EQ(erl_drv_thread_create("w", &t[i], waiter, NULL, NULL), 0);
  erl_drv_mutex_lock(c_mtx);
  while (c_waiting < n)
    erl_drv_cond_wait(c_cnd, c_mtx);
  erl_drv_mutex_unlock(c_mtx);
}

DC_TEST(cond_signal_wakes_one) {
  reset();
  ErlDrvTid t[3];
  start_waiters(t, 3);
  erl_drv_mutex_lock(c_mtx);
  c_go = 1;
  erl_drv_cond_signal(c_cnd);
  erl_drv_mutex_unlock(c_mtx);
  /* wait until the one token is consumed; nobody else can pass */
  for (int i = 0; i < 2000; i++) {
    erl_drv_mutex_lock(c_mtx);
    int w = c_woken;
    erl_drv_mutex_unlock(c_mtx);
    if (w)
      break;
    usleep(1000);
  }
  usleep(20000);
  erl_drv_mutex_lock(c_mtx);
  DC_ASSERT_EQ(c_woken, 1);
  c_go = 2;
  erl_drv_cond_broadcast(c_cnd);
  erl_drv_mutex_unlock(c_mtx);
  for (int i = 0; i < 3; i++)
    DC_ASSERT_EQ(erl_drv_thread_join(t[i], NULL), 0);
  DC_ASSERT_EQ(c_woken, 3);
  erl_drv_cond_destroy(c_cnd);
  erl_drv_mutex_destroy(c_mtx);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_DESTROY_BUSY), 0);
}

DC_TEST(cond_broadcast_wakes_all) {
  reset();
  ErlDrvTid t[4];
  start_waiters(t, 4);
  erl_drv_mutex_lock(c_mtx);
  c_go = 4;
  erl_drv_cond_broadcast(c_cnd);
  erl_drv_mutex_unlock(c_mtx);
  for (int i = 0; i < 4; i++)
    DC_ASSERT_EQ(erl_drv_thread_join(t[i], NULL), 0);
  DC_ASSERT_EQ(c_woken, 4);
}

/* ---- rwlock ------------------------------------------------------------- */

static ErlDrvRWLock *rw;
static _Atomic int inside, max_inside;

static void *reader(void *arg) {
  (void)arg;
  erl_drv_rwlock_rlock(rw);
  int n = atomic_fetch_add(&inside, 1) + 1;
  int m = atomic_load(&max_inside);
  while (n > m && !atomic_compare_exchange_weak(&max_inside, &m, n))
    ;
  /* stay inside until all readers have entered (or give up after 2 s) */
  for (int i = 0; i < 2000 && atomic_load(&max_inside) < 3; i++)
    usleep(1000);
  atomic_fetch_sub(&inside, 1);
  erl_drv_rwlock_runlock(rw);
  return NULL;
}

DC_TEST(rwlock_readers_share) {
  reset();
  rw = erl_drv_rwlock_create("rw");
  ErlDrvTid t[3];
  for (int i = 0; i < 3; i++)
    DC_ASSERT_EQ(erl_drv_thread_create("r", &t[i], reader, NULL, NULL), 0);
  for (int i = 0; i < 3; i++)
    DC_ASSERT_EQ(erl_drv_thread_join(t[i], NULL), 0);
  DC_ASSERT_EQ(atomic_load(&max_inside), 3);
  erl_drv_rwlock_destroy(rw);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_UNLOCK_NOT_OWNER), 0);
}

static void *try_read(void *arg) {
  (void)arg;
  int r = erl_drv_rwlock_tryrlock(rw);
  if (r == 0)
    erl_drv_rwlock_runlock(rw);
  return (void *)(intptr_t)r;
}

static void *try_write(void *arg) {
  (void)arg;
  int r = erl_drv_rwlock_tryrwlock(rw);
  if (r == 0)
    erl_drv_rwlock_rwunlock(rw);
  return (void *)(intptr_t)r;
}

static intptr_t run_try(void *(*fn)(void *)) {
  ErlDrvTid t;
  void *res = NULL;
  DC_ASSERT_EQ(erl_drv_thread_create("try", &t, fn, NULL, NULL), 0);
  DC_ASSERT_EQ(erl_drv_thread_join(t, &res), 0);
  return (intptr_t)res;
}

DC_TEST(rwlock_writer_exclusive) {
  reset();
  rw = erl_drv_rwlock_create("rw");
  erl_drv_rwlock_rwlock(rw);
  DC_ASSERT_EQ(run_try(try_read), EBUSY);
  DC_ASSERT_EQ(run_try(try_write), EBUSY);
  erl_drv_rwlock_rwunlock(rw);
  erl_drv_rwlock_rlock(rw);
  DC_ASSERT_EQ(run_try(try_read), 0); /* readers share */
  DC_ASSERT_EQ(run_try(try_write), EBUSY);
  erl_drv_rwlock_runlock(rw);
  DC_ASSERT_EQ(run_try(try_write), 0);
  DC_ASSERT_EQ(erl_drv_rwlock_tryrwlock(rw), 0);
  erl_drv_rwlock_rwunlock(rw);
  erl_drv_rwlock_destroy(rw);
  size_t n;
  dc__findings(&n);
  DC_ASSERT_EQ(n, 0);
}

/* ---- TSD ---------------------------------------------------------------- */

static ErlDrvTSDKey g_key;

static void *tsd_thread(void *arg) {
  void *before = erl_drv_tsd_get(g_key);
  erl_drv_tsd_set(g_key, arg);
  void *after = erl_drv_tsd_get(g_key);
  erl_drv_tsd_set(g_key, NULL);
  return before == NULL && after == arg ? arg : NULL;
}

DC_TEST(tsd_values_per_thread) {
  reset();
  DC_ASSERT_EQ(erl_drv_tsd_key_create("k", &g_key), 0);
  int mine, theirs;
  erl_drv_tsd_set(g_key, &mine);
  ErlDrvTid t;
  void *res = NULL;
  DC_ASSERT_EQ(erl_drv_thread_create("tsd", &t, tsd_thread, &theirs, NULL), 0);
  DC_ASSERT_EQ(erl_drv_thread_join(t, &res), 0);
  DC_ASSERT(res == &theirs);
  DC_ASSERT(erl_drv_tsd_get(g_key) == &mine);
  erl_drv_tsd_set(g_key, NULL);
  erl_drv_tsd_key_destroy(g_key);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_DESTROY_BUSY), 0);
}

DC_TEST(tsd_keys_small_and_reused) {
  reset();
  ErlDrvTSDKey a, b, c;
  DC_ASSERT_EQ(erl_drv_tsd_key_create("a", &a), 0);
  DC_ASSERT_EQ(erl_drv_tsd_key_create(NULL, &b), 0);
  /* OTP 25: first driver key 1, then 2; a destroyed key comes back at
   * once (lowest free) [OTP25 run: keys 1 2 1] */
  DC_ASSERT_EQ(a, 1);
  DC_ASSERT_EQ(b, 2);
  erl_drv_tsd_key_destroy(a);
  DC_ASSERT_EQ(erl_drv_tsd_key_create("c", &c), 0);
  DC_ASSERT_EQ(c, a);
  int lc;
  dc__thread_live_counts(NULL, &lc);
  DC_ASSERT_EQ(lc, 2);
  erl_drv_tsd_key_destroy(b);
  erl_drv_tsd_key_destroy(c);
  dc__thread_live_counts(NULL, &lc);
  DC_ASSERT_EQ(lc, 0);
}

static void tsd_get_unknown(void) { erl_drv_tsd_get(7); }
static void tsd_destroy_twice(void) {
  ErlDrvTSDKey k;
  erl_drv_tsd_key_create("k", &k);
  erl_drv_tsd_key_destroy(k);
  erl_drv_tsd_key_destroy(k);
}

DC_TEST(tsd_unknown_key_aborts) {
  reset();
  dc_test_expect_abort(tsd_get_unknown);
  dc_test_expect_abort(tsd_destroy_twice);
}

DC_TEST(tsd_destroy_with_value_reported) {
  reset();
  ErlDrvTSDKey k;
  int x;
  DC_ASSERT_EQ(erl_drv_tsd_key_create("busy", &k), 0);
  erl_drv_tsd_set(k, &x);
  erl_drv_tsd_key_destroy(k);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_DESTROY_BUSY), 1);
}

/* ---- threads ------------------------------------------------------------ */

static void *ret_arg(void *arg) {
  /* created threads run as driver threads */
  return dc__tls.kind == DC__THR_DRIVER ? arg : NULL;
}

static void *exit_early(void *arg) {
  erl_drv_thread_exit((char *)arg + 1);
  return NULL; /* not reached */
}

DC_TEST(thread_join_returns_value) {
  reset();
  static char data[4];
  ErlDrvTid t;
  void *res = NULL;
  DC_ASSERT_EQ(erl_drv_thread_create("ret", &t, ret_arg, data, NULL), 0);
  DC_ASSERT_STREQ(erl_drv_thread_name(t), "ret");
  DC_ASSERT_EQ(erl_drv_thread_join(t, &res), 0);
  DC_ASSERT(res == data);
  DC_ASSERT_EQ(erl_drv_thread_create("exit", &t, exit_early, data, NULL), 0);
  DC_ASSERT_EQ(erl_drv_thread_join(t, &res), 0);
  DC_ASSERT(res == data + 1);
  /* respp may be NULL */
  DC_ASSERT_EQ(erl_drv_thread_create(NULL, &t, ret_arg, data, NULL), 0);
  DC_ASSERT_STREQ(erl_drv_thread_name(t), "unknown");
  DC_ASSERT_EQ(erl_drv_thread_join(t, NULL), 0);
}

/* The stack size the thread really got. */
static void *stack_size_of_self(void *arg) {
  (void)arg;
  pthread_attr_t a;
  size_t sz = 0;
  if (pthread_getattr_np(pthread_self(), &a) == 0) {
    pthread_attr_getstacksize(&a, &sz);
    pthread_attr_destroy(&a);
  }
  return (void *)sz;
}

static size_t stack_for(ErlDrvThreadOpts *o) {
  ErlDrvTid t;
  void *res = NULL;
  DC_ASSERT_EQ(erl_drv_thread_create("stk", &t, stack_size_of_self, NULL, o),
               0);
  DC_ASSERT_EQ(erl_drv_thread_join(t, &res), 0);
  return (size_t)res;
}

DC_TEST(thread_opts_stack_size) {
  reset();
  ErlDrvThreadOpts *o = erl_drv_thread_opts_create("opts");
  DC_ASSERT(o);
  DC_ASSERT_EQ(o->suggested_stack_size, -1);
  size_t dflt = stack_for(o);
  /* kilowords: 100 KW = 800 KB on 64-bit, plus a page (ethread) */
  o->suggested_stack_size = 100;
  size_t want = 100 * 1024 * sizeof(void *);
  size_t got = stack_for(o);
  DC_ASSERT(got >= want && got <= want + 64 * 1024);
  DC_ASSERT(got != dflt);
  o->suggested_stack_size = 300;
  DC_ASSERT(stack_for(o) >= 300 * 1024 * sizeof(void *));
  erl_drv_thread_opts_destroy(o);
}

static void *self_tid(void *arg) {
  ErlDrvTid *created = arg;
  ErlDrvTid me = erl_drv_thread_self();
  return erl_drv_equal_tids(me, erl_drv_thread_self()) ? (void *)me : created;
}

DC_TEST(thread_self_and_equal_tids) {
  reset();
  ErlDrvTid t, main1 = erl_drv_thread_self(), main2 = erl_drv_thread_self();
  DC_ASSERT(erl_drv_equal_tids(main1, main2));
  void *res = NULL;
  DC_ASSERT_EQ(erl_drv_thread_create("self", &t, self_tid, NULL, NULL), 0);
  ErlDrvTid created = t;
  DC_ASSERT(!erl_drv_equal_tids(main1, created));
  DC_ASSERT_EQ(erl_drv_thread_join(t, &res), 0);
  DC_ASSERT(res == (void *)created); /* self() in the thread == *tid */
}

static void *foreign_self(void *arg) {
  ErlDrvTid *out = arg;
  *out = erl_drv_thread_self();
  return NULL;
}

DC_TEST(join_foreign_tid_einval) {
  reset();
  /* the calling thread's own tid and a plain pthread's tid were not made by
   * erl_drv_thread_create: EINVAL [OTP25 run: join(self) = 22] */
  DC_ASSERT_EQ(erl_drv_thread_join(erl_drv_thread_self(), NULL), EINVAL);
  pthread_t p;
  ErlDrvTid foreign = NULL;
  DC_ASSERT_EQ(pthread_create(&p, NULL, foreign_self, &foreign), 0);
  pthread_join(p, NULL); /* its tid record is freed at its exit */
  DC_ASSERT(foreign != NULL);
  DC_ASSERT_EQ(erl_drv_thread_join(foreign, NULL), EINVAL);
  /* joining twice is reported, not a crash */
  ErlDrvTid t;
  DC_ASSERT_EQ(erl_drv_thread_create("once", &t, ret_arg, NULL, NULL), 0);
  DC_ASSERT_EQ(erl_drv_thread_join(t, NULL), 0);
  DC_ASSERT_EQ(erl_drv_thread_join(t, NULL), EINVAL);
  DC_ASSERT_EQ(occurrences(DC_RULE_THREAD_BAD_JOIN), 3);
}

/* Waits until *arg (an int) is set: a thread that lives until told. */
static void *wait_flag(void *arg) {
  while (!atomic_load((_Atomic int *)arg))
    usleep(1000);
  return arg;
}

DC_TEST(stale_tid_never_joins_a_newer_thread) {
  reset();
  /* A driver that joins its worker twice (thread.bad_join) while other
   * ports created workers since: with the freed records' addresses reused
   * by malloc, the stale join used to wait for an unrelated live thread. */
  enum { N = 24 };
  static _Atomic int go;
  ErlDrvTid old[N], live[N];
  for (int i = 0; i < N; i++) {
    DC_ASSERT_EQ(erl_drv_thread_create("w", &old[i], ret_arg, NULL, NULL), 0);
    DC_ASSERT_EQ(erl_drv_thread_join(old[i], NULL), 0);
  }
  for (int i = 0; i < N; i++)
    DC_ASSERT_EQ(
        erl_drv_thread_create("w", &live[i], wait_flag, (void *)&go, NULL), 0);
  for (int i = 0; i < N; i++)
    for (int k = 0; k < N; k++)
      DC_ASSERT(live[k] != old[i]); /* else old[i]'s join would hang */
  for (int i = 0; i < N; i++)
    DC_ASSERT_EQ(erl_drv_thread_join(old[i], NULL), EINVAL);
  DC_ASSERT_EQ(occurrences(DC_RULE_THREAD_BAD_JOIN), N);
  atomic_store(&go, 1);
  for (int i = 0; i < N; i++)
    DC_ASSERT_EQ(erl_drv_thread_join(live[i], NULL), 0);
}

static void exit_from_main(void) { erl_drv_thread_exit(NULL); }

DC_TEST(thread_exit_foreign_aborts) { dc_test_expect_abort(exit_from_main); }

DC_TEST(live_counts) {
  reset();
  int th, lk;
  ErlDrvMutex *m = erl_drv_mutex_create("m");
  ErlDrvCond *c = erl_drv_cond_create("c");
  ErlDrvRWLock *l = erl_drv_rwlock_create("l");
  ErlDrvTid t;
  DC_ASSERT_EQ(erl_drv_thread_create("t", &t, ret_arg, NULL, NULL), 0);
  dc__thread_live_counts(&th, &lk);
  DC_ASSERT_EQ(th, 1);
  DC_ASSERT_EQ(lk, 3);
  DC_ASSERT_EQ(erl_drv_thread_join(t, NULL), 0);
  erl_drv_cond_destroy(c);
  dc__thread_live_counts(&th, &lk);
  DC_ASSERT_EQ(th, 0);
  DC_ASSERT_EQ(lk, 2);
  dc__thread_reset(); /* forgets m and l */
  dc__thread_live_counts(&th, &lk);
  DC_ASSERT_EQ(lk, 0);
  erl_drv_mutex_destroy(m); /* destroying a forgotten object is harmless */
  erl_drv_rwlock_destroy(l);
  dc__thread_live_counts(&th, &lk);
  DC_ASSERT_EQ(lk, 0);
}

/* ---- misuse ------------------------------------------------------------- */

DC_TEST(relock_reported_not_deadlocked) {
  reset();
  ErlDrvMutex *m = erl_drv_mutex_create("relock");
  erl_drv_mutex_lock(m);
  erl_drv_mutex_lock(m); /* would deadlock ERTS; reported and skipped */
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_RELOCK), 1);
  erl_drv_mutex_unlock(m);
  DC_ASSERT_EQ(erl_drv_mutex_trylock(m), 0); /* really unlocked once */
  erl_drv_mutex_unlock(m);
  ErlDrvRWLock *l = erl_drv_rwlock_create("rw");
  erl_drv_rwlock_rwlock(l);
  erl_drv_rwlock_rlock(l);
  erl_drv_rwlock_rwunlock(l);
  erl_drv_rwlock_rlock(l);
  erl_drv_rwlock_rwlock(l); /* upgrade attempt: deadlock in ERTS */
  erl_drv_rwlock_runlock(l);
  DC_ASSERT_EQ(occurrences(DC_RULE_THREAD_RELOCK), 3);
  DC_ASSERT_EQ(erl_drv_rwlock_tryrwlock(l), 0); /* everything released */
  erl_drv_rwlock_rwunlock(l);
}

static void *lock_and_return(void *arg) {
  erl_drv_mutex_lock((ErlDrvMutex *)arg);
  return NULL;
}

DC_TEST(unlock_not_owner_reported) {
  reset();
  ErlDrvMutex *m = erl_drv_mutex_create("m");
  erl_drv_mutex_unlock(m); /* not locked at all */
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_UNLOCK_NOT_OWNER), 1);
  ErlDrvTid t;
  DC_ASSERT_EQ(erl_drv_thread_create("l", &t, lock_and_return, m, NULL), 0);
  DC_ASSERT_EQ(erl_drv_thread_join(t, NULL), 0);
  dc__findings_reset();
  erl_drv_mutex_unlock(m); /* held by the (finished) other thread */
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_UNLOCK_NOT_OWNER), 1);
  DC_ASSERT_EQ(erl_drv_mutex_trylock(m), EBUSY); /* still locked */
  ErlDrvRWLock *l = erl_drv_rwlock_create("rw");
  dc__findings_reset();
  erl_drv_rwlock_runlock(l);
  erl_drv_rwlock_rwunlock(l);
  size_t n;
  dc__findings(&n);
  DC_ASSERT_EQ(n, 2);
  ErlDrvCond *c = erl_drv_cond_create("c");
  ErlDrvMutex *m2 = erl_drv_mutex_create("m2");
  dc__findings_reset();
  erl_drv_cond_wait(c, m2); /* mutex not held: returns, reported */
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_UNLOCK_NOT_OWNER), 1);
}

/* Called through pointers: the header's malloc attributes make gcc reject
 * the (intended) use of a leaked object after a refused destroy. */
static void (*volatile mutex_destroy)(ErlDrvMutex *) = erl_drv_mutex_destroy;
static void (*volatile rwlock_destroy)(ErlDrvRWLock *) = erl_drv_rwlock_destroy;

DC_TEST(destroy_locked_reported) {
  reset();
  ErlDrvMutex *m = erl_drv_mutex_create("busy");
  erl_drv_mutex_lock(m);
  mutex_destroy(m);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_DESTROY_BUSY), 1);
  erl_drv_mutex_unlock(m); /* leaked, so still usable */
  ErlDrvRWLock *l = erl_drv_rwlock_create("busy");
  erl_drv_rwlock_rlock(l);
  dc__findings_reset();
  rwlock_destroy(l);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_THREAD_DESTROY_BUSY), 1);
  erl_drv_rwlock_runlock(l);
  rwlock_destroy(l);
}

/* ---- NULL handles are fatal (erl_drv_thread.c fatal_error) --------------- */

static void null_mutex_lock(void) { erl_drv_mutex_lock(NULL); }
static void null_mutex_destroy(void) { erl_drv_mutex_destroy(NULL); }
static void null_cond_wait(void) {
  erl_drv_cond_wait(erl_drv_cond_create("c"), NULL);
}
static void null_rwlock_rlock(void) { erl_drv_rwlock_rlock(NULL); }
static void null_opts_destroy(void) { erl_drv_thread_opts_destroy(NULL); }
static void null_equal_tids(void) {
  erl_drv_equal_tids(erl_drv_thread_self(), NULL);
}
static void null_tsd_key(void) { erl_drv_tsd_key_create("k", NULL); }

DC_TEST(null_handles_abort) {
  reset();
  dc_test_expect_abort(null_mutex_lock);
  dc_test_expect_abort(null_mutex_destroy);
  dc_test_expect_abort(null_cond_wait);
  dc_test_expect_abort(null_rwlock_rlock);
  dc_test_expect_abort(null_opts_destroy);
  dc_test_expect_abort(null_equal_tids);
  dc_test_expect_abort(null_tsd_key);
}
