# Included after project(drvcheck) in sanitizer builds only (see
# common.cmake); defers the sanitizer test entries to the end of the
# top-level CMakeLists.txt, when the drvcheck and driver targets exist.
# (EVAL: deferred arguments would otherwise be expanded at call time, when
# CMAKE_CURRENT_LIST_DIR no longer names this directory.)
cmake_language(EVAL CODE
  "cmake_language(DEFER DIRECTORY [[${CMAKE_SOURCE_DIR}]] CALL include [[${CMAKE_CURRENT_LIST_DIR}/tests.cmake]])")
