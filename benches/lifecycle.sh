#!/usr/bin/env bash
# How fast a live session ends when something outside it goes wrong, on
# this machine (five runs of each; the slowest is the figure):
#   a signal while speech is being made → exit     < 500 ms   (SIGINT, SIGTERM)
#   the sound server killed mid-session → told     < 2 s    (then 5 s of trying
#                                                            to reconnect, exit 4)
#   the terminal killed mid-session → process gone < 1 s
#   the same, 4 s in, media buttons on a session bus → gone < 500 ms
# Needs the packages from .ci/setup. Starts PulseAudio servers and tmux
# servers of its own, and stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/backease
work=$(mktemp -d)
export XDG_CACHE_HOME=$work/cache XDG_CONFIG_HOME=$work/config HOME=$work
export XDG_RUNTIME_DIR=$work/run DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent
mkdir -m 700 -p "$XDG_RUNTIME_DIR"
pulse=
keepalive=
cleanup() {
  [ -n "$keepalive" ] && kill "$keepalive" 2>/dev/null
  [ -n "$pulse" ] && kill "$pulse" 2>/dev/null && wait "$pulse" 2>/dev/null
  [ -n "${bus_pid:-}" ] && kill "$bus_pid" 2>/dev/null
  tmux -S "$work/tmux" kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
start_pulse() {
  pulseaudio -n --daemonize=no --exit-idle-time=-1 --disable-shm=yes --use-pid-file=no \
    --load="module-null-sink sink_name=bench" --load=module-native-protocol-unix >"$work/pulse.log" 2>&1 &
  pulse=$!
  for _ in $(seq 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
  pactl set-default-sink bench
  # Keep the null sink at low latency, as a desktop's always-running
  # streams would: an idle null sink wakes only every two seconds or so,
  # which would stand for a stalled device.
  pacat --playback --raw --latency-msec=10 --format=s16le --rate=44100 --channels=2 /dev/zero 2>/dev/null &
  keepalive=$!
}
now() { date +%s%N; }
ms() { echo $((($2 - $1) / 1000000)); }
cat >"$work/long.ron" <<'RON'
Routine(title: "Long", summary: "s", steps: [Chime("tick"), Pause("60s")])
RON
cat >"$work/one.ron" <<'RON'
Routine(title: "One", summary: "s", steps: [Say("hello there")])
RON
start_pulse
"$bin" render "$work/long.ron" -o "$work/warm.wav" >/dev/null 2>&1   # the notices, cached

echo "== a signal while a slow speech program makes a cue → exit (target < 500 ms)"
slow='t=$(cat); case "$t" in hello*) sleep 30;; esac; sox -n -r 22050 -b 16 -c 1 {out} synth 0.2 sine 440'
for sig in INT TERM; do
  times=()
  for _ in 1 2 3 4 5; do
    rm -rf "$XDG_CACHE_HOME/backease/speech/"*
    "$bin" play "$work/one.ron" --engine command --command "$slow" >/dev/null 2>&1 &
    p=$!
    # Wait until the slow cue's program runs.
    for _ in $(seq 200); do pgrep -f "sleep 30" -P "$(pgrep -d, -P $p || echo 1)" >/dev/null && break; sleep 0.02; done
    sleep 0.2
    t0=$(now); kill -$sig $p; code=0; wait $p || code=$?; t1=$(now)
    times+=("$(ms "$t0" "$t1") ms (exit $code)")
  done
  echo "  SIG$sig: ${times[*]}"
done

echo "== the sound server killed mid-session → told (target < 2 s), then exit 4 after trying to reconnect"
times=()
for _ in 1 2 3 4 5; do
  [ -n "$pulse" ] || start_pulse
  "$bin" play "$work/long.ron" >"$work/out" 2>/dev/null &
  p=$!
  for _ in $(seq 500); do grep -q pause "$work/out" && break; sleep 0.02; done
  grep -q pause "$work/out" || { echo "  the session did not start"; exit 1; }
  sleep 0.5
  t0=$(now); kill -KILL "$pulse"; wait "$pulse" 2>/dev/null || true; pulse=
  kill "$keepalive" 2>/dev/null || true; wait "$keepalive" 2>/dev/null || true; keepalive=
  while kill -0 $p 2>/dev/null && ! grep -q "sound output stopped" "$work/out"; do sleep 0.005; done
  t1=$(now)
  code=0; wait $p || code=$?; t2=$(now)
  times+=("told $(ms "$t0" "$t1") ms, exit $code at $(ms "$t0" "$t2") ms;")
done
echo "  ${times[*]}"
start_pulse

# Plays long.ron in a terminal five times, waits with `$1` (a command),
# kills the terminal, and prints how long the process took to be gone.
killed_terminal() {
  local times=() p t0 t1
  for _ in 1 2 3 4 5; do
    tmux -S "$work/tmux" new-session -d -s bench -x 100 -y 20 "exec '$bin' play '$work/long.ron'"
    "$1"
    p=$(tmux -S "$work/tmux" list-panes -t bench -F '#{pane_pid}')
    t0=$(now); tmux -S "$work/tmux" kill-server
    while [ -e "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; do sleep 0.005; done
    t1=$(now)
    times+=("$(ms "$t0" "$t1") ms")
  done
  echo "  ${times[*]}"
}
until_holding() {
  for _ in $(seq 500); do tmux -S "$work/tmux" capture-pane -p -t bench | grep -q "pause 60s" && break; sleep 0.02; done
  sleep 0.5
}
four_seconds() { sleep 4; }

echo "== the terminal killed mid-session → process gone (target < 1 s)"
killed_terminal until_holding

echo "== the terminal killed 4 s in, media buttons on a session bus → process gone (target < 500 ms)"
dbus-daemon --session --fork --print-address=1 --print-pid=1 >"$work/bus" 2>/dev/null
bus_pid=$(sed -n 2p "$work/bus")
DBUS_SESSION_BUS_ADDRESS=$(head -1 "$work/bus") killed_terminal four_seconds
