/* The Erlang-visible trace: every message, open result, control/call reply,
 * refused command and port exit, in the order they happened.
 *
 * Recording sits on the hottest path of the harness (every driver_output*
 * lands here), so it costs one bump allocation and one short critical
 * section per event:
 *  - events and their ETF live in arena chunks, freed together at
 *    dc__trace_reset; each thread bump-allocates from its own chunk, so
 *    emulator threads of different ports (USE_PORT_LOCKING) never contend
 *    for memory, and there is no malloc per event;
 *  - a writer fills the event in place (dc__trace_reserve), copying the
 *    data once, then publishes it (dc__trace_commit): the seq number and
 *    the list link are taken under one mutex, so list order == seq order
 *    and a reader walking `next` without the lock sees complete events.
 * Printing (dc__event_print, erl.c) happens only when somebody reads. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Chunks of 64 KiB; an event larger than an eighth of that gets a block of
 * its own, so at most 1/8 of a chunk is left unused at its end. A reset
 * keeps up to SPARE_MAX chunks for the next sequence: freeing them all made
 * malloc hand the pages back and the next sequence fault them in again. */
#define CHUNK_BYTES ((size_t)64 << 10)
#define BIG_EVENT (CHUNK_BYTES / 8)
#define SPARE_MAX 256 /* 16 MiB */

typedef struct chunk {
  struct chunk *next; /* all chunks of this trace generation */
  size_t cap, used;
  _Alignas(max_align_t) unsigned char data[];
} chunk;

static pthread_mutex_t trace_mu = PTHREAD_MUTEX_INITIALIZER;
static dc__event *_Atomic trace_head; /* read without trace_mu */
static dc__event *trace_tail;         /* under trace_mu */
static uint64_t trace_seq;            /* under trace_mu */
static _Atomic size_t trace_n;
static chunk *chunks;   /* under trace_mu */
static chunk *spare;    /* standard chunks kept for reuse */
static unsigned nspare; /* under trace_mu */
/* Bumped by every reset: a thread's chunk from an older generation is gone
 * (freed or handed out again) and must not be used. */
static _Atomic unsigned trace_gen = 1;

static _Thread_local chunk *my_chunk;
static _Thread_local unsigned my_gen;

static size_t align_up(size_t n) {
  size_t a = _Alignof(max_align_t);
  return (n + a - 1) & ~(a - 1);
}

/* A new chunk with at least `need` bytes, linked into the trace's list. */
static chunk *chunk_new(size_t need) {
  size_t cap = need > BIG_EVENT ? need : CHUNK_BYTES;
  pthread_mutex_lock(&trace_mu);
  chunk *c = cap == CHUNK_BYTES ? spare : NULL;
  if (c) {
    spare = c->next;
    nspare--;
  } else
    c = malloc(sizeof *c + cap);
  if (c) {
    c->cap = cap;
    c->used = 0;
    c->next = chunks;
    chunks = c;
  }
  pthread_mutex_unlock(&trace_mu);
  return c;
}

/* Bump allocation from the calling thread's chunk; NULL when out of memory.
 * Lock-free unless a new chunk is needed. */
static void *arena_alloc(size_t n) {
  n = align_up(n);
  unsigned gen = atomic_load_explicit(&trace_gen, memory_order_acquire);
  chunk *c = my_gen == gen ? my_chunk : NULL;
  if (!c || c->cap - c->used < n) {
    if (!(c = chunk_new(n)))
      return NULL;
    if (n <= BIG_EVENT) { /* a big event's block is full right away */
      my_chunk = c;
      my_gen = gen;
    }
  }
  void *p = c->data + c->used;
  c->used += n;
  return p;
}

dc__event *dc__trace_reserve(dc__ev_kind kind, ErlDrvTermData to,
                             ErlDrvTermData from, size_t len) {
  if (!dc__g.trace_enabled)
    return NULL;
  /* One block: the event followed by room for its term. */
  dc__event *ev = arena_alloc(sizeof *ev + len);
  if (!ev)
    return NULL;
  atomic_init(&ev->next, NULL);
  ev->kind = kind;
  ev->to = to;
  ev->from = from;
  ev->len = len;
  ev->etf = (char *)(ev + 1);
  return ev;
}

