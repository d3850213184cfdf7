/* ctx_dead_port_drv: a chat room.
 *
 * Every port joins one driver-wide room. A command is sent to every other
 * member as {Port, {data, Text}}; when a member leaves (stop) the remaining
 * members are told "left". The room is a small array of port handles.
 *
 * DEFECT (ctx.dead_port): stop removes the wrong member: it drops the last
 * array entry instead of the leaving port, so the handle of a port that has
 * terminated stays in the room and later announcements go to a dead port.
 */
#include <erl_driver.h>

#include <string.h>

#define ROOM_MAX 16

static ErlDrvPort room[ROOM_MAX];
static int members;

static int room_init(void) {
  members = 0;
  return 0;
}

static void broadcast(ErlDrvPort from, const char *msg, ErlDrvSizeT len) {
  for (int i = 0; i < members; i++)
    if (room[i] != from)
      driver_output(room[i], (char *)msg, len);
}

static ErlDrvData room_start(ErlDrvPort port, char *command) {
  (void)command;
  if (members == ROOM_MAX)
    return ERL_DRV_ERROR_GENERAL;
  room[members++] = port;
  return (ErlDrvData)port;
}

static void room_stop(ErlDrvData d) {
  ErlDrvPort self = (ErlDrvPort)d;
  broadcast(self, "left", 4);
  if (members > 0)
    members--; /* the defect: forgets to move room[last] into self's slot */
}

static void room_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  broadcast((ErlDrvPort)d, buf, len);
}

static ErlDrvEntry room_entry = {
    .init = room_init,
    .start = room_start,
    .stop = room_stop,
    .output = room_output,
    .driver_name = "ctx_dead_port_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(ctx_dead_port_drv) { return &room_entry; }
