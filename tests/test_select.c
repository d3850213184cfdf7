/* driver_select: the fd registry, real and false events, one-shot re-arm,
 * the ERL_DRV_USE / stop_select protocol, steal and misuse reports.
 * ERTS facts come from erts/emulator/sys/common/erl_check_io.c (driver_select,
 * steal, erts_check_io) and shared/spec/protocol.md §3.13. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support.h"

#define EV(fd) ((ErlDrvEvent)(intptr_t)(fd))

/* What the test driver saw. Each test runs in its own process. */
static struct {
  int input_calls, output_calls;
  char order[32]; /* 'o' / 'i' per callback, in call order */
  int norder;
  int last_fd;
  ErlDrvData last_data;
  dc__cb input_cb;
  const char *stimulus;
  int consume;              /* ready_input drains the fd */
  int deselect_read_on_out; /* ready_output deselects READ */
  int stop_use_fd;          /* stop() deselects this fd with USE, or -1 */
  int stop_calls, stop_fd, stop_inside;
  dc__cb stop_cb;
  dc__thr_kind stop_kind;
  pthread_t stop_thread;
  dc__port *stop_port;
  void *stop_reserved;
} rec = {.stop_use_fd = -1};
static int in_select; /* set while the test is inside driver_select */

static ErlDrvData drv_start(ErlDrvPort port, char *cmd) {
  (void)cmd;
  return (ErlDrvData)port;
}

static void drv_stop(ErlDrvData d) {
  if (rec.stop_use_fd >= 0) {
    in_select = 1;
    driver_select((ErlDrvPort)d, EV(rec.stop_use_fd), ERL_DRV_USE, 0);
    in_select = 0;
  }
}

static void drv_ready_input(ErlDrvData d, ErlDrvEvent ev) {
  rec.input_calls++;
  rec.order[rec.norder++ % 31] = 'i';
  rec.last_fd = (int)(intptr_t)ev;
  rec.last_data = d;
  rec.input_cb = dc__tls.cb;
  rec.stimulus = dc__tls.stimulus;
  if (rec.consume) {
    char buf[64];
    while (read(rec.last_fd, buf, sizeof buf) > 0)
      ;
  }
}

static void drv_ready_output(ErlDrvData d, ErlDrvEvent ev) {
  rec.output_calls++;
  rec.order[rec.norder++ % 31] = 'o';
  if (rec.deselect_read_on_out)
    driver_select((ErlDrvPort)d, ev, ERL_DRV_READ, 0);
}

static void drv_stop_select(ErlDrvEvent ev, void *reserved) {
  rec.stop_calls++;
  rec.stop_fd = (int)(intptr_t)ev;
  rec.stop_inside = in_select;
  rec.stop_cb = dc__tls.cb;
  rec.stop_kind = dc__tls.kind;
  rec.stop_thread = pthread_self();
  rec.stop_port = dc__tls.port;
  rec.stop_reserved = reserved;
}

static ErlDrvEntry entry;
static ErlDrvEntry *get_entry(void) { return &entry; }
static ErlDrvTermData owner;

/* Loads the test driver; with_ready/with_stop choose which callbacks exist. */
static void setup_with(int with_ready, int with_stop) {
  memset(&entry, 0, sizeof entry);
  entry.start = drv_start;
  entry.stop = drv_stop;
  entry.ready_input = with_ready ? drv_ready_input : NULL;
  entry.ready_output = with_ready ? drv_ready_output : NULL;
  entry.stop_select = with_stop ? drv_stop_select : NULL;
  entry.driver_name = "seltest";
  entry.extended_marker = ERL_DRV_EXTENDED_MARKER;
  entry.major_version = ERL_DRV_EXTENDED_MAJOR_VERSION;
  entry.minor_version = ERL_DRV_EXTENDED_MINOR_VERSION;
  dc_test_load_static(get_entry);
  owner = dc__proc_spawn("owner");
}
static void setup(void) { setup_with(1, 1); }