void dc__trace_commit(dc__event *ev) {
  if (!ev)
    return;
  pthread_mutex_lock(&trace_mu);
  ev->seq = trace_seq++;
  if (trace_tail)
    atomic_store_explicit(&trace_tail->next, ev, memory_order_release);
  else
    atomic_store_explicit(&trace_head, ev, memory_order_release);
  trace_tail = ev;
  atomic_fetch_add_explicit(&trace_n, 1, memory_order_relaxed);
  pthread_mutex_unlock(&trace_mu);
}

void dc__trace_add(dc__ev_kind kind, ErlDrvTermData to, ErlDrvTermData from,
                   const char *etf, size_t len) {
  dc__event *ev = dc__trace_reserve(kind, to, from, len);
  if (!ev)
    return;
  if (len)
    memcpy(ev->etf, etf, len);
  dc__trace_commit(ev);
}

const dc__event *dc__trace_first(void) {
  return atomic_load_explicit(&trace_head, memory_order_acquire);
}

size_t dc__trace_count(void) {
  return atomic_load_explicit(&trace_n, memory_order_relaxed);
}

/* Frees the big blocks and keeps standard chunks (up to SPARE_MAX) for the
 * next sequence: a run resets the emulator for each one. */
void dc__trace_reset(void) {
  pthread_mutex_lock(&trace_mu);
  chunk *c = chunks;
  chunks = NULL;
  atomic_store(&trace_head, NULL);
  trace_tail = NULL;
  trace_seq = 0;
  atomic_store(&trace_n, 0);
  atomic_fetch_add(&trace_gen, 1);
  while (c) {
    chunk *next = c->next;
    if (c->cap == CHUNK_BYTES && nspare < SPARE_MAX) {
      c->next = spare;
      spare = c;
      nspare++;
    } else {
      free(c);
    }
    c = next;
  }
  pthread_mutex_unlock(&trace_mu);
  my_chunk = NULL;
}

/* ------------------------------------------------------------------------ */
/* {Port,{data,Data}} encoded in place                                      */
/* The bytes are exactly what the ei_x_encode_* calls would give (tuple and */
/* port through ei, then list_header/long/binary/string_len rules), written */
/* straight into the event: the data is copied once, nothing is malloc'ed.  */

#define STRING_EXT_MAX 0xffff /* longer byte lists: LIST_EXT of integers */
#define PREFIX_CAP 64         /* 131, tuple, port (~24 bytes), tuple, data */
#define PREFIX_SLOTS 16

/* "131 {Port, {data," for one port id; never changes for an id, so each
 * thread caches a few (no lock, no ei on the hot path). */
typedef struct prefix {
  ErlDrvTermData port;
  int len; /* 0: slot empty */
  char b[PREFIX_CAP];
} prefix;

static _Thread_local prefix prefixes[PREFIX_SLOTS];

static const prefix *msg_prefix(ErlDrvTermData port) {
  prefix *c = &prefixes[DC__IDX(port) % PREFIX_SLOTS];
  if (c->len > 0 && c->port == port)
    return c;
  ei_x_buff x;
  if (ei_x_new_with_version(&x) < 0)
    return NULL;
  int bad = ei_x_encode_tuple_header(&x, 2) < 0 ||
            dc__x_encode_port(&x, port) < 0 ||
            ei_x_encode_tuple_header(&x, 2) < 0 ||
            ei_x_encode_atom(&x, "data") < 0 || x.index > PREFIX_CAP;
  if (!bad) {
    memcpy(c->b, x.buff, (size_t)x.index);
    c->len = x.index;
    c->port = port;
  }
  ei_x_free(&x);
  return bad ? NULL : c;
}

static char *put_be(char *o, uint32_t v, int bytes) {
  for (int k = bytes; k-- > 0; v >>= 8)
    o[k] = (char)(v & 0xff);
  return o + bytes;
}

