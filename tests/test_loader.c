/* Loader: entry checks in the order ERTS makes them (erl_bif_ddll.c
 * do_load_driver_entry, io.c init_driver) and clear load errors. */
#include <stdio.h>
#include <unistd.h>

#include "support.h"

static int init_calls, finish_calls, init_result;

static int drv_init(void) {
  init_calls++;
  return init_result;
}
static void drv_finish(void) { finish_calls++; }

static ErlDrvEntry entry;

static void base_entry(void) {
  memset(&entry, 0, sizeof entry);
  entry.init = drv_init;
  entry.finish = drv_finish;
  entry.driver_name = "t_drv";
  entry.extended_marker = ERL_DRV_EXTENDED_MARKER;
  entry.major_version = ERL_DRV_EXTENDED_MAJOR_VERSION;
  entry.minor_version = ERL_DRV_EXTENDED_MINOR_VERSION;
  init_calls = finish_calls = init_result = 0;
}

static ErlDrvEntry *get_entry(void) { return &entry; }
static ErlDrvEntry *get_null(void) { return NULL; }

static int load_static(void) {
  char err[256];
  dc__emu_reset(1);
  dc__findings_reset();
  return dc__load_static(get_entry, err, sizeof err);
}

/* Exactly one finding, of `rule`, and nothing else. */
static void expect_only(dc_rule rule) {
  size_t n;
  const dc__finding *f = dc__findings(&n);
  if (n != 1 || f[0].rule != rule)
    DC_FAIL("expected exactly %s, got %zu finding(s), first %s",
            dc__rule_id(rule), n, n ? dc__rule_id(f[0].rule) : "-");
}

DC_TEST(good_entry_loads_and_calls_init_once) {
  base_entry();
  DC_ASSERT_EQ(load_static(), 0);
  DC_ASSERT_EQ(init_calls, 1);
  DC_ASSERT(dc__g.loaded);
  size_t n;
  dc__findings(&n);
  DC_ASSERT_EQ(n, 0);
  DC_ASSERT_EQ(dc__unload_driver(), 0);
  DC_ASSERT_EQ(finish_calls, 1);
  DC_ASSERT_EQ(dc__unload_driver(), DC_ESTATE);
}

DC_TEST(null_entry_is_entry_null) {
  char err[256];
  dc__emu_reset(1);
  dc__findings_reset();
  DC_ASSERT_EQ(dc__load_static(get_null, err, sizeof err), DC_ELOAD);
  expect_only(DC_RULE_ENTRY_NULL);
}

/* driver_SUITE zero_extended_marker_garb_drv: marker 0 is refused. */
DC_TEST(zero_marker_is_refused_before_init) {
  base_entry();
  entry.extended_marker = 0;
  DC_ASSERT_EQ(load_static(), DC_ELOAD);
  expect_only(DC_RULE_ENTRY_MARKER);
  DC_ASSERT_EQ(init_calls, 0);
}

