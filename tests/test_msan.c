/* MemorySanitizer build of drvcheck (sanitizers/msan.cmake).
 *
 * Every build: MSan reports (real ones, tests/fixtures/san/msan_*.txt)
 * become san.undefined at the driver's line, and a report with no driver
 * frame is not blamed on the driver.
 *
 * MSan builds only (the tests return at once elsewhere): the ei/cJSON shim
 * (harness/src/core/msan_shim.h) marks what those uninstrumented libraries
 * write as initialised and nothing more; the in-tree example drivers,
 * instrumented by this build, run through drvcheck without a finding; and
 * corpus/drivers/bad/san_uninit_drv.c, which branches on a field start
 * never set, is flagged san.undefined at that line. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sequencer/internal.h"
#include "support.h"

#if defined(__has_feature)
#if __has_feature(memory_sanitizer)
#define DC_TEST_MSAN 1
#include <sanitizer/msan_interface.h>
#endif
#endif

#define UNINIT_SRC DC_SOURCE_DIR "/corpus/drivers/bad/san_uninit_drv.c"

/* ------------------------------------------------------------------------ */
/* Parsing (every build)                                                     */

DC_TEST(msan_report_is_san_undefined_at_the_branching_line) {
  dc__san_report r;
  /* there is no MSan rule in spec/rules.md: reading an indeterminate value
   * is undefined behaviour, so san.undefined (sanitizer.c) */
  DC_ASSERT_EQ(
      dc_test_san_parse_fixture("msan_uninit.txt", "/x/san_uninit_drv.so", &r),
      DC__SAN_DRIVER);
  DC_ASSERT_EQ(r.rule, DC_RULE_SAN_UNDEFINED);
  DC_ASSERT_STREQ(r.kind, "use-of-uninitialized-value");
  DC_ASSERT_STREQ(r.function, "uninit_control");
  DC_ASSERT_EQ(r.line, 46); /* the marked line when it was captured */
  DC_ASSERT(strstr(r.file, "corpus/drivers/bad/san_uninit_drv.c"));
}

DC_TEST(msan_report_in_harness_code_is_not_the_drivers) {
  dc__san_report r;
  /* captured before the shim existed: ei wrote the ei_x_buff, MSan could
   * not see it; no frame of the driver under test, so no finding */
  DC_ASSERT_EQ(
      dc_test_san_parse_fixture("msan_harness_only.txt", "echo_drv.so", &r),
      DC__SAN_FOREIGN);
  DC_ASSERT_EQ(r.rule, DC_RULE_SAN_UNDEFINED);
  DC_ASSERT_STREQ(r.location, "");
}

/* ------------------------------------------------------------------------ */
/* The shim (MSan builds)                                                    */

#if defined(DC_TEST_MSAN)
/* Offset of the first uninitialised byte of p[0, n), -1 if none. */
static long first_uninit(const void *p, size_t n) {
  return (long)__msan_test_shadow(p, n);
}
#endif

DC_TEST(shim_marks_what_ei_x_encoders_write) {
#if defined(DC_TEST_MSAN)
  ei_x_buff x; /* stack: uninitialised until ei fills it */
  DC_ASSERT_EQ(ei_x_new_with_version(&x), 0);
  DC_ASSERT_EQ(ei_x_encode_tuple_header(&x, 2), 0);
  DC_ASSERT_EQ(ei_x_encode_atom(&x, "ok"), 0);
  DC_ASSERT_EQ(ei_x_encode_long(&x, 1L << 40), 0);
  DC_ASSERT_EQ(first_uninit(&x, sizeof x), -1);
  DC_ASSERT_EQ(first_uninit(x.buff, (size_t)x.index), -1);
  /* beyond the index: ei's spare room, never written, stays uninitialised */
  DC_ASSERT(x.buffsz > x.index);
  DC_ASSERT_EQ(first_uninit(x.buff + x.index, 1), 0);
  ei_x_free(&x);
#endif
}

DC_TEST(shim_keeps_the_shadow_of_copied_payload_bytes) {
#if defined(DC_TEST_MSAN)
  char src[8] = "abcd";
  __msan_poison(src + 4, 4); /* a driver buffer half written */
  ei_x_buff x;
  DC_ASSERT_EQ(ei_x_new(&x), 0);
  DC_ASSERT_EQ(ei_x_encode_binary(&x, src, 8), 0);
  /* 5-byte BINARY_EXT header (tag, length): written by ei */
  DC_ASSERT_EQ(x.index, 13);
  DC_ASSERT_EQ(first_uninit(x.buff, 9), -1);
  DC_ASSERT_EQ(first_uninit(x.buff + 5, 8), 4);
  int from = x.index;
  DC_ASSERT_EQ(ei_x_encode_string_len(&x, src, 8), 0);
  DC_ASSERT_EQ(first_uninit(x.buff + from, 3 + 4), -1);
  DC_ASSERT_EQ(first_uninit(x.buff + from + 3, 8), 4);
  ei_x_free(&x);

  char buf[32];
  int i = 0;
  DC_ASSERT_EQ(ei_encode_binary(buf, &i, src, 8), 0);
  DC_ASSERT_EQ(i, 13);
  DC_ASSERT_EQ(first_uninit(buf, 13), 9);
#endif
}

