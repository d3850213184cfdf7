/* The minimal erl_driver API shared by the benchmark baselines. */
#ifndef DC_BENCH_BARE_API_H
#define DC_BENCH_BARE_API_H

#include <stddef.h>

#include <erl_driver.h>

/* Copies n bytes of p into the sink (what "delivering" costs at minimum). */
void bare_take(const char *p, size_t n);

#endif