/* Accepted: 2.x and 3.0-3.3 (driver_SUITE *_vsn_drv cases). */
DC_TEST(version_window_matches_otp25) {
  static const int cases[][3] = {{1, 9, 0}, {2, 0, 1}, {2, 99, 1}, {3, 0, 1},
                                 {3, 3, 1}, {3, 4, 0}, {4, 0, 0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    base_entry();
    entry.major_version = cases[i][0];
    entry.minor_version = cases[i][1];
    int rc = load_static();
    if (cases[i][2]) {
      DC_ASSERT_EQ(rc, 0);
    } else {
      DC_ASSERT_EQ(rc, DC_ELOAD);
      expect_only(DC_RULE_ENTRY_VERSION);
    }
  }
}

DC_TEST(empty_name_is_entry_name) {
  base_entry();
  entry.driver_name = "";
  DC_ASSERT_EQ(load_static(), DC_ELOAD);
  expect_only(DC_RULE_ENTRY_NAME);
  DC_ASSERT_EQ(init_calls, 0);
}

DC_TEST(init_failure_is_entry_init_failed) {
  base_entry();
  init_result = -1;
  DC_ASSERT_EQ(load_static(), DC_ELOAD);
  expect_only(DC_RULE_ENTRY_INIT_FAILED);
  DC_ASSERT(!dc__g.loaded);
}

DC_TEST(unknown_flags_warn_but_load) {
  base_entry();
  entry.driver_flags = ERL_DRV_FLAG_SOFT_BUSY | 0x100;
  DC_ASSERT_EQ(load_static(), 0);
  expect_only(DC_RULE_ENTRY_FLAGS);
  DC_ASSERT(strstr(dc__findings(&(size_t){0})[0].message, "0x100"));
}

DC_TEST(port_locking_flag_is_recorded) {
  base_entry();
  entry.driver_flags = ERL_DRV_FLAG_USE_PORT_LOCKING;
  DC_ASSERT_EQ(load_static(), 0);
  DC_ASSERT_EQ(dc__g.port_locking, 1);
}

static const ErlDrvEntry const_entry = {
    .driver_name = "c_drv",
    .extended_marker = (int)ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};
static ErlDrvEntry *get_const(void) { return (ErlDrvEntry *)&const_entry; }

DC_TEST(const_entry_is_found_from_mapping_permissions) {
  char err[256];
  dc__emu_reset(1);
  dc__findings_reset();
  DC_ASSERT_EQ(dc__load_static(get_const, err, sizeof err), 0);
  expect_only(DC_RULE_ENTRY_CONST);
}

DC_TEST(modified_entry_is_reported_once) {
  base_entry();
  DC_ASSERT_EQ(load_static(), 0);
  DC_ASSERT_EQ(dc__entry_check_modified(), 0);
  entry.handle = (void *)1; /* the emulator's field: not a change */
  DC_ASSERT_EQ(dc__entry_check_modified(), 0);
  entry.minor_version = 0;
  DC_ASSERT_EQ(dc__entry_check_modified(), 1);
  DC_ASSERT_EQ(dc__entry_check_modified(), 0);
  expect_only(DC_RULE_ENTRY_MODIFIED);
}

static int load_path(const char *path, char *err, size_t cap) {
  dc__emu_reset(1);
  dc__findings_reset();
  return dc__load_driver(path, err, cap);
}

DC_TEST(missing_file_is_enoent_with_message) {
  char err[256] = "";
  DC_ASSERT_EQ(load_path("/nonexistent/x_drv.so", err, sizeof err), DC_ENOENT);
  DC_ASSERT(strstr(err, "/nonexistent/x_drv.so"));
  DC_ASSERT(strstr(err, "No such file"));
}

DC_TEST(text_file_is_not_a_shared_object) {
  char err[256] = "", path[] = "/tmp/dc_notso_XXXXXX";
  int fd = mkstemp(path);
  DC_ASSERT(fd >= 0);
  DC_ASSERT(write(fd, "hello\n", 6) == 6);
  close(fd);
  int rc = load_path(path, err, sizeof err);
  unlink(path);
  DC_ASSERT_EQ(rc, DC_ENOTSO);
  DC_ASSERT(strstr(err, "not a shared object"));
}

DC_TEST(unresolved_symbol_is_named) {
  char err[256] = "";
  DC_ASSERT_EQ(
      load_path(DC_DRIVER_DIR "/bad/unresolved_sym.so", err, sizeof err),
      DC_EUNRESOLVED);
  DC_ASSERT(strstr(err, "drvcheck_no_such_function"));
}

DC_TEST(library_without_driver_init_is_a_load_error) {
  char err[256] = "";
  /* A real shared object with no driver_init at all: not a driver. */
  DC_ASSERT_EQ(load_path(DC_DRIVER_DIR "/bad/not_a_driver.so", err, sizeof err),
               DC_ENOINIT);
  DC_ASSERT(strstr(err, "no driver_init"));
  size_t n;
  dc__findings(&n);
  DC_ASSERT_EQ(n, 0);
}

DC_TEST(static_only_library_is_entry_null) {
  char err[256] = "";
  DC_ASSERT_EQ(load_path(DC_DRIVER_DIR "/bad/static_only.so", err, sizeof err),
               DC_ELOAD);
  expect_only(DC_RULE_ENTRY_NULL);
}

DC_TEST(wrong_name_library_is_entry_name) {
  char err[256] = "";
  DC_ASSERT_EQ(load_path(DC_DRIVER_DIR "/bad/bad_name.so", err, sizeof err),
               DC_ELOAD);
  expect_only(DC_RULE_ENTRY_NAME);
}

DC_TEST(entry_copy_survives_refusal) {
  char err[256] = "", name[64];
  ErlDrvEntry e;
  DC_ASSERT_EQ(load_path(DC_DRIVER_DIR "/bad/bad_version.so", err, sizeof err),
               DC_ELOAD);
  DC_ASSERT_EQ(dc__loader_entry_copy(&e, name, sizeof name), 1);
  DC_ASSERT_STREQ(name, "bad_version");
  DC_ASSERT(e.major_version != ERL_DRV_EXTENDED_MAJOR_VERSION);
}
