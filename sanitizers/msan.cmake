# MemorySanitizer:  cmake -C sanitizers/msan.cmake -S . -B build-msan
# MSan needs every byte of code in the process instrumented. libei.a and
# libcjson come uninstrumented from the distribution, so reports inside
# them (or on data they wrote) are expected; see sanitizers/README.md for
# what this build is good for.
set(DC_SANITIZER msan)
set(DC_SAN_FLAGS "-fsanitize=memory -fsanitize-memory-track-origins=2")
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
