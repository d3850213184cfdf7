# ThreadSanitizer:  cmake -C sanitizers/tsan.cmake -S . -B build-tsan
set(DC_SANITIZER tsan)
set(DC_SAN_FLAGS "-fsanitize=thread")
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
