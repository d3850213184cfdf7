/* misc.c: errno names, driver_system_info, emulated environment, time,
 * driver_dl_*, add/remove_driver_entry. Values marked [OTP25 run] were
 * measured with a probe driver on OTP 25.2.3 (see the comments in misc.c). */
#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

static void reset(void) {
  dc__misc_reset();
  dc__findings_reset();
  dc__g.now_ms = 0;
  dc__g.async_threads = 3;
  dc__g.entry = NULL;
  dc__tls.kind = DC__THR_EMU;
}

/* ---- erl_errno_id ------------------------------------------------------- */

DC_TEST(errno_ids) {
  DC_ASSERT_STREQ(erl_errno_id(EPERM), "eperm");
  DC_ASSERT_STREQ(erl_errno_id(ENOENT), "enoent");
  DC_ASSERT_STREQ(erl_errno_id(EACCES), "eacces");
  DC_ASSERT_STREQ(erl_errno_id(EINVAL), "einval");
  DC_ASSERT_STREQ(erl_errno_id(ECONNREFUSED), "econnrefused");
  DC_ASSERT_STREQ(erl_errno_id(EDQUOT), "edquot");
  /* aliases get the canonical name [OTP25 run: 11 eagain, 35 edeadlk,
   * 95 enotsup] */
  DC_ASSERT_STREQ(erl_errno_id(EWOULDBLOCK), "eagain");
  DC_ASSERT_STREQ(erl_errno_id(EDEADLOCK), "edeadlk");
  DC_ASSERT_STREQ(erl_errno_id(EOPNOTSUPP), "enotsup");
}

DC_TEST(errno_unknown) {
  /* [OTP25 run]: 0, negatives, ERESTART, ECANCELED and values past the
   * table are "unknown" */
  DC_ASSERT_STREQ(erl_errno_id(0), "unknown");
  DC_ASSERT_STREQ(erl_errno_id(-1), "unknown");
  DC_ASSERT_STREQ(erl_errno_id(ERESTART), "unknown");
  DC_ASSERT_STREQ(erl_errno_id(ECANCELED), "unknown");
  DC_ASSERT_STREQ(erl_errno_id(100000), "unknown");
  DC_ASSERT(erl_errno_id(EIO) == erl_errno_id(EIO)); /* static storage */
}

/* ---- driver_system_info ------------------------------------------------- */

#define SI_SIZE(f)                                                             \
  (offsetof(ErlDrvSysInfo, f) + sizeof(((ErlDrvSysInfo *)0)->f))
#define SENTINEL 0x5a5a5a5a

static void fill_sentinel(ErlDrvSysInfo *si) { memset(si, 0x5a, sizeof *si); }

DC_TEST(system_info_current) {
  reset();
  ErlDrvSysInfo si;
  fill_sentinel(&si);
  driver_system_info(&si, sizeof si);
  /* OTP 25.2.3 values [OTP25 run] */
  DC_ASSERT_EQ(si.driver_major_version, 3);
  DC_ASSERT_EQ(si.driver_minor_version, 3);
  DC_ASSERT_STREQ(si.erts_version, "13.1.5");
  DC_ASSERT_STREQ(si.otp_release, "25");
  DC_ASSERT_EQ(si.thread_support, 1);
  DC_ASSERT_EQ(si.smp_support, 1);
  DC_ASSERT_EQ(si.async_threads, 3); /* the emulator's pool size */
  DC_ASSERT_EQ(si.scheduler_threads, 2);
  DC_ASSERT_EQ(si.nif_major_version, 2);
  DC_ASSERT_EQ(si.nif_minor_version, 16);
  DC_ASSERT_EQ(si.dirty_scheduler_support, 1);
}

