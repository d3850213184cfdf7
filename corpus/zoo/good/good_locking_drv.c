/* good_locking_drv: a driver-wide name registry with port-level locking.
 *
 * With ERL_DRV_FLAG_USE_PORT_LOCKING, callbacks of different ports run in
 * parallel. Each port may register one name (control 1, payload = name,
 * up to 15 bytes); control 2 looks a name up and replies 1 if some port
 * holds it, 0 if not; commands are echoed with the port's name as prefix.
 * The registry is shared, so it sits under an rwlock (lookups read,
 * register/unregister write), created in init and destroyed in finish.
 * Per-port state needs no lock: the port lock covers it. Only the calling
 * port is ever passed to the driver API.
 */
#include <erl_driver.h>

#include <string.h>

#define NAMES 16
#define NAME_LEN 16

typedef struct {
  ErlDrvPort port;
  char name[NAME_LEN]; /* "" when unregistered */
} gl_state;

static ErlDrvRWLock *reg_lock;
static gl_state *owners[NAMES];

static int gl_init(void) {
  reg_lock = erl_drv_rwlock_create("registry");
  memset(owners, 0, sizeof owners);
  return reg_lock ? 0 : -1;
}

static void gl_finish(void) {
  erl_drv_rwlock_destroy(reg_lock);
  reg_lock = NULL;
}

static ErlDrvData gl_start(ErlDrvPort port, char *command) {
  (void)command;
  gl_state *st = driver_alloc(sizeof *st);
  if (!st)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  st->name[0] = '\0';
  return (ErlDrvData)st;
}

static void unregister(gl_state *st) {
  erl_drv_rwlock_rwlock(reg_lock);
  for (int i = 0; i < NAMES; i++)
    if (owners[i] == st)
      owners[i] = NULL;
  erl_drv_rwlock_rwunlock(reg_lock);
  st->name[0] = '\0';
}

static void gl_stop(ErlDrvData d) {
  gl_state *st = (gl_state *)d;
  unregister(st);
  driver_free(st);
}

static void gl_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  gl_state *st = (gl_state *)d;
  size_t nl = strlen(st->name);
  char *msg = driver_alloc(nl + 1 + len);
  if (!msg)
    return;
  memcpy(msg, st->name, nl);
  msg[nl] = ':';
  memcpy(msg + nl + 1, buf, len);
  driver_output(st->port, msg, nl + 1 + len);
  driver_free(msg);
}

/* 1 if some port holds name; the caller holds reg_lock. */
static int taken(const char *name) {
  for (int i = 0; i < NAMES; i++)
    if (owners[i] && strcmp(owners[i]->name, name) == 0)
      return 1;
  return 0;
}

static ErlDrvSSizeT gl_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  gl_state *st = (gl_state *)d;
  char name[NAME_LEN];
  if ((cmd != 1 && cmd != 2) || len == 0 || len >= NAME_LEN || rlen < 1)
    return -1;
  memcpy(name, buf, len);
  name[len] = '\0';
  if (strlen(name) != len)
    return -1; /* embedded NUL */
  int ok = 0;
  if (cmd == 2) {
    erl_drv_rwlock_rlock(reg_lock);
    ok = taken(name);
    erl_drv_rwlock_runlock(reg_lock);
  } else {
    unregister(st);
    erl_drv_rwlock_rwlock(reg_lock);
    for (int i = 0; i < NAMES && !ok && !taken(name); i++)
      if (!owners[i]) {
        memcpy(st->name, name, len + 1);
        owners[i] = st;
        ok = 1;
      }
    erl_drv_rwlock_rwunlock(reg_lock);
  }
  (*rbuf)[0] = (char)ok;
  return 1;
}

static ErlDrvEntry gl_entry = {
    .init = gl_init,
    .start = gl_start,
    .stop = gl_stop,
    .output = gl_output,
    .finish = gl_finish,
    .control = gl_control,
    .driver_name = "good_locking_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = ERL_DRV_FLAG_USE_PORT_LOCKING,
};

DRIVER_INIT(good_locking_drv) { return &gl_entry; }
