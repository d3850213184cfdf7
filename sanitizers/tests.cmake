# Sanitizer-only additions (included at the end of the top-level
# CMakeLists.txt through project.cmake; never in the plain gcc build).

# 1. Under ASan/TSan the in-tree corpus drivers are built WITHOUT
# instrumentation, so the test suite checks the harness under the sanitizer
# while the deliberately broken drivers behave as in the gcc build (a NULL
# write stays a SIGSEGV -> cb.crash, not a UBSan report). MSan cannot do
# that: uninstrumented code writing memory reads as uninitialised to MSan.
if(DC_SANITIZER STREQUAL "asan" OR DC_SANITIZER STREQUAL "tsan")
  get_property(_dc_san_drivers GLOBAL PROPERTY DC_DRIVERS)
  foreach(_t ${_dc_san_drivers})
    target_compile_options(${_t} PRIVATE -fno-sanitize=all)
  endforeach()
  # At link time too: clang 14 links libclang_rt.asan_static into every
  # shared object linked with -fsanitize=address, and its undefined
  # __asan_report_* symbols make the driver unloadable outside an ASan
  # process (the real erl of tests/test_corpus.c: {open_error,-11}). Target
  # link options come before CMAKE_MODULE_LINKER_FLAGS on the link line, so
  # this goes into the module link rule, after them; it is this directory's
  # rule (corpus/drivers, corpus/drivers/bad), not fuzz/'s or the zoo's.
  string(REPLACE "<LINK_FLAGS>" "<LINK_FLAGS> -fno-sanitize=all"
         CMAKE_C_CREATE_SHARED_MODULE "${CMAKE_C_CREATE_SHARED_MODULE}")
endif()
# Under MSan they stay instrumented, and the drivers that encode or decode
# terms with libei (uninstrumented, linked into the driver) get the same ei
# wrappers as drvcheck itself: the shim, force-included, marks what ei
# writes as initialised (harness/src/core/msan_shim.h).
if(DC_SANITIZER STREQUAL "msan")
  get_property(_dc_san_drivers GLOBAL PROPERTY DC_DRIVERS)
  foreach(_t ${_dc_san_drivers})
    target_compile_options(${_t} PRIVATE
      -include ${PROJECT_SOURCE_DIR}/harness/src/core/msan_shim.h)
  endforeach()
endif()

# 2. The sanitized driver runs: every example driver rebuilt with
# scripts/build-driver under this build's sanitizer runs through this
# build's drvcheck with no finding; under TSan the racy port-locking driver
# (corpus/drivers/bad/san_race_drv.c) must be flagged san.thread at its
# racing line and its correct twin san_norace_drv.c must not; under MSan
# corpus/drivers/bad/san_uninit_drv.c must be flagged san.undefined at its
# uninitialised read.
if(DC_SANITIZER STREQUAL "asan" OR DC_SANITIZER STREQUAL "tsan"
   OR DC_SANITIZER STREQUAL "msan")
  add_test(NAME san_drivers
    COMMAND ${PROJECT_SOURCE_DIR}/sanitizers/run-drivers ${DC_SANITIZER}
            $<TARGET_FILE:drvcheck> ${CMAKE_BINARY_DIR}/san-drivers)
  set_tests_properties(san_drivers PROPERTIES TIMEOUT 900)
endif()

