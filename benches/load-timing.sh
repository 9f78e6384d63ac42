#!/usr/bin/env bash
# Holding time under load: plays a routine of short sounds with gaps (three
# minutes by default) through a PulseAudio null sink of its own, records
# the sink's monitor with parec, and compares the recording with `render`
# of the same routine, event by event: the worst onset error (after
# aligning the first onset), and the gaps (5 ms stretches of silence where
# the render sounds loudly throughout). Once idle, once with two CPU-bound
# processes running beside it (on a 2-core machine, every core busy), and
# once with eight (a parallel build).
#   onset error, idle and loaded      <= 10 ms
#   gaps and skipped audio            0
# The server runs as a desktop's runs its data path: with shared memory
# (without it every sample passes through its main thread) and with that
# main thread at real-time priority too where this script may raise it
# (as root); at normal priority it stalls behind the load for up to 200 ms
# and the gaps are the server's, not backease's. BENCH_PLAIN_SERVER=1
# leaves it at normal priority.
# Usage: bash benches/load-timing.sh [REPEATS]   (23 repeats, about 3 minutes)
# BENCH_ONLY=loaded runs only the two-process case; BENCH_WRAP="nice -n 5" runs `play`
# under another command, to try what helps; BENCH_KEEP=DIR keeps the
# recordings and logs.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-23}
cargo build --release --quiet
bin=$PWD/target/release/backease
work=$(mktemp -d)
export XDG_CACHE_HOME=$work/cache XDG_CONFIG_HOME=$work/config HOME=$work
export XDG_RUNTIME_DIR=$work/run
mkdir -m 700 -p "$XDG_RUNTIME_DIR"
pulseaudio -n --daemonize=no --exit-idle-time=-1 --use-pid-file=no \
  --load="module-null-sink sink_name=bench rate=48000 channels=2" --load=module-native-protocol-unix \
  --log-level=info >"$work/pulse.log" 2>&1 &
