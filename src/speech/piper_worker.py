"""backease's resident Piper synthesizer.

Started once per session by src/speech/piper.rs with the model and its
config as arguments. It loads the model once, says "ready RATE" on stdout,
then answers one request per line of stdin, a JSON object
{"text": ..., "length_scale": ..., "speaker": ..., "sentence_silence": ...},
with either "ok N" followed by N bytes of mono signed 16-bit little-endian
samples, or "error MESSAGE". It ends at the end of its stdin. Nothing else
is written to stdout; Python's and Piper's own messages go to stderr.
"""

# Run after worker_serve.py, which gives `serve`.


def load(args):
    from piper import PiperVoice

    model, config = args
    voice = PiperVoice.load(model, config_path=config)
    return voice, voice.config.sample_rate


def speak(voice, req):
    from piper import SynthesisConfig

    config = SynthesisConfig(
        speaker_id=req.get("speaker"),
        length_scale=req.get("length_scale"),
        volume=req.get("volume", 1.0),
    )
    gap = b"\x00\x00" * int(voice.config.sample_rate * float(req.get("sentence_silence", 0.0)))
    return gap.join(chunk.audio_int16_bytes for chunk in voice.synthesize(req["text"], syn_config=config))


if __name__ == "__main__":
    sys.exit(serve("piper_worker.py MODEL CONFIG", load, speak))  # noqa: F821 - from worker_serve.py
