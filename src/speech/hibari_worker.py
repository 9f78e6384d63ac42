"""backease's resident hibari synthesizer.

Started once per session by src/speech/hibari.rs with the hibari version it
expects as its argument, it speaks the protocol of src/speech/resident.rs:
"ready RATE" once the model and its pronunciation front end are loaded,
then one request per line of stdin, a JSON object
{"text": ..., "speed": ..., "seed": ..., "sentence_silence": ...},
answered with "ok N" and N bytes of mono signed 16-bit little-endian
samples, or "error MESSAGE". It ends at the end of its stdin.

Only the voice inside the package (heart) is used: hibari downloads its
other voices at run time, which backease never lets it do. Each sentence
is made with the request's seed (hibari's noise component is random
otherwise), the silence hibari puts before and after it is cut, and the
sentences are joined by the request's own silence.
"""

# Run after worker_serve.py, which gives `serve`.

import sys

# A sentence's sound starts and ends where it comes within 40 dB of its
# peak; a little is kept either side, faded, so nothing starts on a step.
THRESHOLD_DB = -40.0
KEEP_BEFORE = 0.010
KEEP_AFTER = 0.025


def trimmed(audio, rate, np):
    """The sound of one sentence without the silence around it."""
    if audio.size == 0:
        return audio
    level = np.abs(audio)
    loud = np.nonzero(level > level.max() * 10 ** (THRESHOLD_DB / 20))[0]
    if loud.size == 0:
        return audio[:0]
    start = max(0, loud[0] - int(KEEP_BEFORE * rate))
    end = min(audio.size, loud[-1] + 1 + int(KEEP_AFTER * rate))
    out = audio[start:end].copy()
    fade = min(int(0.005 * rate), out.size // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        out[:fade] *= ramp
        out[-fade:] *= ramp[::-1]
    return out


def speak(tts, req, rate, np):
    """One cue as 16-bit samples."""
    gap = np.zeros(int(rate * float(req.get("sentence_silence", 0.0))), np.float32)
    parts = []
    for chunk in tts.stream(req["text"], speed=float(req["speed"]), seed=int(req["seed"])):
        chunk = trimmed(chunk, rate, np)
        if chunk.size:
            parts += [gap, chunk] if parts else [chunk]
    audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def loaded(hibari):
    """The voice, its model and its pronunciation front end loaded side by
    side: the front end (reading its word lists, a third of a second) on a
    thread while onnxruntime loads the model (which lets go of Python's
    lock), so the first cue comes that much sooner."""
    import threading

    from hibari.g2p import G2P

    front = {}

    def load_front():
        try:
            front["g2p"] = G2P(british=False)
        except Exception as e:  # noqa: BLE001 - raised again below, on the main thread
            front["error"] = e

    thread = threading.Thread(target=load_front, daemon=True)
    thread.start()
    tts = hibari.Hibari(voice="heart")
    thread.join()
    if "error" in front:
        raise front["error"]
    tts._g2p = front["g2p"]
    # Anything the front end still loads at its first use: now, not at the first cue.
    tts.phonemize("Ready.")
    return tts


def load(args):
    import numpy as np
    import hibari

    (version,) = args
    if hibari.__version__ != version:
        raise RuntimeError(f"hibari {hibari.__version__} is installed; backease speaks with {version}")
    return (loaded(hibari), np), hibari.SAMPLE_RATE


def speak_request(voice, req):
    tts, np = voice
    return speak(tts, req, tts.sample_rate, np)


if __name__ == "__main__":
    sys.exit(serve("hibari_worker.py VERSION", load, speak_request))  # noqa: F821 - from worker_serve.py
