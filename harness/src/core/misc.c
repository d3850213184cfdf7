/* Miscellaneous erl_driver functions: errno names, system info, the emulated
 * environment, time, dynamic libraries and add/remove_driver_entry.
 * ERTS sources: erts/emulator/beam/io.c, erl_time_sup.c, sys/unix/sys_env.c,
 * erl_osenv.c, sys/unix/erl_unix_sys_ddll.c. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------------------ */
/* erl_errno_id                                                              */

/* The errno names ERTS knows, as its atoms. The set is what OTP 25 returns
 * on Linux [OTP25 run: erl_errno_id(-2..199)]: glibc values ERTS has no
 * name for (ERESTART, ESTRPIPE, EISNAM, ENOMEDIUM, ECANCELED, EOWNERDEAD...)
 * are "unknown" there too, and aliases (EWOULDBLOCK, EDEADLOCK, EOPNOTSUPP)
 * get the canonical name. A duplicate value would not compile. */
/* clang-format off */
#define DC__ERRNO_NAMES(X)                                                     \
  X(EPERM, eperm) X(ENOENT, enoent) X(ESRCH, esrch) X(EINTR, eintr)            \
  X(EIO, eio) X(ENXIO, enxio) X(E2BIG, e2big) X(ENOEXEC, enoexec)              \
  X(EBADF, ebadf) X(ECHILD, echild) X(EAGAIN, eagain) X(ENOMEM, enomem)        \
  X(EACCES, eacces) X(EFAULT, efault) X(ENOTBLK, enotblk) X(EBUSY, ebusy)      \
  X(EEXIST, eexist) X(EXDEV, exdev) X(ENODEV, enodev) X(ENOTDIR, enotdir)      \
  X(EISDIR, eisdir) X(EINVAL, einval) X(ENFILE, enfile) X(EMFILE, emfile)      \
  X(ENOTTY, enotty) X(ETXTBSY, etxtbsy) X(EFBIG, efbig) X(ENOSPC, enospc)      \
  X(ESPIPE, espipe) X(EROFS, erofs) X(EMLINK, emlink) X(EPIPE, epipe)          \
  X(EDOM, edom) X(ERANGE, erange) X(EDEADLK, edeadlk)                          \
  X(ENAMETOOLONG, enametoolong) X(ENOLCK, enolck) X(ENOSYS, enosys)            \
  X(ENOTEMPTY, enotempty) X(ELOOP, eloop) X(ENOMSG, enomsg) X(EIDRM, eidrm)    \
  X(ECHRNG, echrng) X(EL2NSYNC, el2nsync) X(EL3HLT, el3hlt)                    \
  X(EL3RST, el3rst) X(ELNRNG, elnrng) X(EUNATCH, eunatch) X(ENOCSI, enocsi)    \
  X(EL2HLT, el2hlt) X(EBADE, ebade) X(EBADR, ebadr) X(EXFULL, exfull)          \
  X(ENOANO, enoano) X(EBADRQC, ebadrqc) X(EBADSLT, ebadslt)                    \
  X(EBFONT, ebfont) X(ENOSTR, enostr) X(ENODATA, enodata) X(ETIME, etime)      \
  X(ENOSR, enosr) X(ENONET, enonet) X(ENOPKG, enopkg) X(EREMOTE, eremote)      \
  X(ENOLINK, enolink) X(EADV, eadv) X(ESRMNT, esrmnt) X(ECOMM, ecomm)          \
  X(EPROTO, eproto) X(EMULTIHOP, emultihop) X(EDOTDOT, edotdot)                \
  X(EBADMSG, ebadmsg) X(EOVERFLOW, eoverflow) X(ENOTUNIQ, enotuniq)            \
  X(EBADFD, ebadfd) X(EREMCHG, eremchg) X(ELIBACC, elibacc)                    \
  X(ELIBBAD, elibbad) X(ELIBSCN, elibscn) X(ELIBMAX, elibmax)                  \
  X(ELIBEXEC, elibexec) X(EILSEQ, eilseq) X(EUSERS, eusers)                    \
  X(ENOTSOCK, enotsock) X(EDESTADDRREQ, edestaddrreq) X(EMSGSIZE, emsgsize)    \
  X(EPROTOTYPE, eprototype) X(ENOPROTOOPT, enoprotoopt)                        \
  X(EPROTONOSUPPORT, eprotonosupport) X(ESOCKTNOSUPPORT, esocktnosupport)      \
  X(ENOTSUP, enotsup) X(EPFNOSUPPORT, epfnosupport)                            \
  X(EAFNOSUPPORT, eafnosupport) X(EADDRINUSE, eaddrinuse)                      \
  X(EADDRNOTAVAIL, eaddrnotavail) X(ENETDOWN, enetdown)                        \
  X(ENETUNREACH, enetunreach) X(ENETRESET, enetreset)                          \
  X(ECONNABORTED, econnaborted) X(ECONNRESET, econnreset)                      \
  X(ENOBUFS, enobufs) X(EISCONN, eisconn) X(ENOTCONN, enotconn)                \
  X(ESHUTDOWN, eshutdown) X(ETOOMANYREFS, etoomanyrefs)                        \
  X(ETIMEDOUT, etimedout) X(ECONNREFUSED, econnrefused)                        \
  X(EHOSTDOWN, ehostdown) X(EHOSTUNREACH, ehostunreach)                        \
  X(EALREADY, ealready) X(EINPROGRESS, einprogress) X(ESTALE, estale)          \
  X(EUCLEAN, euclean) X(ENOTNAM, enotnam) X(ENAVAIL, enavail)                  \
  X(EREMOTEIO, eremoteio) X(EDQUOT, edquot)