static dc__port *open_port(void) {
  return dc_test_open_port("seltest", 0, owner);
}

/* driver_select as the driver calls it: from a callback of port p. */
static int sel(dc__port *p, int fd, int mode, int on) {
  dc__cbframe f;
  dc__cb_enter(p, DC__CB_CONTROL, DC__NIL, &f);
  in_select = 1;
  int rc = driver_select(dc__port_handle(p), EV(fd), mode, on);
  in_select = 0;
  dc__cb_leave(p, &f);
  return rc;
}

static void mkpipe(int fds[2], int nonblock) {
  if (pipe2(fds, nonblock ? O_NONBLOCK : 0) != 0)
    DC_FAIL("pipe2 failed");
}

static void put(int fd) {
  if (write(fd, "x", 1) != 1)
    DC_FAIL("write failed");
}

DC_TEST(real_input_event_dispatches_ready_input) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  DC_ASSERT_EQ(sel(p, fds[0], ERL_DRV_READ, 1), 0);
  DC_ASSERT_EQ(dc__select_poll(0), 0); /* nothing to read yet */
  DC_ASSERT_EQ(rec.input_calls, 0);
  put(fds[1]);
  DC_ASSERT_EQ(dc__select_poll(0), 1);
  DC_ASSERT_EQ(rec.input_calls, 1);
  DC_ASSERT_EQ(rec.last_fd, fds[0]);
  DC_ASSERT(rec.last_data == (ErlDrvData)dc__port_handle(p));
  DC_ASSERT_EQ(rec.input_cb, DC__CB_READY_INPUT);
  DC_ASSERT(rec.stimulus == NULL);
}

DC_TEST(write_interest_dispatches_ready_output) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  DC_ASSERT_EQ(sel(p, fds[1], ERL_DRV_WRITE, 1), 0);
  DC_ASSERT_EQ(dc__select_poll(0), 1); /* an empty pipe is writable */
  DC_ASSERT_EQ(rec.output_calls, 1);
  DC_ASSERT_EQ(rec.input_calls, 0);
}

/* Readiness is one-shot per round and re-armed after the callback: data
 * left unread fires again on the next round (level-triggered overall). */
DC_TEST(unconsumed_input_fires_once_per_round_and_again) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  sel(p, fds[0], ERL_DRV_READ, 1);
  put(fds[1]);
  DC_ASSERT_EQ(dc__select_poll(0), 1);
  DC_ASSERT_EQ(dc__select_poll(0), 1);
  DC_ASSERT_EQ(rec.input_calls, 2);
  rec.consume = 1;
  DC_ASSERT_EQ(dc__select_poll(0), 1);
  DC_ASSERT_EQ(dc__select_poll(0), 0); /* drained: no more events */
  DC_ASSERT_EQ(rec.input_calls, 3);
}

/* erts_check_io: output is scheduled before input. */
DC_TEST(output_is_dispatched_before_input) {
  setup();
  dc__port *p = open_port();
  int sv[2];
  DC_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  sel(p, sv[0], ERL_DRV_READ | ERL_DRV_WRITE, 1);
  put(sv[1]);
  DC_ASSERT_EQ(dc__select_poll(0), 2);
  DC_ASSERT_EQ(rec.norder, 2);
  DC_ASSERT_EQ(rec.order[0], 'o');
  DC_ASSERT_EQ(rec.order[1], 'i');
}

/* erts_check_io re-reads the events after ready_output: input deselected
 * there is not delivered any more. */
DC_TEST(input_deselected_in_ready_output_is_not_delivered) {
  setup();
  dc__port *p = open_port();
  int sv[2];
  DC_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  sel(p, sv[0], ERL_DRV_READ | ERL_DRV_WRITE, 1);
  put(sv[1]);
  rec.deselect_read_on_out = 1;
  DC_ASSERT_EQ(dc__select_poll(0), 1);
  DC_ASSERT_EQ(rec.output_calls, 1);
  DC_ASSERT_EQ(rec.input_calls, 0);
}

