#!/usr/bin/env bash
# Times `backease check`, `show` and `list` on the worst scripts we can
# construct, each close to the 1 MiB a script may be: nested repeats that
# would expand to billions of events, empty repeats nested deep, a million
# brackets or commas, a string of a hundred thousand mistakes, unclosed
# escapes, megabyte-long names, the most steps, holds and cues that fit...
# Target for every file and command: under 1 s and under 50 MB of memory
# (peak resident set, from /usr/bin/time). Prints one line per run and
# exits 1 if any run misses a target. Needs python3 and GNU time.
# BACKEASE_BIN=path measures another build (an older one, to compare).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BACKEASE_BIN:-}" ]; then cargo build --release --quiet; fi
bin=${BACKEASE_BIN:-$PWD/target/release/backease}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache HOME=$work
mkdir -p "$work/cases"

python3 - "$work/cases" <<'PY'
import os, sys
out = sys.argv[1]
MIB = 1024 * 1024

def routine(steps, defaults=''):
    return 'Routine(title: "T", summary: "S", %ssteps: [%s])' % (defaults, steps)

def fill(unit, head='', tail='', size=MIB):
    """head, then unit as often as fits in size bytes, then tail."""
    return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail

def nest(inner, times, depth):
    for _ in range(depth):
        inner = 'Repeat(times: %d, steps: [%s])' % (times, inner)
    return inner

cases = {
    # Expansion: each would be billions of events if built.
    'nested-repeats': routine(fill(nest('Say("a")', 1000, 8) + ',\n', size=MIB - 64)),
    'nested-strokes': routine(fill(nest('Strokes(count: 1000, every: "1ms")', 1000, 7) + ',\n', size=MIB - 64)),
    'empty-repeats': routine(fill(nest('Repeat(times: 1000, steps: [])', 1000, 7) + ',\n', size=MIB - 64)),
    # The largest trees: as many steps, holds and cues as fit.
    'many-steps': routine(fill('Say("a"),\n', size=MIB - 64)),
    'many-holds': routine(fill('Hold(countdown: 9),\n', size=MIB - 64)),
    'many-cues': routine('Hold(cues: [%s])' % fill('At("1s", "a"),', size=MIB - 128), 'defaults: (hold: "10m"), '),
    'repeated-fields': routine('Hold(%s)' % fill('length: "1s", ', size=MIB - 64)),
    # Syntax: depth, junk, and a token per byte.
    'open-brackets': fill('['),
    'balanced-brackets': '[' * (MIB // 2) + ']' * (MIB // 2),
    'open-repeats': fill('Repeat(times: 2, steps: [', 'Routine(title: "T", summary: "S", steps: ['),
    'commas': fill(',', '[', ']'),
    'nested-comments': fill('/*'),
    'junk': ''.join(chr(0x80 + (i * 7919) % 0x700) for i in range(MIB // 2)),
    'long-number': fill('1', 'Routine(title: "T", summary: "S", steps: [Repeat(times: ', ', steps: [Say("a")])])'),
    # Strings: escapes, and many mistakes inside one string.
    'unicode-escapes': routine(fill('\\u{263A}', 'Say("', '")', MIB - 64)),
    'unclosed-unicode-escapes': fill('"\\u{41" '),
    'unknown-escapes': fill('"\\q" '),
    'undefined-variables': routine(fill('{x}', 'Say("', '")', MIB - 64)),
    'distinct-undefined-variables': routine('Say("%s")' % ''.join('{v%d}' % i for i in range(MIB // 8)))[:MIB - 64] + '")])',
    'unmatched-braces': routine(fill('} ', 'Say("', '")', MIB - 64)),
    'side-outside-sides': routine(fill('Say("{side}"),\n', size=MIB - 64)),
    # Many mistakes to report, and names a megabyte long to suggest for.
    'unknown-steps': routine(fill('Sya("a"),\n', size=MIB - 64)),
    'one-line-of-errors': routine(fill('Chime("bel"), ', size=MIB - 64)),
    'long-step-name': routine(fill('y', 'Sa', '("a")', MIB - 64)),
    'long-variable-name': routine(fill('y', 'Say("{sid', '}")', MIB - 64)),
    'long-chime-name': routine(fill('l', 'Chime("bel', '")', MIB - 64)),
    # A sound file played 10 000 times (11 hours): decoded once, not per step.
    'many-sounds': routine(',\n'.join(['Sound("gong.wav")'] * 10000)),
}
for name, text in cases.items():
    with open(os.path.join(out, name + '.ron'), 'w') as f:
        f.write(text)
with open(os.path.join(out, 'not-utf8.ron'), 'wb') as f:
    f.write(b'Say("a"),' * (MIB // 10) + b'\xff')
PY
cp sounds/gong.wav "$work/cases/"

failed=0
printf '%-30s %-6s %5s %8s %9s\n' case command exit seconds "peak MB"
measure() { # name, command...
  local name=$1; shift
  local code=0
  /usr/bin/time -o "$work/time" -f "%e %M" timeout 60 "$@" >/dev/null 2>"$work/stderr" || code=$?
  read -r secs kib < <(tail -n 1 "$work/time")
  local mb
  mb=$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')
  local verdict=""
  if awk -v s="$secs" -v k="$kib" 'BEGIN { exit !(s >= 1 || k >= 50 * 1024) }'; then
    verdict="  MISSED"; failed=1
  fi
  if [ "$code" = 124 ]; then verdict="$verdict  (killed after 60 s)"; fi
  if [ "$code" -gt 3 ]; then verdict="$verdict  exit $code"; failed=1; fi
  printf '%-30s %-6s %5s %8s %9s%s\n' "$name" "$2" "$code" "$secs" "$mb" "$verdict"
}
scripts=$XDG_CONFIG_HOME/backease/scripts
for file in "$work"/cases/*.ron; do
  name=$(basename "$file" .ron)
  measure "$name" "$bin" check "$file"
  measure "$name" "$bin" show "$file"
  # `list` reads every script in the scripts folder: this one alone.
  rm -rf "$scripts"; mkdir -p "$scripts"; cp "$file" "$scripts/"
  measure "$name" "$bin" list
done
rm -rf "$scripts"
exit $failed
