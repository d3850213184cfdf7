#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build script for drvcheck's fuzz targets.
# Uses the builder's variables: $CC $CFLAGS (sanitizer + coverage flags),
# $LIB_FUZZING_ENGINE, $SRC (drvcheck checked out at $SRC/drvcheck), $OUT,
# and $WORK for the build tree. Runs locally as well (a test does):
#   CC=clang CFLAGS="-fsanitize=address -fsanitize=fuzzer-no-link" \
#   LIB_FUZZING_ENGINE=-fsanitize=fuzzer SRC=... OUT=... WORK=... build.sh
#
# Output in $OUT, per target: the binary, <target>_seed_corpus.zip,
# <target>.dict and (driver fuzzers) <target>.options.
#   drvcheck_fuzz_scenario  scenario parser/writer
#   drvcheck_fuzz_etf       ETF / term-spec decoding
#   drvcheck_fuzz_echo      echo_drv linked in statically
#   drvcheck_fuzz_driver    the prebuilt .so-loading fuzzer: a wrapper script
#                           that points DRVCHECK_DRIVER at the coverage-built
#                           echo_drv.so next to it and execs the real binary
#                           (drvcheck_fuzz_driver.real; the dotted name keeps
#                           the builders from taking it for a target itself).
# Shared libraries the runner image lacks (libcjson) go to $OUT/lib, found
# through an $ORIGIN/lib rpath.

src="$SRC/drvcheck"
build="${WORK:-$SRC}/drvcheck-cfl-build"
corpus="$src/corpus/fuzz"

# CMAKE_C_FLAGS come from $CFLAGS (cmake reads the environment); build type
# None adds no -O/-g of its own. The harness then adds no sanitizer or
# coverage flags of its own (fuzz/DrvcheckFuzz.cmake) and links the engine
# given as DC_FUZZ_ENGINE. Warnings are not fatal under foreign flags.
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=None \
  -DDC_WERROR=OFF -DDC_FUZZ_ENGINE="$LIB_FUZZING_ENGINE" \
  -DCMAKE_BUILD_RPATH='$ORIGIN/lib' >/dev/null
cmake --build "$build" -j"$(nproc)" --target drvcheck_fuzz_scenario \
  drvcheck_fuzz_etf drvcheck_fuzz_echo drvcheck_fuzz_driver echo_drv_cov

mkdir -p "$OUT/lib"

# seeds NAME DIR: $OUT/NAME_seed_corpus.zip from the files of DIR.
seeds() {
  rm -f "$OUT/$1_seed_corpus.zip"
  (cd "$2" && zip -q -j "$OUT/$1_seed_corpus.zip" ./*)
}

for t in drvcheck_fuzz_scenario drvcheck_fuzz_etf; do
  cp "$build/fuzz/$t" "$OUT/$t"
  seeds "$t" "$corpus/$t"
  cp "$corpus/$t.dict" "$OUT/$t.dict"
done

# The driver fuzzers share the driver seeds and dictionary; value profile
# pays off on drivers' magic/length comparisons (fuzz/README.md).
for t in drvcheck_fuzz_echo drvcheck_fuzz_driver; do
  seeds "$t" "$corpus/drvcheck_fuzz_driver"
  cp "$corpus/drvcheck_fuzz_driver.dict" "$OUT/$t.dict"
  printf '[libfuzzer]\nuse_value_profile = 1\n' >"$OUT/$t.options"
done
cp "$build/fuzz/drvcheck_fuzz_echo" "$OUT/drvcheck_fuzz_echo"
cp "$build/fuzz/drvcheck_fuzz_driver" "$OUT/drvcheck_fuzz_driver.real"
cp "$build/fuzz/drivers/echo_drv.so" "$OUT/echo_drv.so"

# The fuzz-target marker string below makes ClusterFuzz(Lite) list the
# wrapper as a target: LLVMFuzzerTestOneInput
cat >"$OUT/drvcheck_fuzz_driver" <<'WRAP'
#!/bin/sh
# drvcheck_fuzz_driver on echo_drv.so (LLVMFuzzerTestOneInput wrapper).
# DRVCHECK_DRIVER also reaches libFuzzer's -fork/-jobs workers.
here=$(dirname "$0")
DRVCHECK_DRIVER=${DRVCHECK_DRIVER:-$here/echo_drv.so}
export DRVCHECK_DRIVER
exec "$here/drvcheck_fuzz_driver.real" "$@"
WRAP
chmod +x "$OUT/drvcheck_fuzz_driver"

# Non-system shared libraries the binaries need at run time.
for lib in $(ldd "$OUT/drvcheck_fuzz_etf" | awk '/libcjson/ {print $3}'); do
  cp -L "$lib" "$OUT/lib/"
done
