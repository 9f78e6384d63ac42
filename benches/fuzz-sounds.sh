#!/usr/bin/env bash
# Fuzzes the loading of users' sound files: real WAV (8, 16, 24-bit and
# float), FLAC, MP3, OGG Vorbis and Opus files made by sox and ffmpeg, then
# mutated (bit flips, truncations, header fields and chunk sizes
# overwritten, bytes inserted, removed and repeated), each loaded on a
# thread of its own with 10 s to finish.
#   target: 0 panics, 0 hangs; the slowest case well under a second
# Prints the cases tried, how they ended, panics, hangs and the slowest case.
# Usage: benches/fuzz-sounds.sh [CASES] [SEED]   (default 5000 cases, seed 1)
# Needs sox and ffmpeg (bash .ci/setup). The tests run 400 of these cases.
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-5000}
seed=${2:-1}
BACKEASE_FUZZ_CASES=$cases BACKEASE_FUZZ_SEED=$seed \
  cargo test --release --locked --quiet --test integration fuzz_sounds -- --nocapture 2>&1 |
  grep -E "^fuzz-sounds:|panicked|hangs \(|test result"

# A tiny file that holds hours of sound: decoding stops at the 10-minute cap.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sox -D -n -r 8000 -c 1 -b 16 "$work/long.flac" trim 0 3:00:00
echo 'Routine(title: "T", summary: "S", steps: [Sound("long.flac")])' > "$work/long.ron"
size=$(stat -c %s "$work/long.flac")
/usr/bin/time -f "%e s, max RSS %M KiB" target/release/backease check "$work/long.ron" 2>&1 |
  grep -E "longer than|max RSS" | sed "s/^/3 h of FLAC in $size bytes: /"
