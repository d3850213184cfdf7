/* Concurrency mode: with ERL_DRV_FLAG_USE_PORT_LOCKING, ERTS runs callbacks
 * of different ports at the same time on different schedulers while one
 * port's callbacks stay serialized (protocol.md §3.15). The sequencer models
 * that with one worker thread per port slot: per-slot operations (command,
 * control, call, event) are queued FIFO to the slot's worker, so they run in
 * order for that port and concurrently with other slots. Every other
 * operation (open, close, advance, poll, async, exit, stop_select, settle,
 * unload) touches several ports or global state, so it is a barrier: wait
 * until every slot queue drained, then run on the calling thread.
 *
 * Without port locking the driver lock serializes everything anyway, and
 * dc__conc_exec is plain dc__runner_exec on the calling thread.
 *
 * Each queued entry carries a snapshot of the runner: slots and processes
 * only change in barrier operations, so the snapshot equals what the worker
 * would see, and workers never write the caller's runner concurrently. The
 * ring entries keep their payload buffers across uses, so steady-state
 * dispatch allocates nothing. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define RING 64 /* queued operations per slot before the dispatcher waits */

typedef struct entry {
  dc__op op;
  dc__runner r;       /* runner snapshot taken at dispatch */
  unsigned char *buf; /* owned payload copy, reused across entries */
  size_t bufcap;
} entry;

typedef struct worker {
  pthread_t thread;
  int running; /* thread created (dispatcher thread only) */
  pthread_mutex_t mu;
  pthread_cond_t work;    /* signalled when tail moves or quit is set */
  pthread_cond_t idle;    /* signalled when head moves */
  unsigned long head;     /* next entry to run (guarded by mu) */
  unsigned long tail;     /* next free entry (guarded by mu) */
  unsigned long ops_done; /* runner ops_run increments not yet merged */
  int quit;
  entry ring[RING];
} worker;

static worker workers[DC__MAX_SLOTS];
/* Worker ops drained by dc__conc_barrier, merged into the next runner seen
 * (dispatcher thread only). */
static unsigned long unmerged;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_workers(void) {
  for (int i = 0; i < DC__MAX_SLOTS; i++) {
    pthread_mutex_init(&workers[i].mu, NULL);
    pthread_cond_init(&workers[i].work, NULL);
    pthread_cond_init(&workers[i].idle, NULL);
  }
}

/* Operations on one port: they go to that port's worker. */
static int is_slot_op(const dc__op *op) {
  switch (op->kind) {
  case DC__OP_COMMAND:
  case DC__OP_CONTROL:
  case DC__OP_CALL:
  case DC__OP_EVENT:
    return op->slot >= 0 && op->slot < DC__MAX_SLOTS;
  default:
    return 0;
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  /* A scheduler thread: callbacks on it are emulator-thread callbacks. */
  dc__tls.kind = DC__THR_EMU;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (w->head == w->tail && !w->quit)
      pthread_cond_wait(&w->work, &w->mu);
    if (w->head == w->tail)
      break; /* quit with nothing left */
    entry *e = &w->ring[w->head % RING];
    pthread_mutex_unlock(&w->mu);
    unsigned long before = e->r.ops_run;
    /* The result is not reported back: an operation the model finds
     * illegal by the time it runs is skipped by the runner itself. */
    (void)dc__runner_exec(&e->r, &e->op);
    unsigned long did = e->r.ops_run - before;
    pthread_mutex_lock(&w->mu);
    w->ops_done += did;
    w->head++;
    pthread_cond_broadcast(&w->idle);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* Copies op (and its payload, which may live in a source buffer that the
 * next dc__source_next overwrites) into e. Returns 0 or DC_ENOMEM. */
static int fill_entry(entry *e, const dc__runner *r, const dc__op *op) {
  e->op = *op;
  e->r = *r;
  if (op->len && op->data) {
    if (e->bufcap < op->len) {
      unsigned char *nb = realloc(e->buf, op->len);
      if (!nb)
        return DC_ENOMEM;
      e->buf = nb;
      e->bufcap = op->len;
    }
    memcpy(e->buf, op->data, op->len);
    e->op.data = e->buf;
  }
  return 0;
}

/* Spawns the processes a queued operation names on the calling thread, so
 * workers never spawn (and never race on r->procs). Same names as ops.c. */
static void prespawn(dc__runner *r, const dc__op *op) {
  int i = op->proc;
  if (i >= 0 && i < DC__MAX_SPROCS && !r->procs[i]) {
    char name[8];
    snprintf(name, sizeof name, "p%d", i);
    r->procs[i] = dc__proc_spawn(name);
  }
}

static int dispatch(dc__runner *r, const dc__op *op) {
  worker *w = &workers[op->slot];
  prespawn(r, op);
  if (!w->running) {
    w->head = w->tail = 0;
    w->quit = 0;
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
      return dc__runner_exec(r, op); /* degrade: run it here */
    w->running = 1;
  }
  pthread_mutex_lock(&w->mu);
  while (w->tail - w->head >= RING)
    pthread_cond_wait(&w->idle, &w->mu);
  entry *e = &w->ring[w->tail % RING];
  pthread_mutex_unlock(&w->mu);
  /* e is outside [head, tail): the worker does not touch it. */
  int rc = fill_entry(e, r, op);
  if (rc != 0)
    return rc;
  pthread_mutex_lock(&w->mu);
  w->tail++;
  pthread_cond_signal(&w->work);
  pthread_mutex_unlock(&w->mu);
  return 0;
}

/* Waits until every slot queue drained; returns the runner ops the workers
 * executed since the last call. */
static unsigned long drain(void) {
  unsigned long done = 0;
  for (int i = 0; i < DC__MAX_SLOTS; i++) {
    worker *w = &workers[i];
    if (!w->running)
      continue;
    pthread_mutex_lock(&w->mu);
    while (w->head != w->tail)
      pthread_cond_wait(&w->idle, &w->mu);
    done += w->ops_done;
    w->ops_done = 0;
    pthread_mutex_unlock(&w->mu);
  }
  return done;
}

void dc__conc_barrier(void) {
  pthread_once(&init_once, init_workers);
  unmerged += drain();
}

int dc__conc_exec(dc__runner *r, const dc__op *op) {
  pthread_once(&init_once, init_workers);
  if (!dc__g.port_locking)
    return dc__runner_exec(r, op);
  if (is_slot_op(op))
    return dispatch(r, op);
  r->ops_run += unmerged + drain();
  unmerged = 0;
  return dc__runner_exec(r, op);
}

void dc__conc_stop(void) {
  pthread_once(&init_once, init_workers);
  for (int i = 0; i < DC__MAX_SLOTS; i++) {
    worker *w = &workers[i];
    if (!w->running)
      continue;
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->running = 0;
    for (int k = 0; k < RING; k++) {
      free(w->ring[k].buf);
      w->ring[k].buf = NULL;
      w->ring[k].bufcap = 0;
    }
  }
}
