#!/usr/bin/env bash
# Runs the scrape, rss, snmp_poll and ping_sweep benchmarks on two commits, alternating and
# twice each (A B A B), so the difference between the commits can be read against the noise
# between two runs of the same commit. Each commit runs its own bench scripts in a worktree
# with its own venv. Root (namespaces, raw ICMP). Usage:
#   bash tests/bench/compare_commits.sh BASE_COMMIT [HEAD_COMMIT] > compare.log
set -euo pipefail
cd "$(dirname "$0")/../.."
base=$1
head=${2:-HEAD}
work=$(mktemp -d /tmp/pantau-compare.XXXXXX)
trap 'for d in "$work"/*/; do git worktree remove --force "$d" >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT
for c in "$base" "$head"; do
  dir="$work/$(git rev-parse --short "$c")"
  git worktree add --detach -q "$dir" "$c"
  python3 -m venv "$dir/.venv"
  "$dir/.venv/bin/pip" install -q -e "$dir[dev]" >"$dir/pip.log" 2>&1
done
for round in 1 2; do
  for c in "$base" "$head"; do
    short=$(git rev-parse --short "$c")
    dir="$work/$short"
    for b in scrape rss snmp_poll ping_sweep; do
      echo "=== round $round commit $short bench $b"
      (cd "$dir" && timeout 900 .venv/bin/python "tests/bench/$b.py") 2>&1 | tail -n 25
    done
  done
done
