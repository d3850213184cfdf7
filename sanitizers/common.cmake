# Shared part of the sanitizer configurations (loaded by asan-ubsan.cmake,
# tsan.cmake, msan.cmake through `cmake -C`). Expects DC_SAN_FLAGS set.
# Sanitizer runtimes come with clang (libclang-rt-*-dev); gcc builds stay
# the default and need none of this.
set(CMAKE_C_COMPILER clang CACHE STRING "C compiler for sanitizer builds")
set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "build type")
# -O1 keeps reports readable (frames not merged away) at usable speed;
# frame pointers give the sanitizers' fast unwinder complete stacks.
set(_dc_san_c "${DC_SAN_FLAGS} -O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls")
set(CMAKE_C_FLAGS "${_dc_san_c}" CACHE STRING "sanitizer compile flags")
set(CMAKE_C_FLAGS_RELWITHDEBINFO "-g" CACHE STRING "keep -O1 from CMAKE_C_FLAGS")
set(CMAKE_EXE_LINKER_FLAGS "${DC_SAN_FLAGS}" CACHE STRING "")
set(CMAKE_SHARED_LINKER_FLAGS "${DC_SAN_FLAGS}" CACHE STRING "")
set(CMAKE_MODULE_LINKER_FLAGS "${DC_SAN_FLAGS}" CACHE STRING "")
set(DC_SANITIZER "${DC_SANITIZER}" CACHE STRING "sanitizer of this build (asan, tsan, msan)")
# Adds the sanitizer-only ctest entries (sanitizers/tests.cmake) at the end
# of the top-level CMakeLists.txt, so the plain gcc build never sees them.
set(CMAKE_PROJECT_drvcheck_INCLUDE "${CMAKE_CURRENT_LIST_DIR}/project.cmake"
    CACHE FILEPATH "sanitizer test hook")
