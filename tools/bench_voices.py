"""Intelligibility and speed of every installed English voice: `make bench-voices`.

For each voice it synthesises a fixed set of sentences from the practice scripts at rate 145,
as Stillpoint does (trimmed clips, one engine in this process), and measures in one run:
- word error rate: the offline recogniser pocketsphinx 5 (its bundled en-US model) transcribes
  each clip at 16 kHz, and the words it hears are aligned with the words written (edit distance).
  pocketsphinx is a weak recogniser, so the numbers compare voices; they are not absolute.
- speed: seconds of speech made per second of synthesis on one core (x real time);
- pace: words a minute of the trimmed speech, to check that a rate means the same on each engine.

`python tools/bench_voices.py --calibrate` measures the constants in generator/voices.py that
map a rate to piper's length scale: eSpeak NG's pace per unit of rate, and piper's seconds per
word at length scales 1 and 2 (a straight line between them).
"""

from __future__ import annotations

import re
import sys
import time

import numpy as np
from pocketsphinx import Decoder

from generator.base.samples import Samples, frozen, resample, trim_silence
from generator.speech.voices import PiperEngine, installed_engines, start_engine

RATE = 145
SENTENCES = [
    "Let the weight of your body sink into the floor.",
    "Breathe into the outer hip and let each exhale soften it.",
    "Slide your right knee forward towards your right wrist.",
    "Notice the jaw, the shoulders and the hands, and soften them.",
    "Now imagine a warm light glowing around your hips.",
    "As you breathe out, tip the pelvis towards you.",
    "Stir one to two cups of salt into a warm bath.",
    "Take a moment to notice how your hips feel now.",
    "Drink a glass of water and move gently for the rest of the day.",
    "Two more breaths here, then slowly come out of the pose.",
]
RECOGNISER_RATE = 16_000


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def errors(said: list[str], heard: list[str]) -> int:
    """Word-level edit distance: substitutions, deletions and insertions."""
    row = list(range(len(heard) + 1))
    for i, word in enumerate(said, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(heard, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1]


def transcribe(decoder: Decoder, clip: Samples, rate: int) -> str:
    audio = resample(clip, rate, RECOGNISER_RATE)
    pad = np.zeros(RECOGNISER_RATE // 4, dtype=np.float32)
    pcm = (np.clip(np.concatenate([pad, audio, pad]), -1, 1) * 32767).astype("<i2").tobytes()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis is not None else ""


def measure(engine_name: str, voice: str, decoder: Decoder) -> tuple[float, float, float]:
    engine = start_engine(engine_name)
    engine.synthesize("Warm up.", voice, RATE)  # loads a model once, as a worker does
    wrong = total = 0
    speech = busy = 0.0
    for sentence in SENTENCES:
        started = time.perf_counter()
        raw, rate = engine.synthesize(sentence, voice, RATE)
        busy += time.perf_counter() - started
        clip = trim_silence(raw)  # as the speech stage keeps it
        speech += clip.size / rate
        said = words(sentence)
        wrong += errors(said, words(transcribe(decoder, clip, rate)))
        total += len(said)
    written = sum(len(words(sentence)) for sentence in SENTENCES)
    return wrong / total, speech / busy, written / speech * 60


def seconds_per_word(clips: list[Samples], rate: int) -> float:
    spoken = sum(trim_silence(clip).size for clip in clips) / rate
    return spoken / sum(len(words(sentence)) for sentence in SENTENCES)


def calibrate() -> None:
    espeak = start_engine("pyttsx3")
    voice = espeak.default_voice()
    made = [espeak.synthesize(sentence, voice, RATE) for sentence in SENTENCES]
    pace = 60 / seconds_per_word([clip for clip, _ in made], made[0][1]) / RATE
    print(f"ESPEAK_PACE = {pace:.3f}  # words a minute per unit of rate ({voice})")
    piper = PiperEngine()
    model = piper.load("piper:joe")  # the model itself, to set the length scale directly
    from piper import SynthesisConfig

    per_scale = []
    for scale in (1.0, 2.0):
        config = SynthesisConfig(length_scale=scale, normalize_audio=False)
        clips = [
            frozen(
                np.concatenate([chunk.audio_float_array for chunk in model.synthesize(s, config)])
            )
            for s in SENTENCES
        ]
        per_scale.append(seconds_per_word(clips, int(model.config.sample_rate)))
    print(f"PIPER_WORD_SECONDS = ({per_scale[0]:.4f}, {per_scale[1] - per_scale[0]:.4f})")


def main() -> None:
    if "--calibrate" in sys.argv:
        calibrate()
        return
    decoder = Decoder(samprate=RECOGNISER_RATE, loglevel="FATAL")
    voices = [
        info
        for name in installed_engines()
        for info in start_engine(name).voices()
        if any(language.lower().startswith("en") for language in info.languages)
    ]
    print(f"{len(SENTENCES)} sentences at rate {RATE}; pocketsphinx 5 word error rate\n")
    print("| voice | word error rate | speed (x real time, 1 core) | pace (words a minute) |")
    print("| --- | ---: | ---: | ---: |")
    results = [(info.id, *measure(info.engine, info.id, decoder)) for info in voices]
    for voice, wer, speed, pace in sorted(results, key=lambda row: row[1]):
        print(f"| `{voice}` | {wer:.0%} | {speed:.0f} | {pace:.0f} |")


if __name__ == "__main__":
    main()
