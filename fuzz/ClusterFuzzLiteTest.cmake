# ctest entry fuzz_clusterfuzzlite_build (clang builds only, fuzz/CMakeLists.txt):
# runs .clusterfuzzlite/build.sh the way the ClusterFuzzLite/OSS-Fuzz
# builders do (libFuzzer + ASan: their $CC $CFLAGS $LIB_FUZZING_ENGINE
# $SRC $OUT $WORK), then checks that every fuzzer landed in $OUT with its
# seed corpus and dictionary and runs 10 inputs on top of its seeds.
#   cmake -DDC_SRC=<repo> -DDC_TMP=<scratch dir> -DDC_CC=<clang> -P ClusterFuzzLiteTest.cmake
foreach(v DC_SRC DC_TMP DC_CC)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "${v} is not set")
  endif()
endforeach()

# A fresh tree each time: the script must work from scratch, as on a builder.
file(REMOVE_RECURSE ${DC_TMP})
file(MAKE_DIRECTORY ${DC_TMP}/src ${DC_TMP}/out ${DC_TMP}/work ${DC_TMP}/seeds)
file(CREATE_LINK ${DC_SRC} ${DC_TMP}/src/drvcheck SYMBOLIC)

# The flags base-builder exports for a libFuzzer ASan build.
set(_cflags "-O1 -fno-omit-frame-pointer -gline-tables-only -fsanitize=address -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link")
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env CC=${DC_CC} CXX=clang++
    "CFLAGS=${_cflags}" "CXXFLAGS=${_cflags}" LIB_FUZZING_ENGINE=-fsanitize=fuzzer
    OUT=${DC_TMP}/out SRC=${DC_TMP}/src WORK=${DC_TMP}/work
    bash -eu ${DC_TMP}/src/drvcheck/.clusterfuzzlite/build.sh
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "build.sh failed (${rc}):\n${out}")
endif()

set(_out ${DC_TMP}/out)
foreach(f echo_drv.so drvcheck_fuzz_driver.real lib/libcjson.so.1)
  if(NOT EXISTS ${_out}/${f})
    message(FATAL_ERROR "build.sh did not install ${f} into $OUT")
  endif()
endforeach()

foreach(t drvcheck_fuzz_scenario drvcheck_fuzz_etf drvcheck_fuzz_echo drvcheck_fuzz_driver)
  foreach(f ${t} ${t}_seed_corpus.zip ${t}.dict)
    if(NOT EXISTS ${_out}/${f})
      message(FATAL_ERROR "missing $OUT/${f}")
    endif()
  endforeach()
  # The seeds as a fuzzer would get them: unpacked from the zip.
  set(_seeds ${DC_TMP}/seeds/${t})
  file(MAKE_DIRECTORY ${_seeds})
  execute_process(COMMAND ${CMAKE_COMMAND} -E tar xf ${_out}/${t}_seed_corpus.zip
    WORKING_DIRECTORY ${_seeds} RESULT_VARIABLE rc)
  file(GLOB _files ${_seeds}/*)
  list(LENGTH _files n)
  if(NOT rc EQUAL 0 OR n EQUAL 0)
    message(FATAL_ERROR "${t}: seed corpus zip is empty or unreadable")
  endif()
  # The driver fuzzer is a wrapper: DRVCHECK_DRIVER must come from it alone.
  execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=DRVCHECK_DRIVER
      ${_out}/${t} -runs=10 -dict=${_out}/${t}.dict ${_seeds}
    RESULT_VARIABLE rc OUTPUT_VARIABLE log ERROR_VARIABLE log)
  if(NOT rc EQUAL 0 OR NOT log MATCHES "Done [0-9]+ runs")
    message(FATAL_ERROR "${t} -runs=10 failed (${rc}):\n${log}")
  endif()
  string(REGEX MATCH "INITED[^\n]*" _inited "${log}")
  message(STATUS "${t}: ok (${n} seeds; ${_inited})")
endforeach()