DC_TEST(shim_marks_decoder_outputs_and_nothing_past_them) {
#if defined(DC_TEST_MSAN)
  ei_x_buff x;
  DC_ASSERT_EQ(ei_x_new_with_version(&x), 0);
  DC_ASSERT_EQ(ei_x_encode_tuple_header(&x, 4), 0);
  DC_ASSERT_EQ(ei_x_encode_string(&x, "ab"), 0);
  DC_ASSERT_EQ(ei_x_encode_atom(&x, "cd"), 0);
  DC_ASSERT_EQ(ei_x_encode_double(&x, 2.5), 0);
  DC_ASSERT_EQ(ei_x_encode_longlong(&x, -7), 0);
  int i = 0, version, arity, type, size;
  char s[16], a[16];
  double d;
  EI_LONGLONG ll;
  DC_ASSERT_EQ(ei_decode_version(x.buff, &i, &version), 0);
  DC_ASSERT_EQ(ei_decode_tuple_header(x.buff, &i, &arity), 0);
  DC_ASSERT_EQ(first_uninit(&version, sizeof version), -1);
  DC_ASSERT_EQ(arity, 4);
  ei_get_type(x.buff, &i, &type, &size);
  DC_ASSERT_EQ(type, ERL_STRING_EXT);
  DC_ASSERT_EQ(size, 2);
  DC_ASSERT_EQ(ei_decode_string(x.buff, &i, s), 0);
  /* "ab" and its NUL are ei's; s[3] was never written */
  DC_ASSERT_EQ(first_uninit(s, 4), 3);
  DC_ASSERT_EQ(
      ei_decode_atom_as(x.buff, &i, a, sizeof a, ERLANG_UTF8, NULL, NULL), 0);
  DC_ASSERT_STREQ(a, "cd");
  DC_ASSERT_EQ(ei_decode_double(x.buff, &i, &d), 0);
  DC_ASSERT(d == 2.5);
  DC_ASSERT_EQ(ei_decode_longlong(x.buff, &i, &ll), 0);
  DC_ASSERT(ll == -7);
  DC_ASSERT_EQ(i, x.index);
  ei_x_free(&x);
#endif
}

DC_TEST(shim_reports_an_uninitialised_integer_given_to_ei) {
#if defined(DC_TEST_MSAN)
  /* ei chooses the integer's encoding from its value: an instrumented ei
   * would report this use, the shim checks it for it */
  pid_t pid = fork();
  DC_ASSERT(pid >= 0);
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stderr))
      _exit(3);
    ei_x_buff x;
    long v = 1; /* initialised for the compiler, not for MSan: */
    __msan_poison(&v, sizeof v);
    if (ei_x_new(&x) == 0)
      ei_x_encode_long(&x, v);
    _exit(0);
  }
  int st;
  DC_ASSERT_EQ(waitpid(pid, &st, 0), pid);
  DC_ASSERT(WIFEXITED(st));
  DC_ASSERT(WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 3);
#endif
}

DC_TEST(cjson_trees_and_text_read_as_initialised) {
#if defined(DC_TEST_MSAN)
  cJSON *o = cJSON_CreateObject();
  DC_ASSERT(o);
  cJSON_AddNumberToObject(o, "n", 42);
  cJSON_AddStringToObject(o, "s", "text");
  char *out = cJSON_Print(o);
  DC_ASSERT(out);
  DC_ASSERT_EQ(first_uninit(out, strlen(out) + 1), -1);
  cJSON *p = cJSON_Parse(out);
  DC_ASSERT(p);
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(p, "s");
  DC_ASSERT(cJSON_IsString(s));
  DC_ASSERT_STREQ(s->valuestring, "text");
  DC_ASSERT_EQ(first_uninit(s, sizeof *s), -1);
  cJSON_Delete(p);
  cJSON_Delete(o);
  free(out);
#endif
}

/* ------------------------------------------------------------------------ */
/* Drivers (MSan builds)                                                     */

