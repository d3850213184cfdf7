/* thread_lock_order_drv: a session table with driver-wide accounting.
 *
 * The driver is written to run with port-level locking (ports in
 * parallel), so the shared structures have locks: table_mu guards the table of
 * open sessions, acct_mu the driver-wide byte accounting. A command is
 * accounted and then recorded as the session's last activity; control 1
 * (report) walks the table and adds the accounting totals to the reply (8
 * bytes: sessions, bytes).
 *
 * DEFECT (thread.lock_order): output takes acct_mu then table_mu, report
 * takes table_mu then acct_mu. Two ports doing these at the same time
 * deadlock; the inversion is there even when this run happened not to hang.
 * Both paths must take the locks in one global order.
 */
#include <erl_driver.h>

#include <stdint.h>

#define SESS_MAX 16

static ErlDrvMutex *table_mu, *acct_mu;
static ErlDrvPort sessions[SESS_MAX];
static unsigned long activity[SESS_MAX];
static int nsess;
static uint64_t acct_bytes;

static int lo_init(void) {
  table_mu = erl_drv_mutex_create("sessions.table");
  acct_mu = erl_drv_mutex_create("sessions.acct");
  nsess = 0;
  acct_bytes = 0;
  return table_mu && acct_mu ? 0 : -1;
}

static void lo_finish(void) {
  erl_drv_mutex_destroy(table_mu);
  erl_drv_mutex_destroy(acct_mu);
}

static ErlDrvData lo_start(ErlDrvPort port, char *command) {
  (void)command;
  int ok = 0;
  erl_drv_mutex_lock(table_mu);
  if (nsess < SESS_MAX) {
    activity[nsess] = 0;
    sessions[nsess++] = port;
    ok = 1;
  }
  erl_drv_mutex_unlock(table_mu);
  return ok ? (ErlDrvData)port : ERL_DRV_ERROR_GENERAL;
}

static void lo_stop(ErlDrvData d) {
  erl_drv_mutex_lock(table_mu);
  for (int i = 0; i < nsess; i++)
    if (sessions[i] == (ErlDrvPort)d) {
      nsess--;
      sessions[i] = sessions[nsess];
      activity[i] = activity[nsess];
      break;
    }
  erl_drv_mutex_unlock(table_mu);
}

static void lo_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  (void)buf;
  erl_drv_mutex_lock(acct_mu);
  acct_bytes += len;
  erl_drv_mutex_lock(table_mu); /* the defect: acct -> table */
  for (int i = 0; i < nsess; i++)
    if (sessions[i] == (ErlDrvPort)d)
      activity[i]++;
  erl_drv_mutex_unlock(table_mu);
  erl_drv_mutex_unlock(acct_mu);
}

static ErlDrvSSizeT lo_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  (void)d;
  (void)buf;
  (void)len;
  if (cmd != 1 || rlen < 8)
    return -1;
  erl_drv_mutex_lock(table_mu);
  uint32_t n = (uint32_t)nsess;
  erl_drv_mutex_lock(acct_mu); /* table -> acct */
  uint32_t b = (uint32_t)acct_bytes;
  erl_drv_mutex_unlock(acct_mu);
  erl_drv_mutex_unlock(table_mu);
  for (int i = 0; i < 4; i++) {
    (*rbuf)[i] = (char)(n >> (24 - 8 * i));
    (*rbuf)[4 + i] = (char)(b >> (24 - 8 * i));
  }
  return 8;
}

static ErlDrvEntry lo_entry = {
    .init = lo_init,
    .start = lo_start,
    .stop = lo_stop,
    .output = lo_output,
    .finish = lo_finish,
    .control = lo_control,
    .driver_name = "thread_lock_order_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(thread_lock_order_drv) { return &lo_entry; }
