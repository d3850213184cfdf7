/* Runs every registered test in a forked child with a timeout. With an
 * argument, runs only the tests whose name contains it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

#define MAX_TESTS 512

static struct {
  const char *name;
  dc_test_fn fn;
  int timeout;
} tests[MAX_TESTS];
static int ntests;

void dc_test_register(const char *name, dc_test_fn fn, int timeout_s) {
  if (ntests == MAX_TESTS) {
    fprintf(stderr, "runner: too many tests\n");
    exit(2);
  }
  tests[ntests].name = name;
  tests[ntests].fn = fn;
  tests[ntests].timeout = timeout_s;
  ntests++;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run_one(int i) {
  double t0 = now_s();
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 0;
  }
  if (pid == 0) {
    alarm((unsigned)tests[i].timeout);
    tests[i].fn();
    fflush(NULL);
    _exit(0);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0)
    ;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
    printf("ok     %s (%.2fs)\n", tests[i].name, now_s() - t0);
    return 1;
  }
  if (WIFSIGNALED(st))
    printf("FAIL   %s (signal %d%s)\n", tests[i].name, WTERMSIG(st),
           WTERMSIG(st) == SIGALRM ? ", timeout" : "");
  else
    printf("FAIL   %s (exit %d)\n", tests[i].name, WEXITSTATUS(st));
  return 0;
}

int main(int argc, char **argv) {
  int passed = 0, run = 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (int i = 0; i < ntests; i++) {
    if (argc > 1 && !strstr(tests[i].name, argv[1]))
      continue;
    run++;
    passed += run_one(i);
  }
  printf("%d/%d passed\n", passed, run);
  return (run > 0 && passed == run) ? 0 : 1;
}
