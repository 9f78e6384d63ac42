#!/usr/bin/env bash
# Measures the voices: how fast each engine speaks a whole routine on a cold
# cache (seconds of speech made per second of work; target for the default
# voice, hibari, >= 20x),
# and the pace it speaks at (words per minute; target about 150-160).
# Needs the voices `backease setup` installs (hibari, Piper), and bc.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/backease
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CONFIG_HOME=$work/config
# hibari and Piper live in the real data folder; the cache is the bench's own.
routine=${1:-deep-spinal}
printf "%-8s %10s %10s %8s %6s\n" engine synth_s speech_s speed wpm
for engine in hibari piper espeak flite; do
  export XDG_CACHE_HOME=$work/cache-$engine
  # show takes the engine from the settings.
  mkdir -p "$XDG_CONFIG_HOME/backease"
  echo "Config(engine: \"$engine\")" >"$XDG_CONFIG_HOME/backease/config.ron"
  start=$(date +%s.%N)
  "$bin" render "$routine" --engine "$engine" -o "$work/$engine.wav" >/dev/null 2>&1
  cold=$(echo "$(date +%s.%N) - $start" | bc)
  start=$(date +%s.%N)
  "$bin" render "$routine" --engine "$engine" -o "$work/$engine.wav" >/dev/null 2>&1
  warm=$(echo "$(date +%s.%N) - $start" | bc)
  # Speech seconds and words, from the exact timeline of the cached cues.
  read -r speech words < <("$bin" show "$routine" --json 2>/dev/null | python3 -c '
import json, sys
doc = json.load(sys.stdin)
says = [e for e in doc["events"] if e["kind"] == "say"]
print(sum(e["length_ms"] for e in says) / 1000, sum(len(e["text"].split()) for e in says))')
  synth=$(echo "$cold - $warm" | bc)
  printf "%-8s %10.2f %10.1f %7.1fx %6.0f\n" "$engine" "$synth" "$speech" \
    "$(echo "$speech / $synth" | bc -l)" "$(echo "$words * 60 / $speech" | bc -l)"
done
