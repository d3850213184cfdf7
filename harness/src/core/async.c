/* The async thread pool: driver_async, driver_async_port_key.
 *
 * Like ERTS (erl_async.c) there is one FIFO queue per worker thread; a job
 * goes to queue (key ? *key : job id) % nthreads, so jobs with the same key
 * run in order on one thread. A worker runs async_invoke with no port or
 * driver lock and appends the job to a completion list. Completions are
 * delivered later on the emulator thread (dc__async_deliver): ready_async
 * for a port that is still alive, otherwise only async_free. Keeping the
 * completions in a list lets the sequencer choose the delivery order. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* One driver_async call; owned by the pool until delivered, then freed. */
typedef struct job {
  struct job *next;
  long id;
  dc__port *port; /* port slots are never reused, so the pointer stays valid */
  void (*invoke)(void *);
  void *data; /* the driver's; handed back to ready_async or async_free */
  void (*free_fn)(void *);
  ErlDrvPDL pdl; /* the port's PDL, referenced for the job's lifetime */
} job;

typedef struct worker {
  pthread_t tid;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  job *head, *tail; /* queued, not yet started */
  int stop;
} worker;

static struct {
  worker *w;
  int n;
  atomic_long next_id;
  /* Completion side: completed list, and the count of queued+running jobs
   * (`inflight`), both under done_lock; done_cond signals changes. */
  pthread_mutex_t done_lock;
  pthread_cond_t done_cond;
  job *done_head, *done_tail;
  size_t ndone;
  int inflight;
} pool = {.done_lock = PTHREAD_MUTEX_INITIALIZER,
          .done_cond = PTHREAD_COND_INITIALIZER};

static void job_push(job **head, job **tail, job *j) {
  j->next = NULL;
  if (*tail)
    (*tail)->next = j;
  else
    *head = j;
  *tail = j;
}

static void *worker_main(void *arg) {
  worker *w = arg;
  dc__tls.kind = DC__THR_ASYNC;
  for (;;) {
    pthread_mutex_lock(&w->lock);
    while (!w->head && !w->stop)
      pthread_cond_wait(&w->cond, &w->lock);
    if (w->stop) { /* queued jobs are left for dc__async_stop */
      pthread_mutex_unlock(&w->lock);
      return NULL;
    }
    job *j = w->head;
    w->head = j->next;
    if (!w->head)
      w->tail = NULL;
    pthread_mutex_unlock(&w->lock);

    /* The job's port is deliberately not put in the context: async_invoke
     * is no callback of that port and holds none of its locks. */
    dc__tls.cb = DC__CB_ASYNC_INVOKE;
    dc__g.cb_count[DC__CB_ASYNC_INVOKE]++;
    j->invoke(j->data);
    dc__tls.cb = DC__CB_NONE;

    pthread_mutex_lock(&pool.done_lock);
    job_push(&pool.done_head, &pool.done_tail, j);
    pool.ndone++;
    pool.inflight--;
    pthread_cond_broadcast(&pool.done_cond);
    pthread_mutex_unlock(&pool.done_lock);
  }
}

/* Threads do not survive fork: in the child, the pool's records describe
 * workers that do not exist (joining them would hang) and its locks may be
 * held by them. The child starts over with no pool; the jobs belong to the
 * parent's driver instance, so they are dropped without callbacks. */
/* The parent's pool as it was at fork: kept reachable (LeakSanitizer) but
 * never freed in the child, since a fork handler must not call free under
 * sanitizer allocators that hold their own locks across fork (MSan). */
static struct {
  worker *w;
  job *done;
} forked_away;

static void forget_after_fork(void) {
  forked_away.w = pool.w;
  forked_away.done = pool.done_head;
  pool.w = NULL;
  pool.n = 0;
  pool.done_head = pool.done_tail = NULL;
  pool.ndone = 0;
  pool.inflight = 0;
  pool.done_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
  pool.done_cond = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void atfork_init(void) { pthread_atfork(NULL, NULL, forget_after_fork); }

void dc__async_start(int nthreads) {
  if (pool.w)
    return; /* already running */
  pthread_once(&atfork_once, atfork_init);
  pool.n = nthreads > 0 ? nthreads : 1; /* ERTS coerces +A 0 to 1 */
  pool.w = calloc((size_t)pool.n, sizeof *pool.w);
  if (!pool.w) {
    pool.n = 0;
    return;
  }
  atomic_store(&pool.next_id, 0);
  for (int i = 0; i < pool.n; i++) {
    worker *w = &pool.w[i];
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
      pool.n = i; /* run with the threads we got */
      break;
    }
  }
}