DC_TEST(deselected_fd_gets_no_events) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  sel(p, fds[0], ERL_DRV_READ, 1);
  put(fds[1]);
  DC_ASSERT_EQ(sel(p, fds[0], ERL_DRV_READ, 0), 0);
  DC_ASSERT_EQ(dc__select_poll(0), 0);
  DC_ASSERT_EQ(rec.input_calls, 0);
  DC_ASSERT_EQ(dc__select_count(p), 0);
}

DC_TEST(fire_on_idle_fd_is_a_false_event) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  sel(p, fds[0], ERL_DRV_READ, 1);
  DC_ASSERT_EQ(dc__select_fire(fds[0], ERL_DRV_READ), 0);
  DC_ASSERT_EQ(rec.input_calls, 1);
  DC_ASSERT_STREQ(rec.stimulus, "false_event");
  DC_ASSERT(dc__tls.stimulus == NULL); /* restored after the callback */
  put(fds[1]);
  DC_ASSERT_EQ(dc__select_fire(fds[0], ERL_DRV_READ), 0);
  DC_ASSERT_EQ(rec.input_calls, 2);
  DC_ASSERT(rec.stimulus == NULL); /* really ready: not a false event */
}

DC_TEST(fire_needs_a_selected_mode) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  DC_ASSERT_EQ(dc__select_fire(fds[0], ERL_DRV_READ), -1);
  sel(p, fds[1], ERL_DRV_WRITE, 1);
  DC_ASSERT_EQ(dc__select_fire(fds[1], ERL_DRV_READ), -1);
  DC_ASSERT_EQ(dc__select_fire(fds[1], ERL_DRV_WRITE), 0);
  DC_ASSERT_EQ(rec.output_calls, 1);
  DC_ASSERT_EQ(rec.input_calls, 0);
}

/* OTP 25 run (protocol.md §3.13): stop_select runs inside driver_select. */
DC_TEST(use_deselect_calls_stop_select_inside_driver_select) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  sel(p, fds[0], ERL_DRV_READ | ERL_DRV_USE, 1);
  DC_ASSERT_EQ(dc__select_count(p), 1);
  DC_ASSERT_EQ(rec.stop_calls, 0);
  DC_ASSERT_EQ(sel(p, fds[0], ERL_DRV_USE, 0), 0);
  DC_ASSERT_EQ(rec.stop_calls, 1);
  DC_ASSERT_EQ(rec.stop_inside, 1);
  DC_ASSERT_EQ(rec.stop_fd, fds[0]);
  DC_ASSERT(rec.stop_reserved == NULL);
  DC_ASSERT_EQ(rec.stop_cb, DC__CB_STOP_SELECT);
  DC_ASSERT(pthread_equal(rec.stop_thread, pthread_self()));
  DC_ASSERT_EQ(dc__tls.cb, DC__CB_NONE); /* context restored */
  DC_ASSERT_EQ(dc__g.cb_count[DC__CB_STOP_SELECT], 1);
  DC_ASSERT_EQ(dc__select_count(p), 0);
  put(fds[1]);
  DC_ASSERT_EQ(dc__select_poll(0), 0);
}

/* OTP 25 run: deselect-with-USE of a never selected fd still calls it. */
DC_TEST(use_deselect_of_never_selected_fd_calls_stop_select) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  DC_ASSERT_EQ(sel(p, fds[0], ERL_DRV_USE, 0), 0);
  DC_ASSERT_EQ(rec.stop_calls, 1);
  DC_ASSERT_EQ(rec.stop_inside, 1);
}

DC_TEST(stop_select_from_stop_callback_runs_before_terminate_returns) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  sel(p, fds[0], ERL_DRV_READ | ERL_DRV_USE, 1);
  rec.stop_use_fd = fds[0];
  dc__port_terminate(p, "normal");
  DC_ASSERT_EQ(rec.stop_calls, 1);
  DC_ASSERT_EQ(rec.stop_cb, DC__CB_STOP_SELECT);
  DC_ASSERT_EQ(dc__select_count(p), 0);
}

