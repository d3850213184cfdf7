/* TEMPORARY weak stubs so areas link while under construction; every real
 * definition overrides these. Deleted before the foundation issue lands. */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <stdio.h>
#include <stdlib.h>
#include "internal.h"


__attribute__((weak)) ErlDrvTermData dc__proc_spawn(const char *name) {
  fprintf(stderr, "drvcheck: dc__proc_spawn not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__proc_alive(ErlDrvTermData pid) {
  fprintf(stderr, "drvcheck: dc__proc_alive not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__proc_mark_dead(ErlDrvTermData pid) {
  fprintf(stderr, "drvcheck: dc__proc_mark_dead not implemented yet\n");
  abort();
}

__attribute__((weak)) ErlDrvTermData dc__atom(const char *name) {
  fprintf(stderr, "drvcheck: dc__atom not implemented yet\n");
  abort();
}

__attribute__((weak)) const char * dc__atom_text(ErlDrvTermData t) {
  fprintf(stderr, "drvcheck: dc__atom_text not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__trace_add(dc__ev_kind kind, ErlDrvTermData to, ErlDrvTermData from,
                   const char *etf, size_t len) {
  fprintf(stderr, "drvcheck: dc__trace_add not implemented yet\n");
  abort();
}

__attribute__((weak)) const dc__event * dc__trace_first(void) {
  fprintf(stderr, "drvcheck: dc__trace_first not implemented yet\n");
  abort();
}

__attribute__((weak)) size_t dc__trace_count(void) {
  fprintf(stderr, "drvcheck: dc__trace_count not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__trace_reset(void) {
  fprintf(stderr, "drvcheck: dc__trace_reset not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__etf_print(const char *etf, size_t len, char *buf, size_t cap) {
  fprintf(stderr, "drvcheck: dc__etf_print not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__event_print(const dc__event *ev, char *buf, size_t cap) {
  fprintf(stderr, "drvcheck: dc__event_print not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__x_encode_term_word(ei_x_buff *x, ErlDrvTermData t) {
  fprintf(stderr, "drvcheck: dc__x_encode_term_word not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__x_encode_pid(ei_x_buff *x, ErlDrvTermData pid) {
  fprintf(stderr, "drvcheck: dc__x_encode_pid not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__x_encode_port(ei_x_buff *x, ErlDrvTermData port) {
  fprintf(stderr, "drvcheck: dc__x_encode_port not implemented yet\n");
  abort();
}

__attribute__((weak)) dc__port * dc__port_lookup(ErlDrvPort h) {
  fprintf(stderr, "drvcheck: dc__port_lookup not implemented yet\n");
  abort();
}

__attribute__((weak)) dc__port * dc__port_live(ErlDrvPort h) {
  fprintf(stderr, "drvcheck: dc__port_live not implemented yet\n");
  abort();
}

__attribute__((weak)) dc__port * dc__port_by_term(ErlDrvTermData t) {
  fprintf(stderr, "drvcheck: dc__port_by_term not implemented yet\n");
  abort();
}

__attribute__((weak)) dc__open_result dc__port_open(const char *cmd, int opts, ErlDrvTermData owner) {
  fprintf(stderr, "drvcheck: dc__port_open not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__port_command(dc__port *p, ErlDrvTermData sender, const SysIOVec *segs,
                     int n, int force) {
  fprintf(stderr, "drvcheck: dc__port_command not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__port_control(dc__port *p, ErlDrvTermData caller, unsigned cmd,
                     const char *buf, size_t len) {
  fprintf(stderr, "drvcheck: dc__port_control not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__port_call(dc__port *p, ErlDrvTermData caller, unsigned cmd,
                  const char *etf, size_t len) {
  fprintf(stderr, "drvcheck: dc__port_call not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__port_exit(dc__port *p, const char *reason_atom, int bang_close) {
  fprintf(stderr, "drvcheck: dc__port_exit not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__port_terminate(dc__port *p, const char *reason_atom) {
  fprintf(stderr, "drvcheck: dc__port_terminate not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__port_epilogue(dc__port *p) {
  fprintf(stderr, "drvcheck: dc__port_epilogue not implemented yet\n");
  abort();
}

__attribute__((weak)) dc__port * dc__port_next_live(unsigned from) {
  fprintf(stderr, "drvcheck: dc__port_next_live not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__cb_enter(dc__port *p, dc__cb cb, ErlDrvTermData caller,
                  dc__cbframe *f) {
  fprintf(stderr, "drvcheck: dc__cb_enter not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__cb_leave(dc__port *p, dc__cbframe *f) {
  fprintf(stderr, "drvcheck: dc__cb_leave not implemented yet\n");
  abort();
}



__attribute__((weak)) ErlDrvSizeT dc__queue_clear(dc__port *p) {
  fprintf(stderr, "drvcheck: dc__queue_clear not implemented yet\n");
  abort();
}

__attribute__((weak)) ErlDrvSizeT dc__queue_size(dc__port *p) {
  fprintf(stderr, "drvcheck: dc__queue_size not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__pdl_port_gone(dc__port *p) {
  fprintf(stderr, "drvcheck: dc__pdl_port_gone not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__bin_valid(const ErlDrvBinary *bin) {
  fprintf(stderr, "drvcheck: dc__bin_valid not implemented yet\n");
  abort();
}

__attribute__((weak)) size_t dc__bin_live_count(void) {
  fprintf(stderr, "drvcheck: dc__bin_live_count not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__bin_reset(void) {
  fprintf(stderr, "drvcheck: dc__bin_reset not implemented yet\n");
  abort();
}

__attribute__((weak)) size_t dc__mem_live_count(size_t *bytes) {
  fprintf(stderr, "drvcheck: dc__mem_live_count not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__mem_valid(const void *ptr) {
  fprintf(stderr, "drvcheck: dc__mem_valid not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__mem_reset(void) {
  fprintf(stderr, "drvcheck: dc__mem_reset not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__timer_advance(uint64_t ms) {
  fprintf(stderr, "drvcheck: dc__timer_advance not implemented yet\n");
  abort();
}

__attribute__((weak)) uint64_t dc__timer_next(void) {
  fprintf(stderr, "drvcheck: dc__timer_next not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__timer_cancel_port(dc__port *p) {
  fprintf(stderr, "drvcheck: dc__timer_cancel_port not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__select_set_mode(dc__stop_select_mode m) {
  fprintf(stderr, "drvcheck: dc__select_set_mode not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__select_poll(int timeout_ms) {
  fprintf(stderr, "drvcheck: dc__select_poll not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__select_fire(int fd, int mode) {
  fprintf(stderr, "drvcheck: dc__select_fire not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__select_run_deferred(void) {
  fprintf(stderr, "drvcheck: dc__select_run_deferred not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__select_count(dc__port *p) {
  fprintf(stderr, "drvcheck: dc__select_count not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__select_next(int after, int *mode, dc__port **port) {
  fprintf(stderr, "drvcheck: dc__select_next not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__select_reset(void) {
  fprintf(stderr, "drvcheck: dc__select_reset not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__async_deliver(int max) {
  fprintf(stderr, "drvcheck: dc__async_deliver not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__async_wait_idle(void) {
  fprintf(stderr, "drvcheck: dc__async_wait_idle not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__async_pending(int *completed) {
  fprintf(stderr, "drvcheck: dc__async_pending not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__async_start(int nthreads) {
  fprintf(stderr, "drvcheck: dc__async_start not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__async_stop(void) {
  fprintf(stderr, "drvcheck: dc__async_stop not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__proc_exit(ErlDrvTermData pid, const char *reason_atom) {
  fprintf(stderr, "drvcheck: dc__proc_exit not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__monitor_port_gone(dc__port *p) {
  fprintf(stderr, "drvcheck: dc__monitor_port_gone not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__monitor_reset(void) {
  fprintf(stderr, "drvcheck: dc__monitor_reset not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__thread_live_counts(int *threads, int *locks) {
  fprintf(stderr, "drvcheck: dc__thread_live_counts not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__thread_reset(void) {
  fprintf(stderr, "drvcheck: dc__thread_reset not implemented yet\n");
  abort();
}

__attribute__((weak)) void dc__misc_reset(void) {
  fprintf(stderr, "drvcheck: dc__misc_reset not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__term_build(const ErlDrvTermData *spec, int n, ei_x_buff *x,
                   const char *api) {
  fprintf(stderr, "drvcheck: dc__term_build not implemented yet\n");
  abort();
}

__attribute__((weak)) int dc__deliver_data(dc__port *p, const char *hbuf, size_t hlen,
                     const SysIOVec *segs, int nsegs) {
  fprintf(stderr, "drvcheck: dc__deliver_data not implemented yet\n");
  abort();
}