/* Gives the driver its data back: async_free (if any), as ERTS does when
 * ready_async is NULL or the port is gone. Runs unlocked on this thread. */
static void free_job_data(job *j) {
  if (!j->free_fn)
    return;
  dc__cb prev_cb = dc__tls.cb;
  dc__port *prev_port = dc__tls.port;
  dc__tls.cb = DC__CB_ASYNC_FREE;
  dc__tls.port = j->port;
  dc__g.cb_count[DC__CB_ASYNC_FREE]++;
  j->free_fn(j->data);
  dc__tls.cb = prev_cb;
  dc__tls.port = prev_port;
}

static void deliver(job *j) {
  dc__port *p = j->port;
  ErlDrvEntry *de = dc__g.entry;
  int st = p->state;
  if ((st == DC__PORT_OPEN || st == DC__PORT_CLOSING) && de &&
      de->ready_async) {
    dc__cbframe f;
    dc__cb_enter(p, DC__CB_READY_ASYNC, DC__NIL, &f);
    st = p->state; /* may have changed while we waited for the lock */
    int live = st == DC__PORT_OPEN || st == DC__PORT_CLOSING;
    if (live)
      de->ready_async(p->drv_data, (ErlDrvThreadData)j->data);
    dc__cb_leave(p, &f);
    if (!live)
      free_job_data(j);
  } else {
    free_job_data(j);
  }
  if (j->pdl)
    driver_pdl_dec_refc(j->pdl);
  free(j);
}

/* Unlinks completed job number i (0 = oldest); NULL if there is none. */
static job *take_done(size_t i) {
  pthread_mutex_lock(&pool.done_lock);
  job *prev = NULL, *j = pool.done_head;
  for (; j && i > 0; i--) {
    prev = j;
    j = j->next;
  }
  if (j) {
    if (prev)
      prev->next = j->next;
    else
      pool.done_head = j->next;
    if (pool.done_tail == j)
      pool.done_tail = prev;
    pool.ndone--;
  }
  pthread_mutex_unlock(&pool.done_lock);
  return j;
}

int dc__async_deliver_one(size_t i) {
  job *j = take_done(i);
  if (!j)
    return 0;
  deliver(j);
  return 1;
}

int dc__async_deliver(int max) {
  /* "All" means the jobs completed now: jobs that ready_async starts and
   * that finish meanwhile wait for the next call, so this always ends. */
  if (max < 0) {
    pthread_mutex_lock(&pool.done_lock);
    max = (int)pool.ndone;
    pthread_mutex_unlock(&pool.done_lock);
  }
  int n = 0;
  while (n < max && dc__async_deliver_one(0))
    n++;
  return n;
}

void dc__async_wait_idle(void) {
  pthread_mutex_lock(&pool.done_lock);
  while (pool.inflight > 0 && pool.n > 0)
    pthread_cond_wait(&pool.done_cond, &pool.done_lock);
  pthread_mutex_unlock(&pool.done_lock);
}

int dc__async_pending(int *completed) {
  pthread_mutex_lock(&pool.done_lock);
  int n = pool.inflight;
  if (completed)
    *completed = (int)pool.ndone;
  pthread_mutex_unlock(&pool.done_lock);
  return n;
}

/* A job that will never be delivered: the driver gets its data back. */
static void discard(job *j) {
  free_job_data(j);
  if (j->pdl)
    driver_pdl_dec_refc(j->pdl);
  free(j);
}

