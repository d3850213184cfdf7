/* The emulator singleton, calling context and the core's door to the reporter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

dc__emu dc__g;
_Thread_local dc__ctx dc__tls;

static const char *const cb_names[DC__CB_COUNT] = {"none",
#define DC__CB_NAME(e, s) s,
                                                   DC__CALLBACK_MAP(DC__CB_NAME)
#undef DC__CB_NAME
};

const char *dc__cb_name(dc__cb cb) {
  return (unsigned)cb < DC__CB_COUNT ? cb_names[cb] : "none";
}

/* The callback name a finding is filed under: the running callback, or the
 * kind of thread when no callback runs on it. */
static const char *context_name(void) {
  if (dc__tls.cb != DC__CB_NONE)
    return dc__cb_name(dc__tls.cb);
  switch (dc__tls.kind) {
  case DC__THR_ASYNC:
    return "async_invoke";
  case DC__THR_DRIVER:
  case DC__THR_OTHER:
    return "thread";
  case DC__THR_POLL:
    return "stop_select";
  default:
    return dc__g.loaded ? "emulator" : "load";
  }
}

void dc__flag_at(dc_rule rule, const char *api, const void *site,
                 const char *fmt, ...) {
  dc__report_ctx c = {context_name(),
                      dc__tls.port ? (int)DC__IDX(dc__tls.port->id) : -1, api,
                      dc__tls.stimulus, site};
  va_list ap;
  va_start(ap, fmt);
  dc__vreport(rule, &c, fmt, ap);
  va_end(ap);
}

/* Cost proportional to what the last run used (the fuzz targets reset
 * before every input): only the port slots handed out since the last reset
 * (slots are never reused, so they are ports[0 .. nports)) are destroyed and
 * cleared, and the async pool keeps its threads. */
void dc__emu_reset(int async_threads) {
  int nthreads = async_threads > 0 ? async_threads : 1;
  unsigned used = atomic_load(&dc__g.nports);
  if (used > DC__MAX_PORTS)
    used = DC__MAX_PORTS;
  dc__async_reset(nthreads);
  dc__select_reset();
  dc__monitor_reset();
  dc__thread_reset();
  dc__bin_reset();
  dc__mem_reset();
  dc__misc_reset();
  dc__trace_reset();
  dc__proc_reset();
  for (unsigned i = 0; i < used; i++)
    if (dc__g.ports[i].state != DC__PORT_FREE)
      pthread_mutex_destroy(&dc__g.ports[i].lock);
  pthread_mutex_destroy(&dc__g.drv_lock); /* a zeroed mutex is fine too */
  /* The same as clearing all of dc__g: slots >= used are still zero. */
  memset(&dc__g, 0, offsetof(dc__emu, ports));
  memset(dc__g.ports, 0, used * sizeof dc__g.ports[0]);
  memset((char *)&dc__g + offsetof(dc__emu, nports), 0,
         sizeof dc__g - offsetof(dc__emu, nports));
  dc__timer_reset();
  pthread_mutex_init(&dc__g.drv_lock, NULL);
  dc__g.async_threads = nthreads;
  dc__g.trace_enabled = 1;
  memset(&dc__tls, 0, sizeof dc__tls);
  dc__tls.kind = DC__THR_EMU;
  dc__ctx_reset();
}
