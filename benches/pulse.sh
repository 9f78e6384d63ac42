# Sourced by the benches: a PulseAudio server of the bench's own with a null
# sink `bench` as the default output, in "$work" (which the caller made),
# and a keepalive stream, so the idle null sink does not sleep in blocks of
# up to two seconds as no desktop's would. `pulse_stop` ends both and is
# safe to call twice; the caller's EXIT trap should call it.
export XDG_RUNTIME_DIR=$work/run
mkdir -m 700 -p "$XDG_RUNTIME_DIR"
pulseaudio -n --daemonize=no --exit-idle-time=-1 --disable-shm=yes --use-pid-file=no \
  --load="module-null-sink sink_name=bench rate=48000 channels=2" --load=module-native-protocol-unix \
  >"$work/pulse.log" 2>&1 &
pulse_pid=$!
pulse_stop() {
  [ -n "${keepalive_pid:-}" ] && kill "$keepalive_pid" 2>/dev/null
  [ -n "${pulse_pid:-}" ] && { kill "$pulse_pid" 2>/dev/null; wait "$pulse_pid" 2>/dev/null; }
  keepalive_pid="" pulse_pid=""
}
for _ in $(seq 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
pactl info >/dev/null 2>&1 || { echo "PulseAudio did not start: $(cat "$work/pulse.log")" >&2; pulse_stop; exit 1; }
pactl set-default-sink bench
pacat --playback --raw --latency-msec=10 --format=s16le --rate=48000 --channels=2 /dev/zero &
keepalive_pid=$!
sleep 0.3
