#!/usr/bin/env bash
# Runs the whole test suite as root: installs packages, builds the binaries, runs every test.
set -euo pipefail
cd "$(dirname "$0")"
[ "$(id -u)" = 0 ] || { echo "test.sh: run as root (tests use real namespaces, mounts and cgroups)" >&2; exit 1; }
./deps.sh
./build.sh
export GOCKER_BIN_DIR="$PWD/artifacts/bin"
rm -rf artifacts/test-results
set +e
dotnet test tests/Gocker.Tests -c Release --logger "trx;LogFileName=results.trx" --results-directory artifacts/test-results "$@"
rc=$?
set -e
# A plain closing line ("N passed, N failed") for tools that read it.
trx=artifacts/test-results/results.trx
if [ -f "$trx" ]; then
  passed=$(grep -o 'passed="[0-9]*"' "$trx" | head -1 | tr -dc 0-9)
  failed=$(grep -o 'failed="[0-9]*"' "$trx" | head -1 | tr -dc 0-9)
  echo "${passed:-0} passed, ${failed:-0} failed"
fi
exit $rc