DC_TEST(system_info_base_size) {
  reset();
  ErlDrvSysInfo si;
  fill_sentinel(&si);
  /* driver API 1.0 struct: up to smp_support (driver_SUITE base_ver) */
  driver_system_info(&si, SI_SIZE(smp_support));
  DC_ASSERT_EQ(si.driver_major_version, 3);
  DC_ASSERT_EQ(si.smp_support, 1);
  DC_ASSERT_EQ(si.async_threads, SENTINEL);
  DC_ASSERT_EQ(si.scheduler_threads, SENTINEL);
  DC_ASSERT_EQ(si.nif_major_version, SENTINEL);
  DC_ASSERT_EQ(si.dirty_scheduler_support, SENTINEL);
}

DC_TEST(system_info_previous_sizes) {
  reset();
  ErlDrvSysInfo si;
  fill_sentinel(&si);
  driver_system_info(&si, SI_SIZE(scheduler_threads));
  DC_ASSERT_EQ(si.async_threads, 3);
  DC_ASSERT_EQ(si.scheduler_threads, 2);
  DC_ASSERT_EQ(si.nif_major_version, SENTINEL);
  fill_sentinel(&si);
  /* one byte short of nif_minor_version: that version is not filled */
  driver_system_info(&si, SI_SIZE(nif_minor_version) - 1);
  DC_ASSERT_EQ(si.scheduler_threads, 2);
  DC_ASSERT_EQ(si.nif_major_version, SENTINEL);
  driver_system_info(&si, SI_SIZE(nif_minor_version));
  DC_ASSERT_EQ(si.nif_major_version, 2);
  DC_ASSERT_EQ(si.nif_minor_version, 16);
  DC_ASSERT_EQ(si.dirty_scheduler_support, SENTINEL);
}

static void sysinfo_null(void) {
  driver_system_info(NULL, sizeof(ErlDrvSysInfo));
}
static void sysinfo_small(void) {
  ErlDrvSysInfo si;
  driver_system_info(&si, SI_SIZE(smp_support) - 1);
}

DC_TEST(system_info_invalid_aborts) {
  /* io.c: erts_exit(ERTS_ABORT_EXIT, ...) for NULL or too small */
  dc_test_expect_abort(sysinfo_null);
  dc_test_expect_abort(sysinfo_small);
}

DC_TEST(null_func_zero) { DC_ASSERT_EQ(null_func(), 0); }

/* ---- environment -------------------------------------------------------- */

DC_TEST(env_put_get) {
  reset();
  DC_ASSERT_EQ(erl_drv_putenv("DC_T_VAR", "hello"), 0);
  char v[16];
  size_t sz = sizeof v;
  DC_ASSERT_EQ(erl_drv_getenv("DC_T_VAR", v, &sz), 0);
  DC_ASSERT_STREQ(v, "hello");
  DC_ASSERT_EQ(sz, 5);
  DC_ASSERT_EQ(erl_drv_putenv("DC_T_VAR", "bye"), 0); /* replace */
  sz = sizeof v;
  DC_ASSERT_EQ(erl_drv_getenv("DC_T_VAR", v, &sz), 0);
  DC_ASSERT_STREQ(v, "bye");
  /* exactly fitting: len + NUL [OTP25 run: "abc" with size 4 -> 0, 3] */
  sz = 4;
  DC_ASSERT_EQ(erl_drv_getenv("DC_T_VAR", v, &sz), 0);
  DC_ASSERT_EQ(sz, 3);
}

DC_TEST(env_too_small_quirk) {
  reset();
  erl_drv_putenv("DC_T_SMALL", "abc");
  char v[8];
  memset(v, '#', sizeof v);
  size_t sz = 3;
  /* [OTP25 run]: returns 1 and *value_size = input - 1, not the size
   * needed; the buffer is not written */
  DC_ASSERT_EQ(erl_drv_getenv("DC_T_SMALL", v, &sz), 1);
  DC_ASSERT_EQ(sz, 2);
  DC_ASSERT_EQ(v[0], '#');
  sz = 0;
  DC_ASSERT_EQ(erl_drv_getenv("DC_T_SMALL", v, &sz), 1);
  DC_ASSERT(sz == (size_t)-1);
}

