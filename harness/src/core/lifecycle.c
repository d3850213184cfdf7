/* Lifecycle checks: what a port leaves behind when it stops, and ports or
 * driver objects left in a state nothing can change when the driver is
 * unloaded (select.leak_at_stop, mem.leak suspects, init_ack.missing,
 * cb.flush_stuck, cb.busy_stuck, thread.leak_at_finish).
 *
 * "Nothing pending" is judged conservatively so that these rules never
 * fire on a driver that would still make progress: an armed timer, any
 * selected event, any async job in flight, any driver monitor on a live
 * process counts as something that could still run a callback. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------------------ */
/* At stop                                                                   */

/* Blocks a port's callbacks allocated and its stop did not free. They are
 * only suspects: finish() may still free them (then nothing is reported). */
#define MAX_SUSPECTS 16

typedef struct suspect {
  const void *ptr;
  const void *site;
  size_t size;
  int port;
} suspect;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static suspect suspects[MAX_SUSPECTS];
static unsigned nsuspects; /* total noted; the table keeps the newest */

typedef struct collect {
  int port;
} collect;

static void note_block(void *arg, const void *ptr, size_t size, int owner,
                       const void *site) {
  const collect *c = arg;
  if (owner != c->port)
    return;
  suspects[nsuspects++ % MAX_SUSPECTS] = (suspect){ptr, site, size, owner};
}

static void check_select_leak(dc__port *p) {
  int n = dc__select_count(p);
  if (n <= 0)
    return;
  int fds[4], modes[4], k = dc__select_port_fds(p, fds, modes, 4);
  char list[96] = "";
  size_t at = 0;
  for (int i = 0; i < k && at < sizeof list; i++)
    at += (size_t)snprintf(list + at, sizeof list - at, "%s%d%s%s",
                           i ? ", fd " : " (fd ", fds[i],
                           modes[i] & ERL_DRV_READ ? " read" : "",
                           modes[i] & ERL_DRV_WRITE ? " write" : "");
  if (k > 0 && at < sizeof list)
    snprintf(list + at, sizeof list - at, ")");
  dc__report_ctx c = {"stop", (int)p->idx, "driver_select", dc__tls.stimulus,
                      dc__g.entry ? (const void *)dc__g.entry->stop : NULL};
  dc__report(DC_RULE_SELECT_LEAK_AT_STOP, &c,
             "%d event(s) still selected after stop returned%s: the "
             "emulator reports the driver gone away without deselecting",
             n, list);
}

void dc__lifecycle_port_stopped(dc__port *p) {
  if (!p)
    return;
  check_select_leak(p);
  collect c = {(int)p->idx};
  pthread_mutex_lock(&lock);
  dc__mem_foreach_port(c.port, note_block, &c);
  pthread_mutex_unlock(&lock);
}

size_t dc__lifecycle_leak_suspects(char *buf, size_t cap) {
  size_t at = 0;
  int shown = 0;
  pthread_mutex_lock(&lock);
  unsigned n = nsuspects < MAX_SUSPECTS ? nsuspects : MAX_SUSPECTS;
  for (unsigned i = 0; i < n && at + 1 < cap; i++) {
    const suspect *s = &suspects[i];
    size_t size;
    int owner;
    const void *site;
    /* Still live and still the same block (addresses get reused). */
    if (dc__mem_info(s->ptr, &size, &owner, &site) != 0 || owner != s->port ||
        site != s->site)
      continue;
    char where[96];
    dc__describe_site(site, where, sizeof where);
    at +=
        (size_t)snprintf(buf + at, cap - at, "%s#Port<0.%d> %zu bytes from %s",
                         shown++ ? ", "
                                 : "; suspects (allocated in a "
                                   "port's callbacks, not freed by "
                                   "its stop): ",
                         s->port, size, where[0] ? where : "?");
  }
  nsuspects = 0;
  pthread_mutex_unlock(&lock);
  return at < cap ? at : cap ? cap - 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* At unload                                                                 */

/* Any driver monitor on a live process: its exit runs process_exit. */
static int any_monitor(void) {
  for (unsigned i = 0; i < DC__MAX_PROCS + 1024; i++) {
    ErlDrvTermData pid = DC__MK(DC__TAG_PID, i);
    if (dc__proc_alive(pid) && dc__monitor_count_on(pid) > 0)
      return 1;
  }
  return 0;
}

/* Something could still run a callback of p. */
static int pending(dc__port *p) {
  int done = 0;
  return p->timer_armed || dc__select_count(p) > 0 ||
         dc__async_pending(&done) > 0 || done > 0;
}

static void report_port(dc_rule rule, dc__port *p, const char *api,
                        const void *site, const char *msg) {
  dc__report_ctx c = {"unload", (int)p->idx, api, dc__tls.stimulus, site};
  dc__report(rule, &c, "#Port<0.%u> %s", p->idx, msg);
}

static void busy_stuck(const ErlDrvEntry *e, dc__port *p);

void dc__lifecycle_check_ports(void) {
  ErlDrvEntry *e = dc__g.entry;
  if (!e)
    return;
  int monitors = -1; /* computed once, only when needed */
  for (dc__port *p = dc__port_next_live(0); p;
       p = dc__port_next_live(p->idx + 1)) {
    if (pending(p))
      continue;
    if (p->init_ack_pending && !p->init_acked)
      report_port(DC_RULE_INIT_ACK_MISSING, p, "erl_drv_init_ack", NULL,
                  "was never acknowledged: open_port never returned");
    if (p->state == DC__PORT_CLOSING) {
      char msg[128];
      snprintf(msg, sizeof msg,
               "is closing with %zu byte(s) queued that nothing drains: "
               "stop can never run",
               (size_t)dc__queue_size(p));
      report_port(DC_RULE_CB_FLUSH_STUCK, p, "flush", (const void *)e->flush,
                  msg);
    }
    if (monitors < 0 && p->busy)
      monitors = any_monitor();
    if (monitors <= 0)
      busy_stuck(e, p);
  }
}

/* control/call and forced commands (soft busy) reach a busy port, so Erlang
 * could still clear it: only drivers without them are certain. The caller
 * has checked that nothing is pending for p and no monitor exists. */
static void busy_stuck(const ErlDrvEntry *e, dc__port *p) {
  if (p->busy && p->state == DC__PORT_OPEN && !e->control && !e->call &&
      !(e->driver_flags & ERL_DRV_FLAG_SOFT_BUSY))
    report_port(DC_RULE_CB_BUSY_STUCK, p, "set_busy_port", NULL,
                "is left busy with no timer, event, async job or monitor "
                "that could clear it: senders hang forever");
}

void dc__lifecycle_check_busy(dc__port *p) {
  if (!p || !dc__g.entry || !p->busy || pending(p) || any_monitor())
    return;
  busy_stuck(dc__g.entry, p);
}

void dc__lifecycle_check_finish(void) {
  int threads = 0, objs = 0;
  dc__thread_live_counts(&threads, &objs);
  if (threads == 0 && objs == 0)
    return;
  dc__report_ctx c = {"unload", -1, "", dc__tls.stimulus, NULL};
  dc__report(DC_RULE_THREAD_LEAK_AT_FINISH, &c,
             "after finish: %d driver thread(s) not joined, %d mutex/cond/"
             "rwlock/TSD key(s) not destroyed",
             threads, objs);
}
