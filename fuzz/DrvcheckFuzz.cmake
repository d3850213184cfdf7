# drvcheck fuzzing helpers for CMake projects that include drvcheck
# (add_subdirectory / FetchContent): the harness targets must exist.
#
#   drvcheck_add_fuzzer(NAME SOURCES my_drv.c ... [DRIVER name]
#                       [DEFINITIONS ...] [LIBRARIES ...] [INCLUDES ...])
#     Builds a libFuzzer binary NAME (clang only) with the driver linked in
#     statically (-DSTATIC_ERLANG_DRIVER) and instrumented for coverage
#     (-fsanitize=fuzzer-no-link,address,undefined); the fuzz target loads it
#     through <DRIVER>_driver_init (DRIVER defaults to the first source's
#     base name: DRIVER_INIT(my_drv) in my_drv.c). With any compiler it also
#     builds NAME_replay, the same target with a replay main() and no
#     instrumentation, for running a corpus in tests.
#     The driver's statics persist across inputs (it is never unloaded).
#
#   drvcheck_add_fuzz_driver(NAME SOURCES my_drv.c ... [DEFINITIONS ...]
#                            [LIBRARIES ...] [INCLUDES ...])
#     Builds NAME.so (clang only) with coverage and ASan instrumentation
#     (-fsanitize=fuzzer-no-link,address) into ${CMAKE_BINARY_DIR}/fuzz/drivers,
#     for the prebuilt fuzzer: drvcheck_fuzz_driver --drvcheck-driver=NAME.so

#
# Engine and sanitizers. By default drvcheck instruments with its own flags
# and links libFuzzer (-fsanitize=fuzzer). Under OSS-Fuzz/ClusterFuzzLite
# (.clusterfuzzlite/build.sh) the builder's CFLAGS already carry the
# sanitizer and coverage flags and $LIB_FUZZING_ENGINE names the engine:
# configure with -DDC_FUZZ_ENGINE="$LIB_FUZZING_ENGINE"; as soon as
# CMAKE_C_FLAGS holds a -fsanitize= flag, no sanitizer/coverage flag of our
# own is added (ours could clash with the builder's, e.g. address+memory).
# Builds configured with sanitizers/*.cmake (DC_SANITIZER: tsan, msan...)
# get no libFuzzer targets: clang rejects -fsanitize=address with thread.

