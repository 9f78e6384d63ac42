"""The protocol both resident speech workers speak (src/speech/resident.rs).

backease runs a worker as this file followed by the worker's own
(piper_worker.py, hibari_worker.py), which loads its voice and makes one
cue's samples; `serve` does the rest, the same for both: "ready RATE" once
the voice is loaded, then one request per line of stdin (a JSON object),
answered with "ok N" and N bytes of mono signed 16-bit little-endian
samples, or "error MESSAGE". It ends at the end of its stdin. Nothing else
is written to stdout: Python's and the libraries' own messages go to stderr.
"""

import json
import os
import sys


def reply_error(out, e):
    out.write(f"error {type(e).__name__}: {e}".replace("\n", " ").encode() + b"\n")
    out.flush()


def serve(usage, load, speak):
    """Checks the arguments against `usage` (the words after the program's
    name), loads with `load(args)`, which gives (voice, rate), then answers
    each request with `speak(voice, request)`, which gives the samples."""
    out = sys.stdout.buffer
    # Speech is made ahead of the listener, in the background: the sound
    # must win the CPU. At normal priority, on two cores, a model's threads
    # starved the sound server's client thread and a cue broke up.
    try:
        os.nice(10)
    except OSError:
        pass
    # Anything printed by a library must not corrupt the protocol.
    sys.stdout = sys.stderr
    if len(sys.argv) != 1 + len(usage.split()[1:]):
        out.write(f"error usage: {usage}\n".encode())
        out.flush()
        return 2
    try:
        voice, rate = load(sys.argv[1:])
    except Exception as e:  # noqa: BLE001 - any failure is reported the same way
        reply_error(out, e)
        return 1
    out.write(f"ready {rate}\n".encode())
    out.flush()
    for line in sys.stdin.buffer:
        try:
            pcm = speak(voice, json.loads(line))
            out.write(f"ok {len(pcm)}\n".encode())
            out.write(pcm)
            out.flush()
        except Exception as e:  # noqa: BLE001 - reported, and the next request is served
            reply_error(out, e)
    return 0
