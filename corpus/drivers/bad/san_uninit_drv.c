/* san_uninit_drv: an echo driver that reads a field it never initialised.
 *
 * Commands are echoed back. Control 1 turns "notify" on or off (first
 * byte of the argument); every other control replies "pong" and, with
 * notify on, also sends the port owner the message "control".
 *
 * DEFECT (san.undefined under MemorySanitizer): start allocates the port
 * state with driver_alloc and sets `port` but not `notify`, so a control
 * other than 1 before the first control 1 branches on uninitialised heap
 * memory. The plain build reads whatever the allocator left there; an
 * MSan build of drvcheck with this driver built by CMake in that build
 * dir (or by scripts/build-driver --msan) reports the branch.
 */
#include <erl_driver.h>
#include <string.h>

typedef struct {
  ErlDrvPort port;
  int notify; /* set by control 1 only: start forgets it (the defect) */
} uninit_state;

static ErlDrvData uninit_start(ErlDrvPort port, char *command) {
  (void)command;
  uninit_state *st = driver_alloc(sizeof *st);
  if (st == NULL)
    return ERL_DRV_ERROR_GENERAL;
  st->port = port;
  return (ErlDrvData)st;
}

static void uninit_stop(ErlDrvData d) { driver_free(d); }

static void uninit_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  uninit_state *st = (uninit_state *)d;
  driver_output(st->port, buf, len);
}

static ErlDrvSSizeT uninit_control(ErlDrvData d, unsigned int cmd, char *buf,
                                   ErlDrvSizeT len, char **rbuf,
                                   ErlDrvSizeT rlen) {
  uninit_state *st = (uninit_state *)d;
  if (cmd == 1) {
    st->notify = len > 0 && buf[0] != 0;
    return 0;
  }
  if (st->notify) /* the uninitialised read: notify was never set */
    driver_output(st->port, "control", 7);
  if (rlen < 4) {
    *rbuf = driver_alloc(4);
    if (*rbuf == NULL)
      return -1;
  }
  memcpy(*rbuf, "pong", 4);
  return 4;
}

static ErlDrvEntry uninit_entry = {
    .driver_name = "san_uninit_drv",
    .start = uninit_start,
    .stop = uninit_stop,
    .output = uninit_output,
    .control = uninit_control,
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(san_uninit_drv) { return &uninit_entry; }