/* clang-format on */

char *erl_errno_id(int error) {
  DC__API(erl_errno_id);
  switch (error) {
#define DC__ERRNO_CASE(num, atom)                                              \
  case num:                                                                    \
    return #atom;
    DC__ERRNO_NAMES(DC__ERRNO_CASE)
#undef DC__ERRNO_CASE
  default:
    return "unknown";
  }
}

/* ------------------------------------------------------------------------ */
/* driver_system_info, null_func                                             */

#define SI_SIZE(f)                                                             \
  (offsetof(ErlDrvSysInfo, f) + sizeof(((ErlDrvSysInfo *)0)->f))

/* Fills exactly the fields that fit in si_size: each block is one version of
 * the struct (io.c: driver_system_info). */
void driver_system_info(ErlDrvSysInfo *sip, size_t si_size) {
  DC__API(driver_system_info);
  if (!sip || si_size < SI_SIZE(smp_support)) {
    /* ERTS: erts_exit(ERTS_ABORT_EXIT, ...) - the node aborts. */
    fprintf(stderr,
            "drvcheck: fatal error: driver_system_info(%p, %zu) called with "
            "invalid arguments\n",
            (void *)sip, si_size);
    fflush(stderr);
    abort();
  }
  sip->driver_major_version = ERL_DRV_EXTENDED_MAJOR_VERSION;
  sip->driver_minor_version = ERL_DRV_EXTENDED_MINOR_VERSION;
  sip->erts_version = "13.1.5";
  sip->otp_release = "25";
  sip->thread_support = 1;
  sip->smp_support = 1;
  if (si_size >= SI_SIZE(scheduler_threads)) {
    sip->async_threads = dc__g.async_threads;
    /* The model is a multi-scheduler node (callbacks of one port may run
     * on different threads); 2 is what OTP 25 reports on a 2-core host and
     * keeps results independent of the machine running drvcheck. */
    sip->scheduler_threads = 2;
  }
  if (si_size >= SI_SIZE(nif_minor_version)) {
    sip->nif_major_version = 2;
    sip->nif_minor_version = 16;
  }
  if (si_size >= SI_SIZE(dirty_scheduler_support))
    sip->dirty_scheduler_support = 1;
}

