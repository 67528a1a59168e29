#!/bin/bash
# Runs the whole suite several times on a clean clone of HEAD while busy loops
# hold some of the cores: CI runs the suite once, and a test that races with
# a slow fsync or a late timer fails there one run in many. Finds those here.
#   npm run test:stress -- [runs=3] [busy loops=1]
set -u
runs=${1:-3}
hogs=${2:-1}
repo=$(git rev-parse --show-toplevel)
dir=$(mktemp -d -t longwire-stress-XXXXXX)
# mktemp makes it 0700; the Jepsen rounds run their nodes as other users, which must read the clone.
chmod 755 "$dir"
pids=()
stop_hogs() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  pids=()
}
# The clone (with its node_modules) goes at the end; the logs stay.
trap 'stop_hogs; cd /; rm -rf "$dir/clone"' EXIT
git clone -q "$repo" "$dir/clone" && cd "$dir/clone" || exit 1
echo "clean clone of $(git rev-parse --short HEAD) in $dir/clone; logs in $dir"
npm ci --silent > "$dir/npm-ci.log" 2>&1 || { echo "npm ci failed: $dir/npm-ci.log"; exit 1; }
failed=0
for i in $(seq 1 "$runs"); do
  # Each busy loop ends by itself after 15 minutes, should this script be killed.
  for _ in $(seq 1 "$hogs"); do node -e 'const end = Date.now() + 900000; while (Date.now() < end);' & pids+=($!); done
  start=$(date +%s)
  npm test > "$dir/run-$i.log" 2>&1
  rc=$?
  stop_hogs
  echo "run $i: exit $rc in $(( $(date +%s) - start )) s; $(grep -E '^# (tests|pass|fail|cancelled) ' "$dir/run-$i.log" | tr '\n' ' ')"
  grep -E '^\s*not ok' "$dir/run-$i.log" | sed 's/^/    /'
  [ "$rc" -eq 0 ] || failed=$((failed + 1))
done
echo "$failed of $runs runs failed"
[ "$failed" -eq 0 ]