DC_TEST(env_not_found) {
  reset();
  char v[8];
  size_t sz = 5;
  /* [OTP25 run]: -1, and *value_size is still decremented (5 -> 4) */
  DC_ASSERT_EQ(erl_drv_getenv("DC_T_NO_SUCH_VAR", v, &sz), -1);
  DC_ASSERT_EQ(sz, 4);
}

DC_TEST(env_empty_value) {
  reset();
  DC_ASSERT_EQ(erl_drv_putenv("DC_T_EMPTY", ""), 0);
  char v[4] = "xyz";
  size_t sz = 1;
  DC_ASSERT_EQ(erl_drv_getenv("DC_T_EMPTY", v, &sz), 0);
  DC_ASSERT_EQ(sz, 0);
  DC_ASSERT_EQ(v[0], '\0');
}

DC_TEST(env_is_emulated_copy) {
  setenv("DC_T_FROM_LIBC", "boot", 1);
  reset(); /* the copy of environ is taken at first use after this */
  char v[16];
  size_t sz = sizeof v;
  DC_ASSERT_EQ(erl_drv_getenv("DC_T_FROM_LIBC", v, &sz), 0);
  DC_ASSERT_STREQ(v, "boot");
  /* later libc changes are not seen, and puts do not reach libc */
  setenv("DC_T_LATER", "x", 1);
  sz = sizeof v;
  DC_ASSERT_EQ(erl_drv_getenv("DC_T_LATER", v, &sz), -1);
  DC_ASSERT_EQ(erl_drv_putenv("DC_T_EMU_ONLY", "y"), 0);
  DC_ASSERT(getenv("DC_T_EMU_ONLY") == NULL);
  /* reset drops the emulated changes */
  reset();
  sz = sizeof v;
  DC_ASSERT_EQ(erl_drv_getenv("DC_T_EMU_ONLY", v, &sz), -1);
}

/* ---- time --------------------------------------------------------------- */

static void *mono_other_thread(void *arg) {
  (void)arg;
  ErlDrvTime t = erl_drv_monotonic_time(ERL_DRV_MSEC);
  ErlDrvTime o = erl_drv_time_offset(ERL_DRV_MSEC);
  return (void *)(intptr_t)(t == ERL_DRV_TIME_ERROR && o == ERL_DRV_TIME_ERROR);
}

DC_TEST(time_on_emulator_thread) {
  reset();
  /* OTP 25 monotonic time starts at -576460752 s [OTP25 run] */
  DC_ASSERT_EQ(erl_drv_monotonic_time(ERL_DRV_SEC), -576460752LL);
  ErlDrvTime t0 = erl_drv_monotonic_time(ERL_DRV_MSEC);
  dc__g.now_ms = 1500;
  DC_ASSERT_EQ(erl_drv_monotonic_time(ERL_DRV_MSEC) - t0, 1500);
  DC_ASSERT_EQ(erl_drv_monotonic_time(ERL_DRV_USEC) -
                   erl_drv_convert_time_unit(t0, ERL_DRV_MSEC, ERL_DRV_USEC),
               1500000);
  ErlDrvTime off = erl_drv_time_offset(ERL_DRV_SEC);
  DC_ASSERT(off > 0);
  /* offset + monotonic = system time, a fixed date plus the virtual clock */
  DC_ASSERT_EQ(erl_drv_time_offset(ERL_DRV_NSEC), off * 1000000000LL);
  DC_ASSERT_EQ(erl_drv_monotonic_time(ERL_DRV_SEC) + off, 1672531201LL);
}

DC_TEST(time_error_off_scheduler) {
  reset();
  DC_ASSERT_EQ(erl_drv_monotonic_time((ErlDrvTimeUnit)7), ERL_DRV_TIME_ERROR);
  DC_ASSERT_EQ(erl_drv_time_offset((ErlDrvTimeUnit)-1), ERL_DRV_TIME_ERROR);
  /* from a non-scheduler thread [OTP25 run: async thread -> error] */
  pthread_t p;
  void *ok = NULL;
  DC_ASSERT_EQ(pthread_create(&p, NULL, mono_other_thread, NULL), 0);
  pthread_join(p, &ok);
  DC_ASSERT(ok == (void *)1);
  dc__tls.kind = DC__THR_ASYNC;
  DC_ASSERT_EQ(erl_drv_monotonic_time(ERL_DRV_SEC), ERL_DRV_TIME_ERROR);
}

