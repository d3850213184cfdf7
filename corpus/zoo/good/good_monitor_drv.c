/* good_monitor_drv: subscriptions that end when the subscriber dies.
 *
 * control 1 subscribes the calling process (driver_caller) and monitors it
 * (driver_monitor_process); control 2 unsubscribes it (demonitor). Every
 * command is forwarded to all subscribers with erl_drv_send_term as
 * {Port, {data, Binary}}. When a subscriber exits, process_exit removes it
 * (matching the monitor with driver_compare_monitors) and tells the owner
 * {Port, {down, Pid}}. stop demonitors whoever is left.
 */
#include <erl_driver.h>

#define SUBS 8

typedef struct {
  ErlDrvTermData pid;
  ErlDrvMonitor mon;
} sub;

typedef struct {
  ErlDrvPort port;
  ErlDrvTermData port_term, data_atom, down_atom;
  sub subs[SUBS];
  int n;
} gm_state;

static ErlDrvData gm_start(ErlDrvPort port, char *command) {
  (void)command;
  gm_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->port_term = driver_mk_port(port);
  st->data_atom = driver_mk_atom("data");
  st->down_atom = driver_mk_atom("down");
  st->n = 0;
  return (ErlDrvData)st;
}

static void gm_stop(ErlDrvData d) {
  gm_state *st = (gm_state *)d;
  for (int i = 0; i < st->n; i++)
    driver_demonitor_process(st->port, &st->subs[i].mon);
  driver_free(st);
}

static int find(gm_state *st, ErlDrvTermData pid) {
  for (int i = 0; i < st->n; i++)
    if (st->subs[i].pid == pid)
      return i;
  return -1;
}

static void drop(gm_state *st, int i) { st->subs[i] = st->subs[--st->n]; }

static void gm_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  gm_state *st = (gm_state *)d;
  for (int i = 0; i < st->n; i++) {
    ErlDrvTermData spec[] = {
        ERL_DRV_PORT,
        st->port_term,
        ERL_DRV_ATOM,
        st->data_atom,
        ERL_DRV_BUF2BINARY,
        (ErlDrvTermData)buf,
        (ErlDrvTermData)len,
        ERL_DRV_TUPLE,
        2,
        ERL_DRV_TUPLE,
        2,
    };
    erl_drv_send_term(st->port_term, st->subs[i].pid, spec,
                      (int)(sizeof spec / sizeof spec[0]));
  }
}

static ErlDrvSSizeT gm_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  gm_state *st = (gm_state *)d;
  ErlDrvTermData caller = driver_caller(st->port);
  int i = find(st, caller);
  (void)buf;
  (void)len;
  (void)rbuf;
  (void)rlen;
  if (cmd == 1) {
    if (i >= 0)
      return 0;
    if (st->n == SUBS)
      return -1;
    sub *s = &st->subs[st->n];
    if (driver_monitor_process(st->port, caller, &s->mon) != 0)
      return -1; /* the caller is already dead */
    s->pid = caller;
    st->n++;
    return 0;
  }
  if (cmd == 2) {
    if (i >= 0) {
      driver_demonitor_process(st->port, &st->subs[i].mon);
      drop(st, i);
    }
    return 0;
  }
  return -1;
}

static void gm_process_exit(ErlDrvData d, ErlDrvMonitor *mon) {
  gm_state *st = (gm_state *)d;
  for (int i = 0; i < st->n; i++) {
    if (driver_compare_monitors(&st->subs[i].mon, mon) != 0)
      continue;
    ErlDrvTermData spec[] = {
        ERL_DRV_PORT,  st->port_term,
        ERL_DRV_ATOM,  st->down_atom,
        ERL_DRV_PID,   st->subs[i].pid,
        ERL_DRV_TUPLE, 2,
        ERL_DRV_TUPLE, 2,
    };
    erl_drv_output_term(st->port_term, spec,
                        (int)(sizeof spec / sizeof spec[0]));
    drop(st, i);
    return;
  }
}

static ErlDrvEntry gm_entry = {
    .start = gm_start,
    .stop = gm_stop,
    .output = gm_output,
    .control = gm_control,
    .driver_name = "good_monitor_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .process_exit = gm_process_exit,
};

DRIVER_INIT(good_monitor_drv) { return &gm_entry; }
