# MemorySanitizer:  cmake -C sanitizers/msan.cmake -S . -B build-msan
# MSan needs every byte of code in the process instrumented. libei.a and
# libcjson come uninstrumented from the distribution: drvcheck wraps them
# (harness/src/core/msan_shim.h marks what ei and cJSON write as
# initialised), and the in-tree drivers built in this build dir stay
# instrumented and get the same ei wrappers (tests.cmake). What the build
# covers and its limits: sanitizers/README.md, "MSan".
set(DC_SANITIZER msan)
set(DC_SAN_FLAGS "-fsanitize=memory -fsanitize-memory-track-origins=2")
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
