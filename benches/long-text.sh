#!/usr/bin/env bash
# Times `backease check` on routines that say one long text as often as a
# session allows: ten thousand characters in Repeat(times: 1000) of
# Repeat(times: N), so N * 1000 cues of the same text. N = 100 is exactly
# the 100 000 events a session may hold, and at about 0.64 s a cue too
# long (over 12 hours); N = 60 is legal (10 h 42 min) and checked in full.
# Target for each: under 1 s and under 50 MB of memory (peak resident set,
# from GNU time). Prints one line per case and exits 1 if any misses.
# BACKEASE_BIN=path measures another build (an older one, to compare).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BACKEASE_BIN:-}" ]; then cargo build --release --quiet; fi
bin=${BACKEASE_BIN:-$PWD/target/release/backease}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache HOME=$work
text=$(printf 'a%.0s' $(seq 10000))
missed=0
printf '%-32s %6s %8s %8s\n' case exit "wall (s)" "peak MB"
for inner in 100 60; do
  script=$work/repeat-$inner.ron
  printf 'Routine(title: "T", summary: "S", steps: [Repeat(times: 1000, steps: [Repeat(times: %d, steps: [Say("%s")])])])\n' \
    "$inner" "$text" >"$script"
  code=0
  /usr/bin/time -f '%e %M' -o "$work/time" "$bin" check "$script" >/dev/null 2>&1 || code=$?
  read -r wall kb < <(tail -n 1 "$work/time")
  mb=$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')
  printf '%-32s %6s %8s %8s\n' "$inner 000 cues of 10 000 chars" "$code" "$wall" "$mb"
  if awk -v w="$wall" -v k="$kb" 'BEGIN { exit !(w >= 1 || k >= 50 * 1024) }'; then missed=1; fi
done
exit $missed
