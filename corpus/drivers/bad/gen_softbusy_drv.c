/* gen_softbusy_drv: gen_busy_drv with ERL_DRV_FLAG_SOFT_BUSY, so forced
 * commands reach output while the port is busy (it reports each one). */
#define GEN_SOFT_BUSY 1
#define GEN_NAME "gen_softbusy_drv"
#include "gen_busy_drv.c"
