/* ctx_foreign_port_drv: a chat room with port-level locking.
 *
 * Every port opened on this driver joins one room; a command is broadcast
 * to all members as {Port, {data, Data}}, and stop takes the port out of
 * the room. The driver sets ERL_DRV_FLAG_USE_PORT_LOCKING for throughput
 * and guards the shared member list with a mutex created in init.
 *
 * The one defect: the broadcast calls driver_output on the OTHER members'
 * ports. With port-level locking a callback holds only its own port's
 * lock, so those calls race with the other ports' callbacks running on
 * other schedulers (the mutex protects the list, not the ports). Sending
 * to other ports needs erl_drv_send_term/erl_drv_output_term or driver
 * locking. Expected finding: ctx.foreign_port.
 */
#include <erl_driver.h>

#define MAX_MEMBERS 16

static ErlDrvMutex *room_lock;
static ErlDrvPort members[MAX_MEMBERS];
static int nmembers;

static int room_init(void) {
  room_lock = erl_drv_mutex_create("ctx_foreign_port_drv.room");
  return room_lock ? 0 : -1;
}

static void room_finish(void) { erl_drv_mutex_destroy(room_lock); }

static ErlDrvData room_start(ErlDrvPort port, char *command) {
  (void)command;
  erl_drv_mutex_lock(room_lock);
  int ok = nmembers < MAX_MEMBERS;
  if (ok)
    members[nmembers++] = port;
  erl_drv_mutex_unlock(room_lock);
  return ok ? (ErlDrvData)port : ERL_DRV_ERROR_GENERAL;
}

static void room_stop(ErlDrvData drv_data) {
  erl_drv_mutex_lock(room_lock);
  for (int i = 0; i < nmembers; i++)
    if (members[i] == (ErlDrvPort)drv_data) {
      members[i] = members[--nmembers];
      break;
    }
  erl_drv_mutex_unlock(room_lock);
}

static void room_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  (void)drv_data;
  erl_drv_mutex_lock(room_lock);
  for (int i = 0; i < nmembers; i++)
    driver_output(members[i], buf, len); /* BUG: other ports are unlocked */
  erl_drv_mutex_unlock(room_lock);
}

static ErlDrvEntry room_entry = {
    .init = room_init,
    .start = room_start,
    .stop = room_stop,
    .output = room_output,
    .finish = room_finish,
    .driver_name = "ctx_foreign_port_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = ERL_DRV_FLAG_USE_PORT_LOCKING,
};

DRIVER_INIT(ctx_foreign_port_drv) { return &room_entry; }