pulse=$!
burners=()
cleanup() {
  for b in "${burners[@]}"; do kill "$b" 2>/dev/null || true; done
  [ -n "${player:-}" ] && kill -INT "$player" 2>/dev/null
  [ -n "${rec:-}" ] && kill "$rec" 2>/dev/null
  [ -n "${keepalive:-}" ] && kill "$keepalive" 2>/dev/null
  kill "$pulse" 2>/dev/null; wait "$pulse" 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
pactl set-default-sink bench
# Once it is up: the server sets its own priorities as it starts.
[ -n "${BENCH_PLAIN_SERVER:-}" ] || chrt -r -p 6 "$pulse" >/dev/null 2>&1 || true
# Keep the null sink at low latency, as a desktop's always-running streams
# would: an idle null sink sleeps in blocks of up to two seconds.
pacat --playback --raw --latency-msec=10 --format=s16le --rate=48000 --channels=2 /dev/zero &
keepalive=$!

cat > "$work/gaps.ron" <<RON
Routine(
    title: "Gaps",
    summary: "Short sounds with gaps, over and over",
    defaults: (hold: "2500ms"),
    steps: [
        Repeat(times: $repeats, steps: [
            Chime("tick"),
            Pause("700ms"),
            Say("one"),
            Pause("800ms"),
            Chime("soft"),
            Pause("400ms"),
            Hold(cues: [At("1s", "two")]),
            Say("three"),
            Pause("600ms"),
        ]),
    ],
)
RON
"$bin" render "$work/gaps.ron" -o "$work/render.wav" >/dev/null 2>&1

play_recorded() {
  parec -d bench.monitor --format=s16le --channels=2 --rate=48000 --raw --latency-msec=10 >"$work/$1.raw" &
  local rec=$!
  sleep 0.3
  BACKEASE_AUDIO_DEBUG=1 BACKEASE_TIMING=1 ${BENCH_WRAP:-} "$bin" play "$work/gaps.ron" >/dev/null 2>"$work/$1.log" &
  player=$!
  wait "$player" || true
  player=
  sleep 0.3
  kill -TERM "$rec"; wait "$rec" || true
  rec=
}

analyse() {
  python3 - "$work/render.wav" "$work/$1.raw" "$1" <<'PY'
import sys, wave, array
RATE = 48000
# Both stereo: the left channel of each.
w = wave.open(sys.argv[1]); rendered = array.array("h", w.readframes(w.getnframes()))[::2]
heard = array.array("h", open(sys.argv[2], "rb").read())[::2]
win = RATE // 200
def env(s):
    return [max((abs(x) for x in s[i:i + win]), default=0) for i in range(0, len(s), win)]
def onsets(e):
    out, quiet = [], 1000
    for i, m in enumerate(e):
        if m > 330:
            if quiet * win >= RATE * 15 // 100:
                out.append(i)
            quiet = 0
        else:
            quiet += 1
    return out
er, eh = env(rendered), env(heard)
want, got = onsets(er), onsets(eh)
shift = got[0] - want[0] if got else 0
errors = [abs((g - shift) - w) * 5 for g, w in zip(got, want)]
# A gap: the recording silent where the render is loud for 25 ms around.
gaps = 0
for i in range(2, len(er) - 2):
    j = i + shift
    if 0 <= j < len(eh) and eh[j] < 100 and min(er[i - 2:i + 3]) > 2000:
        gaps += 1
# Onset times are known to the 5 ms window; refine with the first sample
# over the threshold inside it.
def exact(s, i):
    for k in range(i * win, min(len(s), (i + 2) * win)):
        if abs(s[k]) > 330:
            return k
    return i * win
if got:
    ds = [exact(heard, g) - exact(rendered, w) for g, w in zip(got, want)]
    d0 = ds[0]
    signed = [(d - d0) * 1000 / RATE for d in ds]
    errors = [abs(e) for e in signed]
# Where the error changes, so a drift or a jump can be seen.
steps, last = [], 0.0
for w, e in zip(want, signed if got else errors):
    if abs(e - last) >= 2:
        steps.append(f"{w * win / RATE:.0f}s:{e:.0f}")
        last = e
if steps:
    print("  error (ms) from then on: " + " ".join(steps[:20]))
print(f"{sys.argv[3]}: {len(want)} onsets rendered, {len(got)} heard; worst onset error {max(errors):.1f} ms, "
      f"mean {sum(errors) / len(errors):.1f} ms; gaps {gaps}")
PY
}

[ "${BENCH_ONLY:-}" = loaded ] || echo "== idle: $(python3 -c "import wave; w=wave.open('$work/render.wav'); print(f'{w.getnframes()/48000:.0f} s')") routine through PulseAudio, recorded (target: onsets within 10 ms, no gap)"
if [ "${BENCH_ONLY:-}" != loaded ]; then
  play_recorded idle
  analyse idle
fi
echo "== loaded: the same, with two CPU-bound processes beside it"
for _ in 1 2; do sh -c 'while :; do :; done' & burners+=($!); done
play_recorded loaded
for b in "${burners[@]}"; do kill "$b" 2>/dev/null || true; done; burners=()
analyse loaded
if [ "${BENCH_ONLY:-}" != loaded ]; then
  echo "== heavy: the same, with eight CPU-bound processes beside it"
  for _ in $(seq 8); do sh -c 'while :; do :; done' & burners+=($!); done
  play_recorded heavy
  for b in "${burners[@]}"; do kill "$b" 2>/dev/null || true; done; burners=()
  analyse heavy
fi
for m in idle loaded heavy; do
  [ -f "$work/$m.log" ] || continue
  echo "$m: $(grep -c "audio stream error" "$work/$m.log" || true) audio stream errors (underruns);" \
    "$(grep -m1 -o "audio threads.*" "$work/$m.log" || true)"
done
if [ -n "${BENCH_KEEP:-}" ]; then cp -r "$work" "$BENCH_KEEP"; fi
