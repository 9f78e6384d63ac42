#!/usr/bin/env bash
# A real endless session, heard: `play ROUTINE --hold 45s --loop` in a
# terminal (tmux) on a PulseAudio null sink of the bench's own, its monitor
# recorded with parec; Enter once round 2 has begun, so it plays the
# opening, two rounds and the closing, and exits. The recording is set
# against a render of the same session (`--rounds 2`): how long each
# lasted from first sound to last, and how far every onset drifted. A
# dropout or a wait for speech shows as drift; none should be there.
# Usage: bash benches/loop.sh [ROUTINE]   (deep-spinal; takes about 8 min)
# BENCH_KEEP=1 keeps the recording and the render (the folder is printed).
# Needs what .ci/setup installs; the speech cache is warmed first.
set -euo pipefail
cd "$(dirname "$0")/.."
routine=${1:-deep-spinal}
cargo build --release --quiet
bin=$PWD/target/release/backease
work=$(mktemp -d)
export XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache XDG_DATA_HOME=$work/data HOME=$work
sock="backease-bench-$$"
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  [ -n "${parec_pid:-}" ] && kill "$parec_pid" 2>/dev/null
  pulse_stop
  if [ -n "${BENCH_KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
# shellcheck source=benches/pulse.sh
source benches/pulse.sh

echo "== rendering the reference (and warming the speech cache)"
"$bin" render "$routine" --hold 45s --rounds 2 -o "$work/ref.wav" 2>/dev/null

parec -d bench.monitor --format=s16le --channels=2 --rate=48000 --raw --latency-msec=10 >"$work/rec.raw" &
parec_pid=$!
sleep 0.5
echo "== playing $routine --hold 45s --loop; Enter once round 2 begins"
start=$(date +%s.%N)
tmux -L "$sock" new-session -d -s bench -x 100 -y 30 \
  "'$bin' play '$routine' --hold 45s --loop; echo \"exit \$?\" > '$work/exit'"
until grep -q "round 2" <(tmux -L "$sock" capture-pane -p -t bench 2>/dev/null); do
  sleep 1
  if [ -e "$work/exit" ]; then echo "play ended early: $(cat "$work/exit")"; exit 1; fi
done
echo "   round 2 shown after $(echo "$(date +%s.%N) - $start" | bc) s: Enter"
tmux -L "$sock" send-keys -t bench Enter
for _ in $(seq 900); do [ -e "$work/exit" ] && break; sleep 1; done
echo "   play: $(cat "$work/exit" 2>/dev/null || echo 'still running after 15 min')"
sleep 1
kill "$parec_pid"; wait "$parec_pid" 2>/dev/null || true; parec_pid=""
echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$work/ref.wav" "$work/rec.raw" <<'PY'
import array, sys
def mono(b):
    a = array.array("h"); a.frombytes(b[: len(b) - len(b) % 4])
    return [(a[i] + a[i + 1]) // 2 for i in range(0, len(a), 2)]
ref = mono(open(sys.argv[1], "rb").read()[44:])
rec = mono(open(sys.argv[2], "rb").read())
def onsets(m):
    win, out, quiet = 240, [], 1000
    for i in range(0, len(m), win):
        if any(abs(s) > 330 for s in m[i:i + win]):
            if quiet * win >= 48000 * 15 // 100:
                out.append(i / 48000)
            quiet = 0
        else:
            quiet += 1
    return out
def span(m):
    loud = [i for i in range(0, len(m), 240) if any(abs(s) > 330 for s in m[i:i + 240])]
    return (loud[-1] - loud[0]) / 48000 if loud else 0
a, b = onsets(ref), onsets(rec)
print(f"== heard {span(rec):.1f} s from first sound to last; the render {span(ref):.1f} s")
print("   (what is heard goes on past the closing: where you stand today, and how tender it was)")
print(f"   onsets: render {len(a)}, heard {len(b)} (the loop says \"Round two.\" where the render says")
print("   \"Last round.\", and Enter's \"Last round.\" is heard over round 2)")
# Each onset of the render matched to the heard one nearest where the
# offset so far puts it; every change of that offset is where time was
# gained or lost.
if a and b:
    offset, j = b[0] - a[0], 0
    for x in a:
        near = min(b, key=lambda y: abs(y - (x + offset)))
        if abs(near - (x + offset)) > 1.5:
            print(f"   {x:7.1f} s: no onset heard near it")
            continue
        step = near - (x + offset)
        if abs(step) > 0.05:
            print(f"   {x:7.1f} s: the heard session moved {step * 1000:+.0f} ms")
        offset = near - x
    print(f"   in all, onsets moved {(offset - (b[0] - a[0])) * 1000:+.0f} ms by the end")
PY