DC_TEST(use_no_callback_deselects_without_stop_select) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  sel(p, fds[0], ERL_DRV_READ | ERL_DRV_USE, 1);
  DC_ASSERT_EQ(sel(p, fds[0], ERL_DRV_READ | ERL_DRV_USE_NO_CALLBACK, 0), 0);
  DC_ASSERT_EQ(rec.stop_calls, 0);
  DC_ASSERT_EQ(dc__select_count(p), 0);
  put(fds[1]);
  DC_ASSERT_EQ(dc__select_poll(0), 0);
}

/* erl_check_io.c driver_select: the USE flag outlives READ/WRITE removal
 * (the fd "will probably be selected upon again") until USE is dropped. */
DC_TEST(use_flag_survives_event_removal) {
  setup();
  dc__port *p = open_port();
  int fds[2], mode = 0;
  dc__port *o = NULL;
  mkpipe(fds, 1);
  sel(p, fds[0], ERL_DRV_READ | ERL_DRV_USE, 1);
  sel(p, fds[0], ERL_DRV_READ, 0);
  DC_ASSERT_EQ(dc__select_count(p), 1);
  DC_ASSERT_EQ(dc__select_next(-1, &mode, &o), fds[0]);
  DC_ASSERT_EQ(mode, ERL_DRV_USE);
  DC_ASSERT(o == p);
  sel(p, fds[0], ERL_DRV_USE, 0);
  DC_ASSERT_EQ(rec.stop_calls, 1);
  DC_ASSERT_EQ(dc__select_next(-1, &mode, &o), -1);
}

/* erl_check_io.c driver_select: USE is only recorded together with newly
 * added READ/WRITE interest; USE on its own changes nothing. */
DC_TEST(use_alone_records_nothing) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  DC_ASSERT_EQ(sel(p, fds[0], ERL_DRV_USE, 1), 0);
  DC_ASSERT_EQ(dc__select_count(p), 0);
  sel(p, fds[0], ERL_DRV_USE, 0);
  DC_ASSERT_EQ(rec.stop_calls, 1);
}

DC_TEST(deferred_stop_select_runs_unlocked_on_poll_thread_after_port_died) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  dc__select_set_mode(DC__SS_DEFERRED);
  sel(p, fds[0], ERL_DRV_READ | ERL_DRV_USE, 1);
  DC_ASSERT_EQ(sel(p, fds[0], ERL_DRV_USE, 0), 0);
  DC_ASSERT_EQ(rec.stop_calls, 0);
  DC_ASSERT_EQ(dc__select_count(p), 0);
  dc__port_terminate(p, "normal");
  DC_ASSERT_EQ(p->state, DC__PORT_DEAD);
  DC_ASSERT_EQ(dc__select_run_deferred(), 1);
  DC_ASSERT_EQ(rec.stop_calls, 1);
  DC_ASSERT_EQ(rec.stop_fd, fds[0]);
  DC_ASSERT(!pthread_equal(rec.stop_thread, pthread_self()));
  DC_ASSERT_EQ(rec.stop_kind, DC__THR_POLL);
  DC_ASSERT_EQ(rec.stop_cb, DC__CB_STOP_SELECT);
  DC_ASSERT(rec.stop_port == NULL);
  DC_ASSERT_EQ(dc__select_run_deferred(), 0); /* ran once only */
}

/* erl_check_io.c driver_select: an fd unknown to check-io takes the "fast
 * track": stop_select runs at once even where a known fd would defer. */