DC_TEST(convert_time_unit_floor) {
  /* erl_time_sup.c floors, also for negative values [OTP25 run] */
  DC_ASSERT_EQ(erl_drv_convert_time_unit(-1, ERL_DRV_MSEC, ERL_DRV_SEC), -1);
  DC_ASSERT_EQ(erl_drv_convert_time_unit(-999, ERL_DRV_MSEC, ERL_DRV_SEC), -1);
  DC_ASSERT_EQ(erl_drv_convert_time_unit(-1000, ERL_DRV_MSEC, ERL_DRV_SEC), -1);
  DC_ASSERT_EQ(erl_drv_convert_time_unit(-1001, ERL_DRV_MSEC, ERL_DRV_SEC), -2);
  DC_ASSERT_EQ(erl_drv_convert_time_unit(1999, ERL_DRV_MSEC, ERL_DRV_SEC), 1);
  DC_ASSERT_EQ(erl_drv_convert_time_unit(-1, ERL_DRV_NSEC, ERL_DRV_USEC), -1);
  DC_ASSERT_EQ(erl_drv_convert_time_unit(3, ERL_DRV_SEC, ERL_DRV_USEC),
               3000000);
  DC_ASSERT_EQ(erl_drv_convert_time_unit(5, ERL_DRV_USEC, ERL_DRV_USEC), 5);
}

DC_TEST(convert_time_unit_errors_and_overflow) {
  DC_ASSERT_EQ(erl_drv_convert_time_unit(1, (ErlDrvTimeUnit)4, ERL_DRV_MSEC),
               ERL_DRV_TIME_ERROR);
  DC_ASSERT_EQ(erl_drv_convert_time_unit(1, ERL_DRV_MSEC, (ErlDrvTimeUnit)-1),
               ERL_DRV_TIME_ERROR);
  /* no overflow check in ERTS: results wrap [OTP25 run] */
  DC_ASSERT_EQ(erl_drv_convert_time_unit(INT64_MAX, ERL_DRV_SEC, ERL_DRV_NSEC),
               -1000000000LL);
  DC_ASSERT_EQ(erl_drv_convert_time_unit(INT64_MIN, ERL_DRV_SEC, ERL_DRV_NSEC),
               0);
  DC_ASSERT_EQ(erl_drv_convert_time_unit(INT64_MIN, ERL_DRV_MSEC, ERL_DRV_SEC),
               9223372036854774LL);
}

/* driver_get_now is deprecated in the header; the test must call it. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

DC_TEST(get_now_strictly_increasing) {
  reset();
  DC_ASSERT_EQ(driver_get_now(NULL), -1);
  ErlDrvNowData a, b;
  DC_ASSERT_EQ(driver_get_now(&a), 0);
  DC_ASSERT_EQ(driver_get_now(&b), 0); /* same virtual time: +1 us */
  unsigned long long ua = (a.megasecs * 1000000ULL + a.secs) * 1000000ULL +
                          a.microsecs,
                     ub = (b.megasecs * 1000000ULL + b.secs) * 1000000ULL +
                          b.microsecs;
  DC_ASSERT_EQ(ub, ua + 1);
  DC_ASSERT(a.secs < 1000000 && a.microsecs < 1000000);
  dc__g.now_ms = 2000;
  DC_ASSERT_EQ(driver_get_now(&b), 0);
  ub = (b.megasecs * 1000000ULL + b.secs) * 1000000ULL + b.microsecs;
  DC_ASSERT_EQ(ub, ua + 2000000);
}

/* ---- driver_dl_* -------------------------------------------------------- */

