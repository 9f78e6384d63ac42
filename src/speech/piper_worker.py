"""backease's resident Piper synthesizer.

Started once per session by src/speech/piper.rs with the model and its
config as arguments. It loads the model once, says "ready RATE" on stdout,
then answers one request per line of stdin, a JSON object
{"text": ..., "length_scale": ..., "speaker": ..., "sentence_silence": ...},
with either "ok N" followed by N bytes of mono signed 16-bit little-endian
samples, or "error MESSAGE". It ends at the end of its stdin. Nothing else
is written to stdout; Python's and Piper's own messages go to stderr.
"""

import json
import os
import sys


def main() -> int:
    out = sys.stdout.buffer
    # Speech is made ahead of the listener, in the background: the sound
    # must win the CPU. At normal priority, on two cores, the model's
    # threads starved the sound server's client thread and a cue broke up.
    try:
        os.nice(10)
    except OSError:
        pass
    # Anything printed by a library must not corrupt the protocol.
    sys.stdout = sys.stderr
    if len(sys.argv) != 3:
        out.write(b"error usage: piper_worker.py MODEL CONFIG\n")
        out.flush()
        return 2
    try:
        from piper import PiperVoice, SynthesisConfig

        voice = PiperVoice.load(sys.argv[1], config_path=sys.argv[2])
    except Exception as e:  # noqa: BLE001 - any failure is reported the same way
        out.write(f"error {type(e).__name__}: {e}".replace("\n", " ").encode() + b"\n")
        out.flush()
        return 1
    rate = voice.config.sample_rate
    out.write(f"ready {rate}\n".encode())
    out.flush()
    for line in sys.stdin.buffer:
        try:
            req = json.loads(line)
            config = SynthesisConfig(
                speaker_id=req.get("speaker"),
                length_scale=req.get("length_scale"),
                volume=req.get("volume", 1.0),
            )
            gap = b"\x00\x00" * int(rate * float(req.get("sentence_silence", 0.0)))
            parts = [chunk.audio_int16_bytes for chunk in voice.synthesize(req["text"], syn_config=config)]
            pcm = gap.join(parts)
            out.write(f"ok {len(pcm)}\n".encode())
            out.write(pcm)
        except Exception as e:  # noqa: BLE001 - reported, and the next request is served
            out.write(f"error {type(e).__name__}: {e}".replace("\n", " ").encode() + b"\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
