/* empty_fuzz: a libFuzzer target that does nothing with its input. The fuzz
 * benchmark (scripts/bench/fuzz) times it to learn what libFuzzer's own loop
 * (mutation, coverage collection, malloc hooks) costs per execution under
 * the same flags as the other two targets, so that the rest of a target's
 * time can be split into the work its callbacks do. */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)data;
  (void)size;
  return 0;
}