/* A library reachable as "<dir>/libself" + ".so": a symlink to libc (found
 * through a function no sanitizer intercepts). */
static void make_lib(char *base, size_t cap) {
  Dl_info info;
  DC_ASSERT(dladdr((void *)&gnu_get_libc_version, &info) && info.dli_fname);
  char dir[] = "/tmp/dc_dl_XXXXXX";
  DC_ASSERT(mkdtemp(dir));
  snprintf(base, cap, "%s/libself", dir);
  char link[300];
  snprintf(link, sizeof link, "%s.so", base);
  DC_ASSERT_EQ(symlink(info.dli_fname, link), 0);
}

static void drop_lib(const char *base) {
  char path[300];
  snprintf(path, sizeof path, "%s.so", base);
  unlink(path);
  snprintf(path, sizeof path, "%s", base);
  *strrchr(path, '/') = '\0';
  rmdir(path);
}

DC_TEST(dl_open_appends_so) {
  reset();
  char base[256], full[300];
  make_lib(base, sizeof base);
  void *h = driver_dl_open(base);
  DC_ASSERT(h != NULL);
  void *fn = driver_dl_sym(h, "gnu_get_libc_version");
  DC_ASSERT(fn != NULL && fn == dlsym(h, "gnu_get_libc_version"));
  DC_ASSERT_EQ(driver_dl_close(h), 0);
  snprintf(full, sizeof full, "%s.so", base);
  DC_ASSERT(driver_dl_open(full) == NULL); /* would be "libself.so.so" */
  drop_lib(base);
}

DC_TEST(dl_error_quirks) {
  reset();
  const char *unspec = "Unspecified dynamic library error";
  DC_ASSERT_STREQ(driver_dl_error(), unspec);
  DC_ASSERT(driver_dl_open("/nonexistent/dc_no_lib") == NULL);
  DC_ASSERT_STREQ(driver_dl_error(), unspec); /* [OTP25 run] */
  char base[256];
  make_lib(base, sizeof base);
  void *h = driver_dl_open(base);
  DC_ASSERT(h);
  DC_ASSERT(driver_dl_sym(h, "dc_no_such_symbol") == NULL);
  DC_ASSERT(strstr(driver_dl_error(), "dc_no_such_symbol") != NULL);
  /* neither a later success nor a failed open changes it [OTP25 run] */
  DC_ASSERT(driver_dl_sym(h, "gnu_get_libc_version") != NULL);
  DC_ASSERT(driver_dl_open("/nonexistent/other") == NULL);
  DC_ASSERT(strstr(driver_dl_error(), "dc_no_such_symbol") != NULL);
  driver_dl_close(h);
  drop_lib(base);
  reset();
  DC_ASSERT_STREQ(driver_dl_error(), unspec);
}

/* ---- add/remove_driver_entry -------------------------------------------- */

static int added_inits, added_init_rc;
static int added_init(void) {
  added_inits++;
  return added_init_rc;
}

DC_TEST(add_remove_driver_entry) {
  reset();
  static ErlDrvEntry e, loaded;
  e.init = added_init;
  e.driver_name = "added";
  added_inits = added_init_rc = 0;
  add_driver_entry(&e);
  DC_ASSERT_EQ(added_inits, 1);
  DC_ASSERT_EQ(remove_driver_entry(&e), 1);
  DC_ASSERT_EQ(remove_driver_entry(&e), 0);
  dc__g.entry = &loaded; /* the driver loaded through the loader */
  DC_ASSERT_EQ(remove_driver_entry(&loaded), -1);
  /* a failing init drops the entry silently */
  added_init_rc = 1;
  add_driver_entry(&e);
  DC_ASSERT_EQ(added_inits, 2);
  DC_ASSERT_EQ(remove_driver_entry(&e), 0);
  /* an entry without init is added as is */
  static ErlDrvEntry noinit;
  add_driver_entry(&noinit);
  DC_ASSERT_EQ(remove_driver_entry(&noinit), 1);
}