set(DRVCHECK_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
set(DC_FUZZ_ENGINE "-fsanitize=fuzzer" CACHE STRING
  "link flags or library of the fuzzing engine ($LIB_FUZZING_ENGINE on OSS-Fuzz)")
separate_arguments(_dc_fuzz_engine UNIX_COMMAND "${DC_FUZZ_ENGINE}")

if(CMAKE_C_FLAGS MATCHES "-fsanitize=")
  set(DRVCHECK_FUZZ_EXTERNAL ON)
else()
  set(DRVCHECK_FUZZ_EXTERNAL OFF)
endif()

if(DRVCHECK_FUZZ_EXTERNAL)
  # Coverage + sanitizer come from CMAKE_C_FLAGS; the no-coverage harness
  # copy takes the builder's coverage away again with an ignore-all list
  # (works for any -fsanitize-coverage flavour the engine uses).
  set(DRVCHECK_FUZZ_FLAGS "")
  set(DRVCHECK_FUZZ_LINK ${_dc_fuzz_engine})
  set(DRVCHECK_FUZZ_DRIVER_FLAGS "")
  set(_dc_nocov_list ${CMAKE_BINARY_DIR}/fuzz/drvcheck-nocov.txt)
  file(WRITE ${_dc_nocov_list} "src:*\n")
  set(DRVCHECK_FUZZ_NOCOV_FLAGS "")
  if(CMAKE_C_FLAGS MATCHES "fuzzer-no-link|-fsanitize-coverage")
    set(DRVCHECK_FUZZ_NOCOV_FLAGS -fsanitize-coverage-ignorelist=${_dc_nocov_list})
  endif()
else()
  set(DRVCHECK_FUZZ_FLAGS -fsanitize=fuzzer-no-link,address,undefined
      -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  set(DRVCHECK_FUZZ_LINK ${_dc_fuzz_engine} -fsanitize=address,undefined)
  set(DRVCHECK_FUZZ_DRIVER_FLAGS -fsanitize=fuzzer-no-link,address)
  set(DRVCHECK_FUZZ_NOCOV_FLAGS -fsanitize=address,undefined
      -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
endif()

if(CMAKE_C_COMPILER_ID MATCHES "Clang" AND NOT DC_SANITIZER)
  set(DRVCHECK_CAN_FUZZ ON)
else()
  set(DRVCHECK_CAN_FUZZ OFF)
endif()

# The harness sources again, instrumented (the main dc_harness library keeps
# its flags), in two copies made on first use: dc_harness_fuzz with coverage
# for the targets that fuzz the harness itself (scenario, etf), and
# dc_harness_fuzz_nocov with ASan/UBSan only for the driver fuzzers, whose
# coverage feedback should come from the driver: harness edges would flood
# the corpus with inputs that differ only in how the emulator ran.
function(_drvcheck_fuzz_harness lib)
  if(TARGET ${lib})
    return()
  endif()
  add_library(${lib} STATIC ${DC_HARNESS_SOURCES})
  target_include_directories(${lib} PUBLIC ${PROJECT_SOURCE_DIR}/harness/include
    ${DC_OTP_INCLUDE} ${PROJECT_SOURCE_DIR}/harness/src PRIVATE ${DC_CJSON_INCLUDE})
  if(lib STREQUAL "dc_harness_fuzz")
    target_compile_options(${lib} PRIVATE ${DRVCHECK_FUZZ_FLAGS})
  else()
    target_compile_options(${lib} PRIVATE ${DRVCHECK_FUZZ_NOCOV_FLAGS})
  endif()
  target_link_libraries(${lib} PUBLIC dc_ei ${DC_CJSON_LIB} Threads::Threads
    ${CMAKE_DL_LIBS})
endfunction()

# A libFuzzer executable embedding an instrumented harness copy (lib);
# exports the erl_driver symbols for dlopen'ed drivers (like
# dc_embed_harness). The target's own sources get no coverage either when
# lib is the no-coverage copy.
function(_drvcheck_fuzz_exe target lib)
  _drvcheck_fuzz_harness(${lib})
  target_compile_definitions(${target} PRIVATE DC_LIBFUZZER)
  if(lib STREQUAL "dc_harness_fuzz")
    target_compile_options(${target} PRIVATE ${DRVCHECK_FUZZ_FLAGS})
  else()
    target_compile_options(${target} PRIVATE ${DRVCHECK_FUZZ_NOCOV_FLAGS})
  endif()
  target_link_options(${target} PRIVATE ${DRVCHECK_FUZZ_LINK})
  target_link_libraries(${target} PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,${lib}>")
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/harness/src)
  set_target_properties(${target} PROPERTIES ENABLE_EXPORTS ON)
endfunction()

function(drvcheck_add_fuzzer NAME)
  cmake_parse_arguments(F "" "DRIVER" "SOURCES;DEFINITIONS;LIBRARIES;INCLUDES" ${ARGN})
  if(NOT F_SOURCES)
    message(FATAL_ERROR "drvcheck_add_fuzzer(${NAME}): SOURCES is required")
  endif()
  if(NOT F_DRIVER)
    list(GET F_SOURCES 0 _first)
    get_filename_component(F_DRIVER ${_first} NAME_WE)
  endif()
  set(_variants replay)
  if(DRVCHECK_CAN_FUZZ)
    list(APPEND _variants fuzz)
  endif()
  foreach(v ${_variants})
    set(drv ${NAME}_${v}_driver)
    add_library(${drv} OBJECT ${F_SOURCES})
    target_compile_definitions(${drv} PRIVATE STATIC_ERLANG_DRIVER ${F_DEFINITIONS})
    target_include_directories(${drv} PRIVATE ${DC_OTP_INCLUDE} ${F_INCLUDES})
    if(v STREQUAL "fuzz")
      target_compile_options(${drv} PRIVATE ${DRVCHECK_FUZZ_FLAGS})
      add_executable(${NAME} ${DRVCHECK_FUZZ_DIR}/driver_target.c $<TARGET_OBJECTS:${drv}>)
      _drvcheck_fuzz_exe(${NAME} dc_harness_fuzz_nocov)
      set(exe ${NAME})
    else()
      set(exe ${NAME}_replay)
      add_executable(${exe} ${DRVCHECK_FUZZ_DIR}/driver_target.c
        ${DRVCHECK_FUZZ_DIR}/replay_main.c $<TARGET_OBJECTS:${drv}>)
      dc_embed_harness(${exe})
    endif()
    target_compile_definitions(${exe} PRIVATE DC_STATIC_INIT=${F_DRIVER}_driver_init)
    target_link_libraries(${exe} PRIVATE ${F_LIBRARIES})
  endforeach()
endfunction()

function(drvcheck_add_fuzz_driver NAME)
  cmake_parse_arguments(F "" "" "SOURCES;DEFINITIONS;LIBRARIES;INCLUDES" ${ARGN})
  if(NOT DRVCHECK_CAN_FUZZ)
    return()
  endif()
  add_library(${NAME}_cov MODULE ${F_SOURCES})
  target_compile_definitions(${NAME}_cov PRIVATE ${F_DEFINITIONS})
  target_include_directories(${NAME}_cov PRIVATE ${DC_OTP_INCLUDE} ${F_INCLUDES})
  target_compile_options(${NAME}_cov PRIVATE ${DRVCHECK_FUZZ_DRIVER_FLAGS}
    -fno-omit-frame-pointer -fvisibility=hidden)
  target_link_options(${NAME}_cov PRIVATE ${DRVCHECK_FUZZ_DRIVER_FLAGS})
  target_link_libraries(${NAME}_cov PRIVATE ${F_LIBRARIES})
  set_target_properties(${NAME}_cov PROPERTIES PREFIX "" OUTPUT_NAME ${NAME}
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz/drivers)
endfunction()
