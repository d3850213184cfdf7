# AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer at exit):
#   cmake -C sanitizers/asan-ubsan.cmake -S . -B build-asan
# -fno-sanitize-recover makes every UB report fatal, as ASan errors are, so
# one run yields at most one report and the first one is the cause.
set(DC_SANITIZER asan)
set(DC_SAN_FLAGS "-fsanitize=address,undefined -fno-sanitize-recover=undefined")
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