#if defined(DC_TEST_MSAN)
/* Line of the comment marking the defect in the bad driver's source. */
static unsigned marked_line(void) {
  FILE *f = fopen(UNINIT_SRC, "r");
  char line[256];
  unsigned n = 0;
  DC_ASSERT(f);
  while (fgets(line, sizeof line, f)) {
    n++;
    if (strstr(line, "the uninitialised read:")) {
      fclose(f);
      return n;
    }
  }
  fclose(f);
  DC_FAIL("no marked line in %s", UNINIT_SRC);
  return 0;
}

/* drvcheck run on one driver; returns its exit status, the number of
 * findings in its JSON report in *nfind (-1: no report). */
static int run_cli(const char *so, int *nfind, char *first, size_t cap) {
  char rep[96], cmd[1024];
  snprintf(rep, sizeof rep, "/tmp/dc-msan-test.%ld.json", (long)getpid());
  snprintf(cmd, sizeof cmd,
           "'%s' run '%s' --time 2 --quiet --report %s >/dev/null 2>&1",
           DC_DRVCHECK_BIN, so, rep);
  int st = system(cmd);
  *nfind = -1;
  first[0] = '\0';
  FILE *f = fopen(rep, "rb");
  if (f) {
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    cJSON *root = cJSON_Parse(text);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "findings");
    if (cJSON_IsArray(arr)) {
      *nfind = cJSON_GetArraySize(arr);
      const cJSON *f0 = cJSON_GetArrayItem(arr, 0);
      const cJSON *rule = cJSON_GetObjectItemCaseSensitive(f0, "rule");
      const cJSON *loc = cJSON_GetObjectItemCaseSensitive(f0, "location");
      if (cJSON_IsString(rule))
        snprintf(first, cap, "%s %s", rule->valuestring,
                 cJSON_IsString(loc) ? loc->valuestring : "");
    }
    cJSON_Delete(root);
    unlink(rep);
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
#endif

#if defined(DC_TEST_MSAN)
/* Runs every .so of dir through drvcheck; returns how many gave a finding
 * (or failed), adds the number run to *seen. */
static int run_dir_clean(const char *dir, int *seen) {
  DIR *d = opendir(dir);
  struct dirent *de;
  int bad = 0;
  DC_ASSERT(d);
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if (l < 4 || strcmp(de->d_name + l - 3, ".so") != 0)
      continue;
    char so[512], first[256];
    int nfind;
    snprintf(so, sizeof so, "%s/%s", dir, de->d_name);
    int rc = run_cli(so, &nfind, first, sizeof first);
    if (rc != 0 || nfind != 0) {
      fprintf(stderr, "%s: exit %d, %d finding(s): %s\n", so, rc, nfind, first);
      bad++;
    }
    (*seen)++;
  }
  closedir(d);
  return bad;
}
#endif

/* The example drivers and the zoo's good ones, instrumented by this build. */
DC_TEST_T(example_drivers_run_clean_under_msan, 900) {
#if defined(DC_TEST_MSAN)
  int seen = 0, bad = run_dir_clean(DC_DRIVER_DIR, &seen);
  DC_ASSERT(seen >= 9);
  bad += run_dir_clean(DC_DRIVER_DIR "/../zoo/good", &seen);
  DC_ASSERT(seen >= 18);
  DC_ASSERT_EQ(bad, 0);
#endif
}

DC_TEST_T(uninitialised_branch_is_san_undefined_not_cb_crash, 120) {
#if defined(DC_TEST_MSAN)
  /* built by this build's CMake, instrumented with MSan like drvcheck */
  dc__exec_config cfg = {.driver_path = DC_DRIVER_DIR "/bad/san_uninit_drv.so"};
  dc__exec *ex;
  dc__exec_result res;
  DC_ASSERT_EQ(dc__exec_open(&ex, &cfg), 0);
  dc__exec_unit u = {.smoke = 1, .seed = 1};
  DC_ASSERT_EQ(dc__exec_run(ex, &u, &res), 0);
  dc__exec_close(ex);
  const dc__finding *f = NULL;
  for (size_t i = 0; i < res.nfindings; i++) {
    DC_ASSERT(res.findings[i].rule != DC_RULE_CB_CRASH);
    if (res.findings[i].rule == DC_RULE_SAN_UNDEFINED)
      f = &res.findings[i];
  }
  DC_ASSERT(f);
  char want[64];
  snprintf(want, sizeof want, "san_uninit_drv.c:%u", marked_line());
  DC_ASSERT(strstr(f->location, "uninit_control ") == f->location);
  DC_ASSERT(strstr(f->location, want));
  DC_ASSERT_STREQ(f->callback, "control");
  dc__exec_result_free(&res);
#endif
}