/* Bytes of Data; -1 when ei could not encode it either (> 2 GiB). */
static long data_size(int binary, size_t hlen, const SysIOVec *segs,
                      int nsegs) {
  size_t n = 0, total = hlen;
  if (binary && nsegs > 0) {
    n = (hlen + (size_t)nsegs - 1 > 0 ? 5 : 0) + 2 * hlen;
    for (int i = 0; i < nsegs; i++) {
      if (segs[i].iov_len > 0x7fffffff)
        return -1;
      n += 5 + segs[i].iov_len;
    }
    return n > 0x7fffffff ? -1 : (long)n;
  }
  for (int i = 0; !binary && i < nsegs; i++)
    total += segs[i].iov_len;
  if (total > 0x7fffffff)
    return -1;
  if (total == 0)
    return 1; /* [] */
  return (long)(total <= STRING_EXT_MAX ? 3 + total : 6 + 2 * total);
}

static char *put_bytes(char *o, const void *src, size_t n) {
  if (src)
    memcpy(o, src, n);
  else
    memset(o, 0, n); /* a NULL segment with a length: bytes unknown */
  return o + n;
}

/* A byte run as LIST_EXT elements: SMALL_INTEGER_EXT each. */
static char *put_ints(char *o, const void *src, size_t n) {
  const unsigned char *s = src;
  for (size_t k = 0; k < n; k++) {
    *o++ = ERL_SMALL_INTEGER_EXT;
    *o++ = (char)(s ? s[k] : 0);
  }
  return o;
}

/* Writes Data (data_size bytes) at o. */
static void put_data(char *o, int binary, const char *hbuf, size_t hlen,
                     const SysIOVec *segs, int nsegs, long size) {
  if (binary && nsegs > 0) {
    size_t before_tail = hlen + (size_t)nsegs - 1;
    if (before_tail > 0) {
      *o++ = ERL_LIST_EXT;
      o = put_be(o, (uint32_t)before_tail, 4);
    }
    o = put_ints(o, hbuf, hlen);
    for (int i = 0; i < nsegs; i++) { /* the last one is the tail */
      *o++ = ERL_BINARY_EXT;
      o = put_be(o, (uint32_t)segs[i].iov_len, 4);
      o = put_bytes(o, segs[i].iov_base, segs[i].iov_len);
    }
    return;
  }
  if (size == 1) {
    *o = ERL_NIL_EXT;
    return;
  }
  int as_string = size <= 3 + STRING_EXT_MAX;
  size_t total = as_string ? (size_t)size - 3 : ((size_t)size - 6) / 2;
  *o++ = as_string ? ERL_STRING_EXT : ERL_LIST_EXT;
  o = put_be(o, (uint32_t)total, as_string ? 2 : 4);
  char *(*put)(char *, const void *, size_t) = as_string ? put_bytes : put_ints;
  o = put(o, hbuf, hlen);
  for (int i = 0; !binary && i < nsegs; i++)
    o = put(o, segs[i].iov_base, segs[i].iov_len);
  if (!as_string)
    *o = ERL_NIL_EXT;
}

void dc__touch(const void *p, size_t n) {
  static _Thread_local char sink[4096];
  const char *b = p;
  while (n > 0) {
    size_t k = n < sizeof sink ? n : sizeof sink;
    memcpy(sink, b, k);
    /* The sink is never read: without this, clang drops the copy as a dead
     * store, and the bad pointer no longer faults here. */
    __asm__ volatile("" : : "r"(sink) : "memory");
    b += k;
    n -= k;
  }
}

int dc__trace_port_data(ErlDrvTermData to, ErlDrvTermData port, int binary,
                        const char *hbuf, size_t hlen, const SysIOVec *segs,
                        int nsegs) {
  if (!dc__g.trace_enabled) {
    if (hbuf)
      dc__touch(hbuf, hlen);
    for (int i = 0; i < nsegs; i++)
      dc__touch(segs[i].iov_base, segs[i].iov_len);
    return 0;
  }
  long size = data_size(binary, hlen, segs, nsegs);
  const prefix *pre = size < 0 ? NULL : msg_prefix(port);
  if (!pre)
    return -1;
  dc__event *ev =
      dc__trace_reserve(DC__EV_MSG, to, port, (size_t)pre->len + (size_t)size);
  if (!ev)
    return -1;
  memcpy(ev->etf, pre->b, (size_t)pre->len);
  put_data(ev->etf + pre->len, binary, hbuf, hlen, segs, nsegs, size);
  dc__trace_commit(ev);
  return 0;
}
