#!/usr/bin/env bash
# Builds gocker (console, NativeAOT), gocker-init (NativeAOT) and gockerd into artifacts/bin.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
mkdir -p artifacts/bin artifacts/lib
dotnet publish src/Gocker.Init -c Release -r linux-x64 -o artifacts/bin -v quiet -nologo
dotnet publish src/Gocker.Cli -c Release -r linux-x64 -o artifacts/bin -v quiet -nologo
# gockerd runs on the JIT (Akka.NET is not AOT-ready); it lives in artifacts/lib/gockerd and is
# linked from artifacts/bin.
dotnet publish src/Gocker.Host -c Release -r linux-x64 --self-contained false -o artifacts/lib/gockerd -v quiet -nologo
ln -sfn ../lib/gockerd/gockerd artifacts/bin/gockerd
rm -f artifacts/bin/*.dbg artifacts/bin/*.pdb
echo "built: $(ls artifacts/bin | tr '\n' ' ')"
