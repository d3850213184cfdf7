/* entry_modified_drv: an echo that enables port-level locking when it can.
 *
 * Commands are echoed ({Port, {data, Data}}); the driver keeps a
 * driver-wide command counter under a mutex (control 1 replies with it,
 * 4 bytes), so it is safe to run with ERL_DRV_FLAG_USE_PORT_LOCKING.
 *
 * DEFECT (entry.modified): init decides at run time whether to use
 * port-level locking (when the emulator has more than one scheduler) and
 * sets the flag in its ErlDrvEntry. The emulator copied the entry when
 * driver_init returned; changing it afterwards is ignored at best. Flags
 * must be final before driver_init returns.
 */
#include <erl_driver.h>

#include <stdint.h>

static ErlDrvMutex *cnt_mu;
static uint32_t cnt;
static ErlDrvEntry em_entry;

static int em_init(void) {
  ErlDrvSysInfo si;
  driver_system_info(&si, sizeof si);
  if (si.scheduler_threads > 1)
    em_entry.driver_flags |= ERL_DRV_FLAG_USE_PORT_LOCKING; /* the defect */
  cnt_mu = erl_drv_mutex_create("echo.count");
  cnt = 0;
  return cnt_mu ? 0 : -1;
}

static void em_finish(void) { erl_drv_mutex_destroy(cnt_mu); }

static ErlDrvData em_start(ErlDrvPort port, char *command) {
  (void)command;
  return (ErlDrvData)port;
}

static void em_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  erl_drv_mutex_lock(cnt_mu);
  cnt++;
  erl_drv_mutex_unlock(cnt_mu);
  driver_output((ErlDrvPort)d, buf, len);
}

static ErlDrvSSizeT em_control(ErlDrvData d, unsigned int cmd, char *buf,
                               ErlDrvSizeT len, char **rbuf, ErlDrvSizeT rlen) {
  (void)d;
  (void)buf;
  (void)len;
  if (cmd != 1 || rlen < 4)
    return -1;
  erl_drv_mutex_lock(cnt_mu);
  uint32_t c = cnt;
  erl_drv_mutex_unlock(cnt_mu);
  for (int i = 0; i < 4; i++)
    (*rbuf)[i] = (char)(c >> (24 - 8 * i));
  return 4;
}

static ErlDrvEntry em_entry = {
    .init = em_init,
    .start = em_start,
    .output = em_output,
    .finish = em_finish,
    .control = em_control,
    .driver_name = "entry_modified_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(entry_modified_drv) { return &em_entry; }
