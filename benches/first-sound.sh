#!/usr/bin/env bash
# From `play` to the first sound, heard at a PulseAudio null sink of the
# bench's own (the sink's monitor recorded with parec): with the default
# voice (hibari's heart where set-up installed it, else Piper's joe) on a
# cold cache (the model loads and the first cue is made while the device
# opens) and on a warm one, release build.
#   cold cache           <= 1.5 s
#   warm cache           <= 150 ms
# The time is from just before `play` is started to the moment the first
# sample louder than -40 dBFS reaches the recording file (polled every
# millisecond): an upper bound, since parec's own latency (10 ms asked) is
# in it. A keepalive stream keeps the idle null sink from sleeping in blocks
# of up to two seconds, as a desktop's running streams would.
# Then whole-routine synthesis speed (benches/voice.sh) for each voice.
# Usage: bash benches/first-sound.sh [ROUTINE] [REPEATS]   (deep-spinal, 5)
# Needs the voices `backease setup` installs (in ~/.local/share/backease/piper).
set -euo pipefail
cd "$(dirname "$0")/.."
routine=${1:-deep-spinal}
repeats=${2:-5}
cargo build --release --quiet
bin=$PWD/target/release/backease
python=${BACKEASE_PIPER_PYTHON:-$HOME/.local/share/backease/piper/bin/python3}
[ -x "$python" ] || { echo "the voices are not installed at $python: run backease setup" >&2; exit 1; }
work=$(mktemp -d)
export BACKEASE_PIPER_PYTHON=$python
export XDG_CONFIG_HOME=$work/config
cleanup() {
  pulse_stop
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=benches/pulse.sh
source benches/pulse.sh

# One play: starts the recorder, then play, and prints the milliseconds
# from starting play to the first loud sample in the recording; stops play
# (Ctrl-C) once it is heard.
first_sound() {
  python3 - "$bin" "$routine" "$work/rec.raw" <<'PY'
import os, signal, subprocess, sys, time, array
bin, routine, rec = sys.argv[1:4]
out = open(rec, "wb")
parec = subprocess.Popen(["parec", "-d", "bench.monitor", "--format=s16le", "--channels=2", "--rate=48000",
                          "--raw", "--latency-msec=10"], stdout=out)
time.sleep(0.5)
seen = os.path.getsize(rec)
start = time.monotonic()
play = subprocess.Popen([bin, "play", routine, "--quiet"], stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
heard = None
with open(rec, "rb") as f:
    f.seek(seen - seen % 4)
    while time.monotonic() - start < 30:
        block = f.read()
        if block:
            s = array.array("h", block[: len(block) - len(block) % 2])
            if any(abs(x) > 330 for x in s):
                heard = time.monotonic() - start
                break
            f.seek(f.tell() - len(block) % 2)
        time.sleep(0.001)
play.send_signal(signal.SIGINT)
play.wait(timeout=10)
parec.terminate(); parec.wait()
print("none" if heard is None else f"{heard * 1000:.0f}")
PY
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The voice that speaks, as play's first line names it.
printf 'Routine(title: "T", summary: "S", steps: [Say("Hello.")])\n' >"$work/probe.ron"
voice=$(XDG_CACHE_HOME=$work/cache-probe "$bin" render "$work/probe.ron" -o "$work/probe.wav" 2>&1 >/dev/null |
  sed -n 's/^speaking with //p' | head -1)
echo "== play $routine to first sound, $voice, cold cache (target <= 1500 ms), $repeats runs"
cold=()
for i in $(seq "$repeats"); do
  export XDG_CACHE_HOME=$work/cache-cold-$i
  cold+=("$(first_sound)")
done
echo "  ms: ${cold[*]}  median $(printf '%s\n' "${cold[@]}" | median)"
echo "== play $routine to first sound, $voice, warm cache (target <= 150 ms), $repeats runs"
export XDG_CACHE_HOME=$work/cache-warm
"$bin" render "$routine" -o "$work/warm.wav" >/dev/null 2>&1
warm=()
for _ in $(seq "$repeats"); do warm+=("$(first_sound)"); done
echo "  ms: ${warm[*]}  median $(printf '%s\n' "${warm[@]}" | median)"
echo "== whole-routine synthesis (target for the default voice >= 20x real time)"
bash benches/voice.sh "$routine" 2>/dev/null | grep -v flite