DC_TEST(never_selected_fd_gets_stop_select_at_once_even_in_deferred_mode) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  dc__select_set_mode(DC__SS_DEFERRED);
  sel(p, fds[0], ERL_DRV_USE, 0);
  DC_ASSERT_EQ(rec.stop_calls, 1);
  DC_ASSERT_EQ(rec.stop_inside, 1);
  DC_ASSERT_EQ(dc__select_run_deferred(), 0);
}

/* ERTS "called before stop_select was called": the pending stop_select is
 * cancelled and never runs. */
DC_TEST(reselect_before_deferred_stop_select_is_reported_and_cancels_it) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  dc__select_set_mode(DC__SS_DEFERRED);
  sel(p, fds[0], ERL_DRV_READ | ERL_DRV_USE, 1);
  sel(p, fds[0], ERL_DRV_USE, 0);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_SELECT_RESELECT_BEFORE_STOP_SELECT),
               0);
  DC_ASSERT_EQ(sel(p, fds[0], ERL_DRV_READ | ERL_DRV_USE, 1), 0);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_SELECT_RESELECT_BEFORE_STOP_SELECT),
               1);
  DC_ASSERT_EQ(dc__select_run_deferred(), 0);
  DC_ASSERT_EQ(rec.stop_calls, 0);
  DC_ASSERT_EQ(dc__select_count(p), 1);
}

/* driver_SUITE steal_control: a second live port takes the fd over. */
DC_TEST(selecting_fd_of_other_live_port_steals_it) {
  setup();
  dc__port *p1 = open_port(), *p2 = open_port();
  int fds[2];
  mkpipe(fds, 1);
  sel(p1, fds[0], ERL_DRV_READ, 1);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_SELECT_STEAL), 0);
  DC_ASSERT_EQ(sel(p2, fds[0], ERL_DRV_READ, 1), 0);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_SELECT_STEAL), 1);
  DC_ASSERT_EQ(dc__select_count(p1), 0);
  DC_ASSERT_EQ(dc__select_count(p2), 1);
  put(fds[1]);
  DC_ASSERT_EQ(dc__select_poll(0), 1);
  DC_ASSERT(rec.last_data == (ErlDrvData)dc__port_handle(p2));
}

DC_TEST(fd_left_by_dead_port_is_taken_without_steal_report) {
  setup();
  dc__port *p1 = open_port(), *p2 = open_port();
  int fds[2];
  mkpipe(fds, 1);
  sel(p1, fds[0], ERL_DRV_READ, 1);
  dc__port_terminate(p1, "normal");
  DC_ASSERT_EQ(dc__select_count(p1), 1); /* ERTS does not clean up */
  sel(p2, fds[0], ERL_DRV_READ, 1);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_SELECT_STEAL), 0);
  DC_ASSERT_EQ(dc__select_count(p1), 0);
  DC_ASSERT_EQ(dc__select_count(p2), 1);
}

DC_TEST(events_of_dead_port_are_dropped) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  sel(p, fds[0], ERL_DRV_READ, 1);
  dc__port_terminate(p, "normal");
  put(fds[1]);
  DC_ASSERT_EQ(dc__select_poll(0), 0);
  DC_ASSERT_EQ(rec.input_calls, 0);
  DC_ASSERT_EQ(dc__select_count(p), 0); /* stale interest deselected */
}

/* driver_SUITE missing_callbacks: returns 0; the event deselects the fd. */
DC_TEST(null_ready_input_selects_and_event_deselects) {
  setup_with(0, 1);
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  DC_ASSERT_EQ(sel(p, fds[0], ERL_DRV_READ, 1), 0);
  DC_ASSERT_EQ(dc__select_count(p), 1);
  put(fds[1]);
  DC_ASSERT_EQ(dc__select_poll(0), 0);
  DC_ASSERT_EQ(dc__select_count(p), 0);
  DC_ASSERT_EQ(dc__select_fire(fds[0], ERL_DRV_READ), -1);
}

