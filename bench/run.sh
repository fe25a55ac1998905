#!/usr/bin/env bash
# Builds the bench in Release once and runs it; prints one table. Usage: bash bench/run.sh [disk] [catchup] [scrub] [repair] [flow] [tls] [ingest] [smallcatchup] [startup] [backlog]
# (no argument: all of them). Every number is measured in this run on this machine; temp data goes under
# /tmp/cluster-node-bench-* and is deleted at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log="$(mktemp /tmp/cluster-node-bench-build.XXXXXX.log)"
trap 'rm -f "$log"' EXIT
echo "building bench (Release)..."
if ! dotnet build bench/ClusterNode.Bench.csproj -c Release --nologo >"$log" 2>&1; then
  grep -E "error|warning" "$log" | sort -u || cat "$log"
  echo "bench build failed" >&2
  exit 1
fi
# The startup part launches the real node process (Release) and a hello-world app as the machine's reference.
for project in src/Node/ClusterNode.Node.csproj bench/StartUpReference/StartUpReference.csproj; do
  if ! dotnet build "$project" -c Release --nologo >"$log" 2>&1; then
    grep -E "error|warning" "$log" | sort -u || cat "$log"
    echo "build of $project failed" >&2
    exit 1
  fi
done
dotnet bench/bin/Release/net10.0/ClusterNode.Bench.dll "$@"
