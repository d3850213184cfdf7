/* thread_lock_held_on_return_drv: a non-blocking shared table.
 *
 * All ports share a small key/value table under one mutex. So that a
 * scheduler never waits for another scheduler, callbacks only try the lock
 * (erl_drv_mutex_trylock) and answer "busy" when it is taken. control 1
 * stores a 32-bit value (payload: 1-byte key, then exactly 4 value bytes);
 * control 2 (payload: key) replies with the value; commands are echoed.
 *
 * DEFECT (thread.lock_held_on_return): the validation failure of "store"
 * (a payload that is not key + 4 bytes) returns -1 without unlocking. The
 * callback returns to the emulator holding the table mutex: every later request
 * finds the table "busy" forever (and a blocking lock would deadlock).
 */
#include <erl_driver.h>

#include <string.h>

#define KEYS 256
#define VAL_LEN 4

static ErlDrvMutex *tab_mu;
static char vals[KEYS][VAL_LEN];
static unsigned char vlen[KEYS];

static int tb_init(void) {
  tab_mu = erl_drv_mutex_create("table.mu");
  memset(vlen, 0, sizeof vlen);
  return tab_mu ? 0 : -1;
}

/* Destroys the table lock only when nobody holds it (never destroy a
 * locked mutex). */
static void tb_finish(void) {
  if (erl_drv_mutex_trylock(tab_mu) == 0) {
    erl_drv_mutex_unlock(tab_mu);
    erl_drv_mutex_destroy(tab_mu);
  }
  tab_mu = NULL;
}

static ErlDrvData tb_start(ErlDrvPort port, char *command) {
  (void)command;
  return (ErlDrvData)port;
}

static void tb_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  driver_output((ErlDrvPort)d, buf, len);
}

static ErlDrvSSizeT busy(char **rbuf, ErlDrvSizeT rlen) {
  if (rlen < 4)
    return -1;
  memcpy(*rbuf, "busy", 4);
  return 4;
}

static ErlDrvSSizeT tb_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  (void)d;
  if ((cmd != 1 && cmd != 2) || len < 1)
    return -1;
  if (erl_drv_mutex_trylock(tab_mu) != 0)
    return busy(rbuf, rlen);
  unsigned char k = (unsigned char)buf[0];
  if (cmd == 1) {
    if (len != 1 + VAL_LEN)
      return -1; /* the defect: tab_mu is still locked */
    memcpy(vals[k], buf + 1, VAL_LEN);
    vlen[k] = VAL_LEN;
    erl_drv_mutex_unlock(tab_mu);
    return 0;
  }
  ErlDrvSSizeT n = vlen[k] <= rlen ? vlen[k] : -1;
  if (n > 0)
    memcpy(*rbuf, vals[k], (size_t)n);
  erl_drv_mutex_unlock(tab_mu);
  return n;
}

static ErlDrvEntry tb_entry = {
    .init = tb_init,
    .start = tb_start,
    .output = tb_output,
    .finish = tb_finish,
    .control = tb_control,
    .driver_name = "thread_lock_held_on_return_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(thread_lock_held_on_return_drv) { return &tb_entry; }
