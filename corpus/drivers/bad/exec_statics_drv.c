/* exec_statics_drv: an echo driver that counts, in a static, every port it
 * ever started, and crashes once that count passes 120.
 *
 * One random sequence has at most 120 operations, so it can never start
 * that many ports: the crash happens only if the count survives from one
 * sequence into the next. drvcheck runs several random sequences in one
 * child process (run_batch in exec.c) only when each starts as fresh as in
 * a process of its own -- the library unmapped and loaded again, statics
 * back at zero. The test (tests/test_batch.c) checks that batches of this
 * driver never crash, and that a batch stops after one sequence when the
 * library cannot be unmapped. */
#include <erl_driver.h>
#include <string.h>

#define LIMIT 120

static int started_ever; /* the state a batch must not carry over */

static ErlDrvData st_start(ErlDrvPort port, char *command) {
  (void)command;
  if (++started_ever > LIMIT)
    *(volatile int *)0 = started_ever; /* carried-over state */
  return (ErlDrvData)port;
}

static void st_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  driver_output((ErlDrvPort)d, buf, len);
}

static ErlDrvEntry st_entry = {
    .start = st_start,
    .output = st_output,
    .driver_name = "exec_statics_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(exec_statics_drv) { return &st_entry; }
