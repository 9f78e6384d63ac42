#!/usr/bin/env bash
# Measures the figures backease promises, on this machine:
#   check/show on a built-in      < 20 ms wall time        (hyperfine)
#   render of 1 h, warm cache     >= 500x real time         (wall time)
#   peak memory, 2 h session      < 50 MB render and play   (max RSS)
#   play to first sample, warm    < 200 ms                  (BACKEASE_TIMING)
#   CPU during a long hold        < 2 % of one core         (/proc/PID/stat)
#   pause/resume/skip after a key < 100 ms                  (tmux + BACKEASE_TIMING)
# Needs hyperfine and the packages from .ci/setup. Starts a PulseAudio
# server of its own with a null sink, and stops it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/backease
work=$(mktemp -d)
export XDG_CACHE_HOME=$work/cache XDG_CONFIG_HOME=$work/config HOME=$work
cleanup() {
  pulse_stop
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=benches/pulse.sh
source benches/pulse.sh

echo "== check and show on a built-in, speech cached so show gives exact times (target < 20 ms)"
"$bin" render deep-spinal -o "$work/warm.wav" >/dev/null 2>&1
hyperfine -N --warmup 5 --runs 50 --style basic "$bin check deep-spinal" "$bin show deep-spinal" 2>&1 | grep -E "Benchmark|Time"

echo "== render one hour, warm cache (target >= 500x real time)"
# deep-spinal with 60 s holds is 4:47 a round; 13 rounds is just over an hour.
"$bin" render deep-spinal --hold 1m --rounds 13 -o "$work/warm.wav" >/dev/null 2>&1   # warms the cache
secs=$("$bin" show deep-spinal --hold 1m --rounds 13 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["total_ms"]/1000)')
start=$(date +%s.%N)
"$bin" render deep-spinal --hold 1m --rounds 13 -o "$work/hour.wav" >/dev/null 2>&1
end=$(date +%s.%N)
python3 -c "s=$secs; t=$end-$start; print(f'session {s/60:.1f} min rendered in {t:.3f} s: {s/t:.0f}x real time')"
rm -f "$work/hour.wav" "$work/warm.wav"

echo "== peak memory, two-hour session (target < 50 MB)"
"$bin" render deep-spinal --hold 1m --rounds 26 -o "$work/two.wav" >/dev/null 2>&1
/usr/bin/time -f "render 2 h: max RSS %M KiB" "$bin" render deep-spinal --hold 1m --rounds 26 -o "$work/two.wav" 2>&1 >/dev/null | grep "max RSS"
rm -f "$work/two.wav"
"$bin" play deep-spinal --hold 1m --rounds 26 >/dev/null 2>&1 &
player=$!
peak=0
for _ in $(seq 30); do
  sleep 1
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$player/status 2>/dev/null || echo 0)
  [ "${hwm:-0}" -gt "$peak" ] && peak=$hwm
done
kill -INT $player; wait $player || true
echo "play 2 h (first 30 s): max RSS $peak KiB"

echo "== play to first sample, warm cache (target < 200 ms)"
"$bin" render gluteus-medius -o "$work/warm.wav" >/dev/null 2>&1   # warms the cache
for _ in 1 2 3 4 5; do
  BACKEASE_TIMING=1 "$bin" play gluteus-medius >/dev/null 2>"$work/timing.log" &
  p=$!; sleep 1.5; kill -INT $p; wait $p || true
  grep -m1 "first sample" "$work/timing.log"
done

echo "== CPU while playing a long hold (target < 2 % of one core)"
cat > "$work/hold.ron" <<'RON'
Routine(title: "Hold", summary: "One long hold", steps: [Say("Hold."), Hold(length: "10m")])
RON
"$bin" play "$work/hold.ron" >/dev/null 2>&1 &
player=$!
sleep 3
t0=$(awk '{print $14+$15}' /proc/$player/stat)
sleep 20
t1=$(awk '{print $14+$15}' /proc/$player/stat)
kill -INT $player; wait $player || true
hz=$(getconf CLK_TCK)
python3 -c "print(f'CPU over 20 s of hold: {($t1-$t0)/$hz/20*100:.2f} % of one core')"

echo "== pause, resume and skip react to a key press (target < 100 ms)"
cat > "$work/react.ron" <<'RON'
Routine(title: "React", summary: "Keys", steps: [Say("Ready."), Pause("20s"), Pause("20s"), Pause("20s"), Pause("20s"), Pause("20s")])
RON
"$bin" render "$work/react.ron" -o "$work/react.wav" >/dev/null 2>&1   # warms the cache
tmux -S "$work/tmux" new-session -d -s bench -x 100 -y 20 \
  "BACKEASE_TIMING=1 '$bin' play '$work/react.ron' 2>'$work/react.log'"
sleep 2
for key in Space Space n Space Space n Space Space n; do
  tmux -S "$work/tmux" send-keys -t bench "$key"; sleep 1.2
done
tmux -S "$work/tmux" send-keys -t bench q; sleep 1.5
tmux -S "$work/tmux" kill-server 2>/dev/null || true
python3 - "$work/react.log" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
delays, key = [], None
for line in lines:
    m = re.match(r"timing: key (\w+) at (\d+) ms", line)
    if m and m.group(1) != "Quit":
        key = (m.group(1), int(m.group(2)))
    m = re.match(r"timing: stream (\w+) at (\d+) ms", line)
    if m and key:
        delays.append((key[0], m.group(1), int(m.group(2)) - key[1]))
        key = None
for k, what, d in delays:
    print(f"  {k:<12} -> stream {what:<8} {d:3d} ms")
worst = max(d for _, _, d in delays)
print(f"key to stream: worst {worst} ms; the device then holds at most 2 periods of 1536 frames (64 ms at 48 kHz)")
print(f"worst key to sound: about {worst + 64} ms")
PY
