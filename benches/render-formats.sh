#!/usr/bin/env bash
# Sessions to take along: one routine of about ten minutes (deep-spinal,
# three rounds) rendered once to each format, release build. The speech
# cache is warmed first by a WAV render, so only mixing and encoding are
# timed. Prints, per format: the file's size (bytes and MB), the render's
# wall time, its speed (session length / wall time) and bytes per minute
# of session.
# Usage: bash benches/render-formats.sh [ROUTINE] [ROUNDS]   (deep-spinal, 3)
# Needs ffprobe (ffmpeg), which .ci/setup installs.
set -euo pipefail
cd "$(dirname "$0")/.."
routine=${1:-deep-spinal}
rounds=${2:-3}
cargo build --release --quiet
bin=$PWD/target/release/backease
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache
# Piper where .ci/setup puts it, as a user would have it; otherwise what
# `auto` finds. The voice only sets the session's length: it is cached
# before anything is timed.
python=${BACKEASE_PIPER_PYTHON:-$HOME/.local/share/backease/piper/bin/python3}
[ -x "$python" ] && export BACKEASE_PIPER_PYTHON=$python

render() { "$bin" render "$routine" --rounds "$rounds" -o "$1" >/dev/null 2>&1; }
render "$work/warm.wav"
seconds=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$work/warm.wav")
echo "== $routine --rounds $rounds: $(awk -v s="$seconds" 'BEGIN { printf "%d:%02d", s / 60, s % 60 }') of session, $(nproc) cores"
printf '%-6s %12s %8s %10s %10s %14s\n' format bytes MB "wall (s)" "× real" "bytes/min"
for ext in wav flac opus mp3; do
  out=$work/session.$ext
  start=$(date +%s.%N)
  render "$out"
  end=$(date +%s.%N)
  bytes=$(stat -c %s "$out")
  awk -v f="$ext" -v b="$bytes" -v s="$seconds" -v t0="$start" -v t1="$end" 'BEGIN {
    wall = t1 - t0
    printf "%-6s %12d %8.1f %10.2f %10.0f %14.0f\n", f, b, b / 1e6, wall, s / wall, b / (s / 60)
  }'
  rm -f "$out"
done
