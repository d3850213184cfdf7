/* ctx_dead_port_drv: a chat room whose members never leave.
 *
 * Every port opened on this driver joins one room. A command is broadcast
 * to all members as {Port, {data, Data}} (the driver uses the default
 * driver-level lock, so one callback at a time may touch every port); when
 * a port closes, stop tells the remaining members "left".
 *
 * The one defect: stop announces the departure but never takes the port
 * out of the room. The next departure (or broadcast) then calls
 * driver_output with the handle of a port that has terminated: in ERTS
 * that handle points at freed or reused port memory.
 * Expected finding: ctx.dead_port.
 */
#include <erl_driver.h>

#define MAX_MEMBERS 16

static ErlDrvPort members[MAX_MEMBERS];
static int nmembers;

static ErlDrvData room_start(ErlDrvPort port, char *command) {
  (void)command;
  if (nmembers == MAX_MEMBERS)
    return ERL_DRV_ERROR_GENERAL;
  members[nmembers++] = port;
  return (ErlDrvData)port;
}

static void broadcast(ErlDrvPort from, char *buf, ErlDrvSizeT len,
                      int include_self) {
  for (int i = 0; i < nmembers; i++)
    if (include_self || members[i] != from)
      driver_output(members[i], buf, len);
}

static void room_stop(ErlDrvData drv_data) {
  /* BUG: the port should be removed from members[] here. */
  broadcast((ErlDrvPort)drv_data, "left", 4, 0);
}

static void room_output(ErlDrvData drv_data, char *buf, ErlDrvSizeT len) {
  broadcast((ErlDrvPort)drv_data, buf, len, 1);
}

static void room_finish(void) { nmembers = 0; }

static ErlDrvEntry room_entry = {
    .start = room_start,
    .stop = room_stop,
    .output = room_output,
    .finish = room_finish,
    .driver_name = "ctx_dead_port_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
    .driver_flags = 0,
};

DRIVER_INIT(ctx_dead_port_drv) { return &room_entry; }
