/* Loader: dlopen a driver, resolve driver_init, check the entry, call init. */
#ifndef DC_LOADER_INTERNAL_H
#define DC_LOADER_INTERNAL_H

#include <stddef.h>

#include "../core/internal.h"

/* Loads the driver at path into the (freshly reset) emulator: dlopen with
 * RTLD_NOW, resolve driver_init, call it, run the entry.* checks, call init().
 * Returns 0 when the driver is loaded (dc__g.loaded = 1); DC_ELOAD when the
 * emulator would refuse it (the matching entry.* finding is recorded); or
 * DC_ENOENT / DC_ENOTSO / DC_ENOINIT / DC_EUNRESOLVED with a one-line message
 * in errbuf (caller-owned). */
int dc__load_driver(const char *path, char *errbuf, size_t cap);
/* The name dlopen must be given for the file at path: "./" in front of a
 * bare file name, which dlopen would otherwise look up in the library
 * search path instead of the current directory. Written into buf
 * (caller-owned); returns buf, or path itself when it already has a '/'. */
const char *dc__dl_name(const char *path, char *buf, size_t cap);

/* As dc__load_driver for a driver linked into this executable
 * (STATIC_ERLANG_DRIVER): init_fn is its <name>_driver_init. */
int dc__load_static(ErlDrvEntry *(*init_fn)(void), char *errbuf, size_t cap);

/* Loads the driver of the last successful dc__load_driver/dc__load_static
 * again into the (freshly reset) emulator without opening the library:
 * driver_init() and the entry checks run as in those calls (the read-only
 * check reuses its verdict when driver_init returns the same entry), then
 * init(). For a dlopen'ed driver the caller keeps the library mapped (e.g.
 * a handle opened with RTLD_NODELETE); unload then closes nothing. Returns
 * as dc__load_driver, or DC_ESTATE (message in errbuf, caller-owned) when
 * no driver was loaded before. The per-input load of the fuzz targets. */
int dc__load_again(char *errbuf, size_t cap);

/* Unloads: every live port gets exit reason driver_unloaded (terminated),
 * async jobs are drained, finish() is called, the library is dlclose'd
 * unless driver_lock_driver pinned it. Returns 0, or DC_ESTATE if no driver
 * is loaded. */
int dc__unload_driver(void);

/* Copies the entry driver_init returned in the last load (and its name into
 * name, caller-owned), even when it was refused. Returns 0 if there was none.
 */
int dc__loader_entry_copy(ErlDrvEntry *out, char *name, size_t cap);

/* Checks the entry for entry.modified against the load-time snapshot
 * (handle/handle2 excluded); reports once per field. Returns 1 if changed. */
int dc__entry_check_modified(void);

#endif