int null_func(void) {
  DC__API(null_func);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Emulated environment (os:getenv/putenv view, not libc's environ)          */

/* One variable; key and value live in data[] (owned by the table). */
typedef struct env_var {
  struct env_var *next;
  size_t klen, vlen;
  char data[]; /* key bytes, then value bytes (no terminators) */
} env_var;

#define ENV_BUCKETS 256
static env_var *env_tab[ENV_BUCKETS];
static pthread_rwlock_t env_lock = PTHREAD_RWLOCK_INITIALIZER;
static int env_ready; /* guarded by env_lock */
extern char **environ;

static unsigned env_hash(const char *k, size_t n) {
  unsigned h = 2166136261u; /* FNV-1a */
  while (n--)
    h = (h ^ (unsigned char)*k++) * 16777619u;
  return h % ENV_BUCKETS;
}

static env_var **env_slot(const char *k, size_t kl) {
  env_var **pp = &env_tab[env_hash(k, kl)];
  for (; *pp; pp = &(*pp)->next)
    if ((*pp)->klen == kl && memcmp((*pp)->data, k, kl) == 0)
      break;
  return pp;
}

/* Caller holds the write lock. */
static int env_put_locked(const char *k, size_t kl, const char *v, size_t vl) {
  env_var *n = malloc(sizeof *n + kl + vl);
  if (!n)
    return -1;
  n->klen = kl;
  n->vlen = vl;
  memcpy(n->data, k, kl);
  memcpy(n->data + kl, v, vl);
  env_var **pp = env_slot(k, kl), *old = *pp;
  n->next = old ? old->next : NULL;
  *pp = n;
  free(old);
  return 0;
}

/* Takes the lock (write or read) with the table initialised from the
 * process environment on first use (ERTS copies it at boot). */
static void env_lock_ready(int write) {
  pthread_rwlock_rdlock(&env_lock);
  if (env_ready && !write)
    return;
  pthread_rwlock_unlock(&env_lock);
  pthread_rwlock_wrlock(&env_lock);
  if (!env_ready) {
    for (char **e = environ; e && *e; e++) {
      const char *eq = strchr(*e, '=');
      if (eq)
        env_put_locked(*e, (size_t)(eq - *e), eq + 1, strlen(eq + 1));
    }
    env_ready = 1;
  }
  if (!write) { /* downgrade: nothing can un-initialise it in between */
    pthread_rwlock_unlock(&env_lock);
    pthread_rwlock_rdlock(&env_lock);
  }
}

/* ERTS always succeeds (erts_osenv_put_native returns 1 -> 0), also for an
 * empty value, which sets the variable to "" [OTP25 run]. */
int erl_drv_putenv(const char *key, char *value) {
  DC__API(erl_drv_putenv);
  size_t kl = strlen(key), vl = strlen(value);
  env_lock_ready(1);
  int rc = env_put_locked(key, kl, value, vl);
  pthread_rwlock_unlock(&env_lock);
  return rc == 0 ? 0 : 1;
}

/* sys_env.c: the value capacity is *value_size - 1 (room for the NUL) and
 * *value_size is set to that capacity unless the value was copied, also
 * when the key is missing [OTP25 run: in 5 -> -1 and 4; in 0 -> 1 and
 * SIZE_MAX]. Returns 0 copied, 1 too small, -1 not found. */
int erl_drv_getenv(const char *key, char *value, size_t *value_size) {
  DC__API(erl_drv_getenv);
  size_t kl = strlen(key);
  long long cap = (long long)(*value_size - 1); /* ERTS: signed Sint */
  int rc;
  env_lock_ready(0);
  env_var *v = *env_slot(key, kl);
  if (!v) {
    rc = -1;
    *value_size = (size_t)cap;
  } else if ((long long)v->vlen > cap) {
    rc = 1;
    *value_size = (size_t)cap;
  } else {
    memcpy(value, v->data + v->klen, v->vlen);
    value[v->vlen] = '\0';
    *value_size = v->vlen;
    rc = 0;
  }
  pthread_rwlock_unlock(&env_lock);
  return rc;
}

static void env_clear(void) {
  pthread_rwlock_wrlock(&env_lock);
  /* Not ready: never filled since the last clear (the common case). */
  for (int i = 0; env_ready && i < ENV_BUCKETS; i++) {
    for (env_var *v = env_tab[i], *nx; v; v = nx) {
      nx = v->next;
      free(v);
    }
    env_tab[i] = NULL;
  }
  env_ready = 0;
  pthread_rwlock_unlock(&env_lock);
}

/* ------------------------------------------------------------------------ */
/* Time                                                                      */

/* The clock is the sequencer's virtual clock (dc__g.now_ms), so runs are
 * reproducible. Erlang monotonic time starts where OTP 25 starts it on
 * 64-bit (erlang:monotonic_time(second) = -576460752 at boot) [OTP25 run],
 * and system time starts at a fixed date (2023-01-01T00:00:00Z); with no
 * time warp the offset between them is constant. */
#define MONO_START_SEC (-576460752LL)
#define SYS_START_SEC 1672531200LL

static long long unit_per_sec(ErlDrvTimeUnit u) {
  switch ((int)u) {
  case ERL_DRV_SEC:
    return 1;
  case ERL_DRV_MSEC:
    return 1000;
  case ERL_DRV_USEC:
    return 1000000;
  case ERL_DRV_NSEC:
    return 1000000000;
  default:
    return 0;
  }
}

/* erl_time_sup.c: erts_napi_convert_time_unit. Floor division (also for
 * negative values); the multiplications and the floor adjustment are not
 * overflow-checked there, so extreme values wrap around [OTP25 run:
 * INT64_MAX s -> ns = -1000000000]. The same results are computed here in
 * unsigned arithmetic, without undefined behaviour. */
ErlDrvTime erl_drv_convert_time_unit(ErlDrvTime val, ErlDrvTimeUnit from,
                                     ErlDrvTimeUnit to) {
  DC__API(erl_drv_convert_time_unit);
  long long ff = unit_per_sec(from), tf = unit_per_sec(to);
  if (!ff || !tf)
    return ERL_DRV_TIME_ERROR;
  if (tf >= ff)
    return (ErlDrvTime)((unsigned long long)val *
                        (unsigned long long)(tf / ff));
  long long d = ff / tf;
  if (val >= 0)
    return val / d;
  return (ErlDrvTime)((unsigned long long)val - (unsigned long long)(d - 1)) /
         d;
}

/* Only scheduler threads may read the clock (erl_time_sup.c). */
static int time_allowed(ErlDrvTimeUnit u) {
  return dc__tls.kind == DC__THR_EMU && unit_per_sec(u) != 0;
}

ErlDrvTime erl_drv_monotonic_time(ErlDrvTimeUnit time_unit) {
  DC__API(erl_drv_monotonic_time);
  if (!time_allowed(time_unit))
    return ERL_DRV_TIME_ERROR;
  ErlDrvTime ms = (ErlDrvTime)atomic_load(&dc__g.now_ms);
  return MONO_START_SEC * unit_per_sec(time_unit) +
         erl_drv_convert_time_unit(ms, ERL_DRV_MSEC, time_unit);
}

ErlDrvTime erl_drv_time_offset(ErlDrvTimeUnit time_unit) {
  DC__API(erl_drv_time_offset);
  if (!time_allowed(time_unit))
    return ERL_DRV_TIME_ERROR;
  return (SYS_START_SEC - MONO_START_SEC) * unit_per_sec(time_unit);
}

/* erlang:now() semantics: system time in microseconds, strictly increasing
 * across all callers. */
static _Atomic unsigned long long last_now_us;

int driver_get_now(ErlDrvNowData *now) {
  DC__API(driver_get_now);
  if (!now)
    return -1;
  unsigned long long base =
      (unsigned long long)SYS_START_SEC * 1000000ULL +
      (unsigned long long)atomic_load(&dc__g.now_ms) * 1000ULL;
  unsigned long long prev = atomic_load(&last_now_us), next;
  do
    next = base > prev ? base : prev + 1;
  while (!atomic_compare_exchange_weak(&last_now_us, &prev, next));
  now->megasecs = (unsigned long)(next / 1000000000000ULL);
  now->secs = (unsigned long)(next / 1000000ULL % 1000000ULL);
  now->microsecs = (unsigned long)(next % 1000000ULL);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Dynamic libraries                                                         */

/* ERTS keeps the last driver_dl_sym error per thread, but driver_dl_open
 * stores its error under a different TSD key than the one driver_dl_error
 * reads (io.c), so only dl_sym failures are ever reported; otherwise the
 * text is "Unspecified dynamic library error" [OTP25 run]. Successful calls
 * do not clear the stored error [OTP25 run]. */
static _Thread_local struct {
  unsigned gen; /* valid when equal to dl_gen */
  char msg[512];
} dl_err;
static _Atomic unsigned dl_gen = 1;

void *driver_dl_open(char *path) {
  DC__API(driver_dl_open);
  size_t n = strlen(path);
  char *full = malloc(n + 4);
  if (!full)
    return NULL;
  memcpy(full, path, n);
  memcpy(full + n, ".so", 4); /* erl_unix_sys_ddll.c appends FILE_EXT */
  void *h = dlopen(full, RTLD_NOW);
  free(full);
  if (!h)
    (void)dlerror(); /* the message is lost, as in ERTS */
  return h;
}

void *driver_dl_sym(void *handle, char *func_name) {
  DC__API(driver_dl_sym);
  (void)dlerror();
  void *p = dlsym(handle, func_name);
  const char *e = dlerror();
  if (e) {
    snprintf(dl_err.msg, sizeof dl_err.msg, "%s", e);
    dl_err.gen = atomic_load(&dl_gen);
    return NULL;
  }
  return p;
}

/* dlclose(NULL) crashes ERTS on glibc as well [OTP25 run]; not guarded. */
int driver_dl_close(void *handle) {
  DC__API(driver_dl_close);
  return dlclose(handle) == 0 ? 0 : -1;
}

char *driver_dl_error(void) {
  DC__API(driver_dl_error);
  if (dl_err.gen == atomic_load(&dl_gen))
    return dl_err.msg;
  return "Unspecified dynamic library error";
}

/* ------------------------------------------------------------------------ */
/* add_driver_entry / remove_driver_entry                                    */

/* Entries added by the driver; nodes owned here, entries by the driver. */
typedef struct added_entry {
  struct added_entry *next;
  ErlDrvEntry *de;
} added_entry;

static added_entry *added;
static pthread_mutex_t added_lock = PTHREAD_MUTEX_INITIALIZER;

static int added_remove(ErlDrvEntry *de) {
  int found = 0;
  pthread_mutex_lock(&added_lock);
  for (added_entry **pp = &added; *pp; pp = &(*pp)->next)
    if ((*pp)->de == de) {
      added_entry *n = *pp;
      *pp = n->next;
      free(n);
      found = 1;
      break;
    }
  pthread_mutex_unlock(&added_lock);
  return found;
}

/* io.c: the entry joins the driver list and its init() is called; a failing
 * init silently drops it again (nothing is returned). */
void add_driver_entry(ErlDrvEntry *de) {
  DC__API(add_driver_entry);
  added_entry *n = malloc(sizeof *n);
  if (!n)
    return;
  n->de = de;
  pthread_mutex_lock(&added_lock);
  n->next = added;
  added = n;
  pthread_mutex_unlock(&added_lock);
  if (de->init) {
    dc__cb prev = dc__tls.cb;
    dc__tls.cb = DC__CB_INIT;
    int rc = de->init();
    dc__tls.cb = prev;
    if (rc != 0)
      added_remove(de);
  }
}

/* 1 removed, 0 unknown, -1 for the driver loaded through erl_ddll (the
 * loader's entry), which cannot be removed this way. */
int remove_driver_entry(ErlDrvEntry *de) {
  DC__API(remove_driver_entry);
  if (de && de == dc__g.entry)
    return -1;
  return added_remove(de);
}

/* ------------------------------------------------------------------------ */

void dc__misc_reset(void) {
  env_clear();
  pthread_mutex_lock(&added_lock);
  for (added_entry *n = added, *nx; n; n = nx) {
    nx = n->next;
    free(n);
  }
  added = NULL;
  pthread_mutex_unlock(&added_lock);
  atomic_store(&last_now_us, 0);
  atomic_fetch_add(&dl_gen, 1);
}
