#!/usr/bin/env bash
# How fast `render` mixes a long session, and how much memory it takes,
# with every cue already cached (so the figure is the mixer's, not the
# voice's): deep-spinal with 60 s holds, 12 rounds (44 min), to a WAV file.
# Targets: >= 2 000x real time, <= 20 MB peak (max RSS).
#
# With BACKEASE_BASE=path/to/another/backease it also renders every
# built-in (one round and three), and a script that plays a sound file,
# with both binaries and says whether the files are byte for byte the same.
#   bash benches/render-speed.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release --quiet
bin=${BACKEASE_BIN:-$PWD/target/release/backease}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A cache and settings of its own; the voice is the one set up for this user.
export XDG_CACHE_HOME=$work/cache XDG_CONFIG_HOME=$work/config
args=(deep-spinal --hold 60s --rounds 12)

"$bin" render "${args[@]}" -o "$work/warm.wav" >/dev/null 2>&1   # makes and caches the speech
secs=$("$bin" show "${args[@]}" --json | python3 -I -c 'import json,sys; print(json.load(sys.stdin)["total_ms"]/1000)')
echo "== render ${args[*]}: $(python3 -I -c "print(f'{$secs/60:.1f}')") min of session, warm cache, $runs runs"
for _ in $(seq "$runs"); do
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$bin" render "${args[@]}" -o "$work/out.wav" >/dev/null 2>&1
  read -r wall user sys rss <"$work/time"
  # By CPU too: on a machine shared with other work the wall time says
  # more about the others than about the render.
  python3 -I -c "w=$wall; c=$user+$sys; print(f'{w:.2f} s wall ({$user:.2f} user, {$sys:.2f} sys): {$secs/max(w, 0.01):.0f}x real time ({$secs/max(c, 0.01):.0f}x by CPU), max RSS {$rss/1000:.1f} MB')"
done

[ -n "${BACKEASE_BASE:-}" ] || exit 0
echo "== the same files as $BACKEASE_BASE?"
mkdir -p "$work/sounds"
sox -n -r 44100 -c 2 "$work/sounds/rain.flac" synth 3 pinknoise vol 0.3
cat >"$work/with-sound.ron" <<RON
Routine(title: "With a sound", summary: "A sound file under a hold", steps: [
    Say("Rain now."), Sound("$work/sounds/rain.flac"), Hold(length: "2s"), Chime("bell"),
])
RON
same=0 differ=0
for case in deep-spinal gluteus-medius quadratus-lumborum full-back "deep-spinal --rounds 3" \
    "full-back --rounds 3" "$work/with-sound.ron" "${args[*]}"; do
  read -ra a <<<"$case"
  "$bin" render "${a[@]}" -o "$work/new.wav" >/dev/null 2>&1
  "$BACKEASE_BASE" render "${a[@]}" -o "$work/base.wav" >/dev/null 2>&1
  if cmp -s "$work/new.wav" "$work/base.wav"; then same=$((same + 1)); echo "same:   $case"
  else differ=$((differ + 1)); echo "DIFFER: $case"; fi
done
echo "$same same, $differ differ"
[ "$differ" -eq 0 ]