DC_TEST(invalid_port_returns_minus_one) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  dc__port_terminate(p, "normal");
  DC_ASSERT_EQ(driver_select(dc__port_handle(p), EV(fds[0]), ERL_DRV_READ, 1),
               -1);
  DC_ASSERT_EQ(dc__select_count(p), 0);
}

DC_TEST(bad_events_are_reported) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  DC_ASSERT_EQ(sel(p, -1, ERL_DRV_READ, 1), -1);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_SELECT_BAD_EVENT), 1);
  dc__findings_reset();
  close(fds[1]);
  DC_ASSERT_EQ(sel(p, fds[1], ERL_DRV_WRITE, 1), 0); /* closed fd */
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_SELECT_BAD_EVENT), 1);
  dc__findings_reset();
  sel(p, fds[0], ERL_DRV_READ | 0x40, 1); /* unknown mode bit */
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_SELECT_BAD_EVENT), 1);
}

DC_TEST(good_use_is_not_reported) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  sel(p, fds[0], ERL_DRV_READ | ERL_DRV_USE, 1);
  put(fds[1]);
  rec.consume = 1;
  dc__select_poll(0);
  sel(p, fds[0], ERL_DRV_USE, 0);
  size_t n;
  dc__findings(&n);
  DC_ASSERT_EQ(n, 0);
}

DC_TEST(use_without_stop_select_is_reported) {
  setup_with(1, 0);
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  sel(p, fds[0], ERL_DRV_READ, 1);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_SELECT_NO_STOP_SELECT), 0);
  DC_ASSERT_EQ(sel(p, fds[0], ERL_DRV_READ | ERL_DRV_USE, 1), 0);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_SELECT_NO_STOP_SELECT), 1);
}

DC_TEST(blocking_pipe_is_warned_but_regular_file_is_not) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 0);
  char path[] = "/tmp/dc_select_XXXXXX";
  int file = mkstemp(path);
  DC_ASSERT(file >= 0);
  unlink(path);
  sel(p, file, ERL_DRV_READ, 1);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_SELECT_BLOCKING_FD), 0);
  sel(p, fds[0], ERL_DRV_READ, 1);
  DC_ASSERT_EQ(dc__findings_count(DC_RULE_SELECT_BLOCKING_FD), 1);
}

DC_TEST(count_and_next_walk_selected_fds_in_order) {
  setup();
  dc__port *p = open_port();
  int a[2], b[2], mode = 0;
  dc__port *o = NULL;
  mkpipe(a, 1);
  mkpipe(b, 1);
  sel(p, b[1], ERL_DRV_WRITE, 1);
  sel(p, a[0], ERL_DRV_READ | ERL_DRV_USE, 1);
  DC_ASSERT_EQ(dc__select_count(p), 2);
  int first = a[0] < b[1] ? a[0] : b[1], second = a[0] < b[1] ? b[1] : a[0];
  DC_ASSERT_EQ(dc__select_next(-1, &mode, &o), first);
  DC_ASSERT(o == p);
  DC_ASSERT_EQ(mode,
               first == a[0] ? ERL_DRV_READ | ERL_DRV_USE : ERL_DRV_WRITE);
  DC_ASSERT_EQ(dc__select_next(first, &mode, &o), second);
  DC_ASSERT_EQ(dc__select_next(second, &mode, &o), -1);
  dc__select_reset(); /* forgets everything, closes nothing */
  DC_ASSERT_EQ(dc__select_count(p), 0);
  DC_ASSERT(fcntl(a[0], F_GETFD) >= 0);
}

DC_TEST(high_fd_numbers_are_direct_slots) {
  setup();
  dc__port *p = open_port();
  int fds[2];
  mkpipe(fds, 1);
  int hi = dup2(fds[0], 5000);
  if (hi < 0)
    return; /* RLIMIT_NOFILE too small here */
  sel(p, hi, ERL_DRV_READ, 1);
  put(fds[1]);
  DC_ASSERT_EQ(dc__select_poll(0), 1);
  DC_ASSERT_EQ(rec.last_fd, 5000);
}
