"""Intelligibility, speed and pace of every installed English voice: `make bench-voices`.

For each voice it speaks a fixed set of sentences from the practice scripts at the default rate,
as Stillpoint does (delivered phrase by phrase with their pauses, trimmed, one engine in this
process), and measures in one run:
- word error rate: the offline recogniser pocketsphinx 5 (its bundled en-US model) transcribes
  each clip at 16 kHz, and the words it hears are aligned with the words written (edit distance).
  pocketsphinx is a weak recogniser, so the numbers compare voices; they are not absolute.
- speed: seconds of speech made per second of synthesis on one core (x real time);
- pace: for the default voice of each engine, the words a minute heard (words of an utterance
  over its length, inner pauses included) at rates 90 to 180, beside the rate asked for: the
  mean over the passages and the utterance furthest from it.

`python tools/bench_voices.py --calibrate` measures the constants in generator/speech/voices.py
that turn a speed in seconds a word into each engine's own setting: eSpeak NG's words a minute
at its -s settings, piper's seconds a word at its length scales, on the phrases of hip-release.
"""

from __future__ import annotations

import re
import sys
import time

import numpy as np
from pocketsphinx import Decoder

from generator.base.samples import Samples, frozen, resample, trim_silence
from generator.recipes.catalogue import Catalogue
from generator.recipes.settings import Settings
from generator.session import estimate, prepare
from generator.speech.cache import SpeechRequest
from generator.speech.delivery import phrases, word_count
from generator.speech.synthesis import synthesize_one
from generator.speech.voices import (
    PiperEngine,
    SpeechEngine,
    espeak_clip,
    installed_engines,
    start_engine,
)

RATE = Settings().rate
PACE_RATES = (90, 120, 150, 180)
PASSAGES = [
    "Let the weight of your body sink into the floor. Breathe into the outer hip, and let each "
    "exhale soften it. There is nowhere else you need to be.",
    "Notice the jaw, the shoulders and the hands; soften them. Now imagine a warm light glowing "
    "around your hips. Rest here for a few breaths.",
]
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


def spoken(engine: SpeechEngine, voice: str, text: str, rate: int) -> tuple[Samples, int]:
    """The utterance as the speech stage makes it (delivery, then trimmed)."""
    return synthesize_one(engine, SpeechRequest(engine.name, voice, rate, text))


def measure(engine_name: str, voice: str, decoder: Decoder) -> tuple[float, float]:
    engine = start_engine(engine_name)
    spoken(engine, voice, "Warm up.", RATE)  # loads a model once, as a worker does
    wrong = total = 0
    speech = busy = 0.0
    for sentence in SENTENCES:
        started = time.perf_counter()
        clip, rate = spoken(engine, voice, sentence, RATE)
        busy += time.perf_counter() - started
        speech += clip.size / rate
        said = words(sentence)
        wrong += errors(said, words(transcribe(decoder, clip, rate)))
        total += len(said)
    return wrong / total, speech / busy


def paces(engine_name: str, voice: str, rate: int) -> tuple[float, float]:
    """Words a minute heard, over the passages: the mean, and the utterance furthest from rate."""
    engine = start_engine(engine_name)
    heard = []
    for text in (*PASSAGES, *SENTENCES):
        clip, sample_rate = spoken(engine, voice, text, rate)
        heard.append(word_count(text) * 60 / (clip.size / sample_rate))
    return float(np.mean(heard)), max(heard, key=lambda pace: abs(pace - rate))


def plan_phrases() -> list[str]:
    """The phrases of hip-release's utterances, as delivery divides them (the first 100)."""
    catalogue = Catalogue()
    prepared = prepare("hip-release", catalogue)
    timeline = estimate(prepared, catalogue)
    texts = [event.text for event in timeline.events if event.kind == "speech"]
    return [phrase.text for text in texts for phrase in phrases(text)][:100]


def calibrate() -> None:
    found = plan_phrases()
    count = sum(word_count(phrase) for phrase in found)
    print(f"{len(found)} phrases, {count} words")
    espeak = start_engine("pyttsx3")
    voice = espeak.default_voice()
    rows = []
    for setting in (80, 120, 160, 200, 260, 320):
        seconds = sum(espeak_seconds(voice, phrase, setting) for phrase in found)
        rows.append(f"({setting}, {60 * count / seconds:.1f})")
    print(f"ESPEAK_SPEEDS = ({', '.join(rows)})  # {voice}")
    model = PiperEngine().load("piper:joe")  # the model itself, to set the length scale directly
    from piper import SynthesisConfig

    rows = []
    for scale in (0.6, 0.8, 1.0, 1.5, 2.0, 2.5):
        config = SynthesisConfig(length_scale=scale, normalize_audio=False)
        seconds = 0.0
        for phrase in found:
            chunks = [chunk.audio_float_array for chunk in model.synthesize(phrase, config)]
            seconds += trim_silence(frozen(np.concatenate(chunks))).size / model.config.sample_rate
        rows.append(f"({scale}, {seconds / count:.4f})")
    print(f"PIPER_SPEEDS = ({', '.join(rows)})")


def espeak_seconds(voice: str, phrase: str, setting: int) -> float:
    """Seconds of eSpeak NG's trimmed phrase at its -s setting."""
    samples, rate = espeak_clip("espeak-ng", phrase, voice.split(":", 1)[1], setting)
    return trim_silence(samples).size / rate


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
    print("| voice | word error rate | speed (x real time, 1 core) |")
    print("| --- | ---: | ---: |")
    results = [(info.id, *measure(info.engine, info.id, decoder)) for info in voices]
    for voice, wer, speed in sorted(results, key=lambda row: row[1]):
        print(f"| `{voice}` | {wer:.0%} | {speed:.0f} |")
    print("\nPace heard (words of an utterance over its length, pauses included):\n")
    print("| voice | rate asked | pace heard, mean | furthest utterance |")
    print("| --- | ---: | ---: | ---: |")
    for engine in installed_engines():
        voice = start_engine(engine).default_voice()
        for rate in PACE_RATES:
            mean, furthest = paces(engine, voice, rate)
            print(f"| `{voice}` | {rate} | {mean:.1f} | {furthest:.1f} |")


if __name__ == "__main__":
    main()
