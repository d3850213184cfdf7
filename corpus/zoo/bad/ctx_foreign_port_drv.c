/* ctx_foreign_port_drv: a fan-out relay with port-level locking.
 *
 * With ERL_DRV_FLAG_USE_PORT_LOCKING, callbacks of different ports may run
 * at the same time. The member list is shared, so it lives under an
 * erl_drv mutex (created in init, destroyed in finish), and every port adds
 * itself in start and removes itself in stop. A command is relayed to every
 * other member.
 *
 * DEFECT (ctx.foreign_port): the relay calls driver_output on the OTHER
 * ports. Only the port whose callback runs is locked; driver_output on
 * another port races with that port's own callbacks. A relay has to send
 * to the other ports' owners with erl_drv_send_term instead.
 */
#include <erl_driver.h>

#define FAN_MAX 16

static ErlDrvMutex *fan_mu;
static ErlDrvPort fan[FAN_MAX];
static int nfan;

static int fan_init(void) {
  fan_mu = erl_drv_mutex_create("fanout.members");
  nfan = 0;
  return fan_mu ? 0 : -1;
}

static void fan_finish(void) {
  erl_drv_mutex_destroy(fan_mu);
  fan_mu = NULL;
}

static ErlDrvData fan_start(ErlDrvPort port, char *command) {
  (void)command;
  int ok = 0;
  erl_drv_mutex_lock(fan_mu);
  if (nfan < FAN_MAX) {
    fan[nfan++] = port;
    ok = 1;
  }
  erl_drv_mutex_unlock(fan_mu);
  return ok ? (ErlDrvData)port : ERL_DRV_ERROR_GENERAL;
}

static void fan_stop(ErlDrvData d) {
  ErlDrvPort self = (ErlDrvPort)d;
  erl_drv_mutex_lock(fan_mu);
  for (int i = 0; i < nfan; i++)
    if (fan[i] == self) {
      fan[i] = fan[--nfan];
      break;
    }
  erl_drv_mutex_unlock(fan_mu);
}

static void fan_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  ErlDrvPort self = (ErlDrvPort)d;
  erl_drv_mutex_lock(fan_mu);
  for (int i = 0; i < nfan; i++)
    if (fan[i] != self)
      driver_output(fan[i], buf, len); /* the defect: a foreign port */
  erl_drv_mutex_unlock(fan_mu);
}

static ErlDrvEntry fan_entry = {
    .init = fan_init,
    .start = fan_start,
    .stop = fan_stop,
    .output = fan_output,
    .finish = fan_finish,
    .driver_name = "ctx_foreign_port_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = ERL_DRV_FLAG_USE_PORT_LOCKING,
};

DRIVER_INIT(ctx_foreign_port_drv) { return &fan_entry; }
