/* Minimal test runner: one function per behaviour, each run in its own
 * process with a timeout, because a driver under test may crash. */
#ifndef DC_TEST_RUNNER_H
#define DC_TEST_RUNNER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*dc_test_fn)(void);
void dc_test_register(const char *name, dc_test_fn fn, int timeout_s);

#define DC_TEST_T(name, timeout_s)                                             \
  static void test_##name(void);                                               \
  __attribute__((constructor)) static void register_##name(void) {             \
    dc_test_register(#name, test_##name, timeout_s);                           \
  }                                                                            \
  static void test_##name(void)
#define DC_TEST(name) DC_TEST_T(name, 30)

#define DC_FAIL(...)                                                           \
  do {                                                                         \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                            \
    fprintf(stderr, __VA_ARGS__);                                              \
    fputc('\n', stderr);                                                       \
    exit(1);                                                                   \
  } while (0)

#define DC_ASSERT(cond)                                                        \
  do {                                                                         \
    if (!(cond))                                                               \
      DC_FAIL("assertion failed: %s", #cond);                                  \
  } while (0)

#define DC_ASSERT_EQ(a, b)                                                     \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    if (a_ != b_)                                                              \
      DC_FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);                       \
  } while (0)

#define DC_ASSERT_STREQ(a, b)                                                  \
  do {                                                                         \
    const char *a_ = (a), *b_ = (b);                                           \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                     \
      DC_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",        \
              b_ ? b_ : "(null)");                                             \
  } while (0)

#endif