void dc__async_stop(void) {
  if (!pool.w)
    return;
  for (int i = 0; i < pool.n; i++) {
    pthread_mutex_lock(&pool.w[i].lock);
    pool.w[i].stop = 1;
    pthread_cond_signal(&pool.w[i].cond);
    pthread_mutex_unlock(&pool.w[i].lock);
  }
  for (int i = 0; i < pool.n; i++)
    pthread_join(pool.w[i].tid, NULL);
  /* Jobs that never ran, then completions never delivered. */
  for (int i = 0; i < pool.n; i++) {
    for (job *j = pool.w[i].head, *next; j; j = next) {
      next = j->next;
      discard(j);
    }
    pthread_mutex_destroy(&pool.w[i].lock);
    pthread_cond_destroy(&pool.w[i].cond);
  }
  for (job *j = pool.done_head, *next; j; j = next) {
    next = j->next;
    discard(j);
  }
  free(pool.w);
  pool.w = NULL;
  pool.n = 0;
  pool.done_head = pool.done_tail = NULL;
  pool.ndone = 0;
  pool.inflight = 0;
}

/* Unlinks every job still queued on a worker (they will never run);
 * returns them as one list and how many there were. */
static job *take_queued(int *count) {
  job *all = NULL, **tail = &all;
  *count = 0;
  for (int i = 0; i < pool.n; i++) {
    worker *w = &pool.w[i];
    pthread_mutex_lock(&w->lock);
    *tail = w->head;
    for (job *j = w->head; j; j = j->next) {
      tail = &j->next;
      (*count)++;
    }
    w->head = w->tail = NULL;
    pthread_mutex_unlock(&w->lock);
  }
  return all;
}

void dc__async_reset(int nthreads) {
  int n = nthreads > 0 ? nthreads : 1;
  if (!pool.w || pool.n != n) {
    dc__async_stop();
    dc__async_start(n);
    return;
  }
  /* The fuzz targets reset before every input: an idle pool costs one
   * lock, not a thread create and join per worker. */
  pthread_mutex_lock(&pool.done_lock);
  int idle = pool.inflight == 0 && !pool.done_head;
  pthread_mutex_unlock(&pool.done_lock);
  if (!idle) {
    /* As dc__async_stop: the running jobs finish, queued ones never run,
     * then both those and the undelivered completions are discarded. */
    int k;
    job *never = take_queued(&k);
    pthread_mutex_lock(&pool.done_lock);
    pool.inflight -= k;
    while (pool.inflight > 0)
      pthread_cond_wait(&pool.done_cond, &pool.done_lock);
    job *done = pool.done_head;
    pool.done_head = pool.done_tail = NULL;
    pool.ndone = 0;
    pthread_mutex_unlock(&pool.done_lock);
    for (job *j = never, *next; j; j = next) {
      next = j->next;
      discard(j);
    }
    for (job *j = done, *next; j; j = next) {
      next = j->next;
      discard(j);
    }
  }
  atomic_store(&pool.next_id, 0); /* ids restart as in a fresh pool */
}

unsigned int driver_async_port_key(ErlDrvPort port) {
  dc__port *p = DC__API_PORT(driver_async_port_key, port);
  return p ? (unsigned int)DC__IDX(p->id) : 0;
}

long driver_async(ErlDrvPort ix, unsigned int *key,
                  void (*async_invoke)(void *), void *async_data,
                  void (*async_free)(void *)) {
  dc__port *p = DC__API_PORT(driver_async, ix);
  if (!p || pool.n == 0)
    return -1;
  job *j = malloc(sizeof *j);
  if (!j)
    return -1;
  /* Ids are > 0 and increasing; on wrap-around ERTS skips 0 and negates. */
  long id;
  do
    id = atomic_fetch_add(&pool.next_id, 1) + 1;
  while (id == 0);
  if (id < 0)
    id = -id;
  unsigned qix = key ? *key % (unsigned)pool.n : (unsigned)(id % pool.n);
  if (key)
    *key = qix;
  *j = (job){NULL, id, p, async_invoke, async_data, async_free, NULL};
  /* The job keeps the port data lock alive, so async_invoke may still use
   * it after the port died (driver_SUITE peek_non_existing_queue). */
  ErlDrvPDL pdl = __atomic_load_n(&p->pdl, __ATOMIC_ACQUIRE);
  if (pdl) {
    driver_pdl_inc_refc(pdl);
    j->pdl = pdl;
  }
  pthread_mutex_lock(&pool.done_lock);
  pool.inflight++;
  pthread_mutex_unlock(&pool.done_lock);
  worker *w = &pool.w[qix];
  pthread_mutex_lock(&w->lock);
  job_push(&w->head, &w->tail, j);
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
  return id;
}
