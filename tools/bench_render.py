"""Render speed and memory of a realistic session, against ffmpeg alone: `make bench`.

One generated script (about 100 distinct sentences of guidance, breath windows, bells, chapters
and stretchable pauses) is rendered with `stillpoint render --minutes`, each render in its own
process (wall time, and peak resident memory from os.wait4). Measured in one run:

(a) ffmpeg alone encoding the 60-minute session's audio (as PCM) with Stillpoint's encoder
    settings: the baseline the other rows are divided by;
(b) a warm-cache render of 60 minutes (eSpeak NG);
(c) a cold-cache render of 60 minutes (eSpeak NG, an empty STILLPOINT_CACHE);
(d) a cold-cache render of 60 minutes with piper, and piper synthesising the session's clips
    in-process with 1 worker and with 2;
(e) peak memory of (b) and of the same script rendered at 180 minutes (the same clips, and
    rendered once before, so that its mastering plan is cached too, as (b)'s is);
(f) a 60-minute render again after one line of the script changed: clips made, and seconds;
(g) the cold piper render of (d) against its floor: the session's distinct clips synthesised
    alone on all cores (the 2-worker synthesis of (d));
(h) peak memory, every process of the render counted (os.wait4's largest), of built-in
    sessions at 60 minutes: hip-release cold and warm, and over the ocean bed, and the piper
    render of (d);
(i) mastering and limiting of a warm 10-minute render of pigeon (in this process: the CPU time
    spent inside mastering.master and loudness.limit) against the whole render's time. CPU,
    not wall time: the limiter runs as the mix reaches each clip, while both cores encode, and
    its wall time there counts the waits for a core (0.55 s of wall for 0.34 s of CPU);
(j) `stillpoint list` (the first time, and again) and `stillpoint script hip-release`;
(k) piper's time a clip beyond the model's own inference (onnxruntime's runs): the engine's
    (phonemes, noise, decoder windows), and the whole clip's (with delivery, resampling and
    the cache entry, which any engine's clip has), over the first OVERHEAD_CLIPS clips of (d)
    made in this process, the voice loaded first.

It prints the machine, then a markdown table README's "Performance" section can take as it is.
This machine is shared, so absolute seconds vary from run to run; the ratios are the result.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

from generator.base.samples import SAMPLE_RATE, Samples
from generator.files.ffmpeg import MP3_BITRATE
from generator.recipes.catalogue import Catalogue
from generator.recipes.overrides import Overrides
from generator.session import prepare
from generator.sound.sources import EstimatedClips, bells_used, speech_request
from generator.speech.cache import ClipCache, SpeechRequest
from generator.speech.lexicon import Lexicon
from generator.speech.synthesis import synthesize_all
from generator.timeline.events import ClipRef
from generator.timeline.placement import build_timeline

MINUTES = 60
LONG_MINUTES = 180  # the same script stretched: same clips, so memory compares fairly
ESPEAK = "pyttsx3:gmw/en-us"
PIPER = "piper:joe"
LENGTH_TOLERANCE = 0.5  # seconds: --minutes promises the length within this
EDITED_LINE = 42  # the sentence (0-based) that (f) changes

# Targets (issue 8), printed beside the measurements.
WARM_PER_FFMPEG = 1.3
COLD_PER_WARM = 1.5
PIPER_SPEED_UP = 1.7
RSS_MB = 300
PIPER_PER_FLOOR = 1.25  # issue 20: a cold piper render against its clips' synthesis alone
MASTERING_SHARE = 0.25  # of a warm 10-minute render
QUICK_SECONDS = 1.0  # list and script
OVERHEAD_MS = 10.0  # piper's time a clip beyond inference
OVERHEAD_CLIPS = 30
SHORT_MINUTES = 10
LONG_RSS_GROWTH = 1.1

CHAPTERS = [
    "Arriving", "The breath", "Face and jaw", "Shoulders and arms", "The back",
    "The hips", "Legs and feet", "The whole body", "Open awareness", "Returning",
]  # fmt: skip
OPENINGS = [
    "", "Now", "Gently", "When you are ready", "Slowly", "Without hurrying",
    "As you breathe out", "For a few breaths", "If it feels right", "Little by little",
]  # fmt: skip
PARTS = [
    "the jaw", "the shoulders", "the hands", "the belly", "the outer hips", "the lower back",
    "the soles of the feet", "the forehead", "the chest", "the knees", "the back of the neck",
]  # fmt: skip
ACTIONS = [
    "let {} soften", "notice {}", "bring your attention to {}", "feel the weight of {}",
    "let {} rest", "release any holding in {}", "breathe into {}", "allow {} to grow heavy",
    "sense the space around {}", "let {} simply be there",
]  # fmt: skip
TAILS = [
    "", " and let go", ", without changing anything",
    ", noticing how this feels from the inside", ", as if melting into the floor",
    ", one breath at a time",
    ", and stay with whatever you find there, even if it is only a faint sensation", " and rest",
]  # fmt: skip


def sentences(count: int = 100) -> list[str]:
    """Distinct guidance sentences of varied length (4 to 25 words), the same every run.

    Opening and body part cycle with coprime periods (10, 11), so the first 110 pairs differ.
    """
    made = []
    for i in range(count):
        action = ACTIONS[(i * 7 // 3) % len(ACTIONS)].format(PARTS[i % len(PARTS)])
        opening = OPENINGS[i % len(OPENINGS)]
        said = f"{opening}, {action}" if opening else action
        made.append(said[0].upper() + said[1:] + TAILS[(i * 5 + i // 8) % len(TAILS)] + ".")
    if len(set(made)) != count:
        raise AssertionError("the generated sentences repeat")
    return made


def script(said: list[str]) -> str:
    """Ten chapters of ten sentences, with breath windows, bells and stretchable pauses."""
    per = len(said) // len(CHAPTERS)
    out: list[str] = []
    for number, title in enumerate(CHAPTERS):
        mine = said[number * per : (number + 1) * per]
        out += [f"[chapter {title}]", "[bell bowl]" if number % 3 == 0 else "[bell chime]"]
        for k, sentence in enumerate(mine):
            out += [sentence, ""]
            if k == 2:
                out += ["[for 4s] Breathe in.", "[for 4s] Hold.", "[for 6s] Breathe out."] * 2
            elif k in (1, 5, 8):  # the silences that --minutes stretches
                out += [f"[pause {15 * k}s (10s..8m)]"]
            elif k == 6:
                out += ["[bell chime]"]
    out += ["[bell bowl x3]"]
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float = 0.0  # 0: not measured
    stdout: str = ""
    cpu: float = 0.0  # seconds, user and system, the process and every child it waited for


def run(command: list[str], env: Mapping[str, str], stdin: Path | None = None) -> Run:
    """Wall time, CPU time and peak resident memory of one child process, its own children
    counted (os.wait4 reports them)."""
    with tempfile.TemporaryFile() as out, Path(stdin or os.devnull).open("rb") as feed:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdin=feed, stdout=out, env=dict(env))
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode(errors="replace")
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command)}\n{text}")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, usage.ru_maxrss / 1024, text, cpu)  # ru_maxrss is in KiB on Linux


@dataclass(frozen=True)
class Render:
    seconds: float
    peak_mb: float
    clips: int  # new speech clips the CLI reports


def render(
    source: Path | str,
    mp3: Path,
    minutes: int,
    voice: str,
    env: Mapping[str, str],
    extra: Sequence[str] = (),
) -> Render:
    """`stillpoint render` in its own process; stops the bench if the length is not as asked."""
    stillpoint = str(Path(sys.executable).parent / "stillpoint")
    command = [stillpoint, "render", str(source), "-o", str(mp3), "--voice", voice, *extra]
    done = run([*command, "--minutes", str(minutes)], env)
    found = re.search(r"\(([\d:.]+), \d+ chapters?, (\d+) new speech clips?\)", done.stdout)
    if found is None:
        raise SystemExit(f"unexpected output from stillpoint render: {done.stdout!r}")
    length = clock_seconds(found.group(1))
    if abs(length - minutes * 60) > LENGTH_TOLERANCE:
        raise SystemExit(f"asked for {minutes} minutes, rendered {found.group(1)}")
    return Render(done.seconds, done.peak_mb, int(found.group(2)))


def clock_seconds(clock: str) -> float:
    """Seconds of mm:ss.mmm or h:mm:ss.mmm, as the CLI prints a length."""
    total = 0.0
    for part in clock.split(":"):
        total = total * 60 + float(part)
    return total


def ffmpeg_alone(mp3: Path, work: Path, env: Mapping[str, str]) -> Run:
    """ffmpeg encoding the session's audio as 16-bit PCM on stdin, as export.encode_mp3 does."""
    pcm = work / "session.s16"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(mp3), "-f", "s16le", "-ac", "1",
         "-ar", str(SAMPLE_RATE), "-y", str(pcm)],
        check=True,
    )  # fmt: skip
    # export.encode_mp3's command, flag for flag (mono, like the session)
    encode = [
        "ffmpeg", "-hide_banner", "-loglevel", "error",
        "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0",
        "-codec:a", "libmp3lame", "-b:a", MP3_BITRATE, "-id3v2_version", "0",
        "-write_id3v1", "0", "-map_metadata", "-1", "-f", "mp3", "-y", str(work / "alone.mp3"),
    ]  # fmt: skip
    try:
        return run(encode, env, stdin=pcm)
    finally:
        pcm.unlink()


class _Requests(EstimatedClips):
    """A clip source that notes every utterance the timeline asks for, as a render would."""

    def __init__(self, bells: Mapping[str, Samples], lexicons: Mapping[str, Lexicon]) -> None:
        super().__init__(bells)
        self.lexicons = lexicons
        self.asked: list[SpeechRequest] = []

    def speech(self, text: str, voice: str, rate: int) -> ClipRef:
        self.asked.append(speech_request(text, voice, rate, self.lexicons, Fraction(1)))
        return super().speech(text, voice, rate)


def speech_requests(source: Path, voice: str) -> list[SpeechRequest]:
    """The distinct clips a render of source in voice would synthesise."""
    library = Catalogue()
    prepared = prepare(str(source), library, Overrides({"voice": voice}))
    clips = _Requests(bells_used(prepared.cues, prepared.settings.bell, library), prepared.lexicons)
    build_timeline("bench", prepared.cues, prepared.settings, clips, SAMPLE_RATE)
    return list(dict.fromkeys(clips.asked))


def synthesis_seconds(requests: list[SpeechRequest], workers: int, work: Path) -> float:
    """Seconds to synthesise every request into an empty cache with this many workers."""
    with tempfile.TemporaryDirectory(dir=work) as cache:
        started = time.perf_counter()
        synthesize_all(requests, ClipCache(Path(cache)), workers=workers)
        return time.perf_counter() - started


def piper_overhead(requests: list[SpeechRequest], work: Path) -> Overhead:
    """Milliseconds a clip: the piper engine's (``PiperEngine.speak``: phonemes, noise, decoder
    windows) beyond onnxruntime's runs, and the whole clip's beyond them (with delivery,
    resampling to the session's rate and the cache entry, as any engine's clip has), making the
    first OVERHEAD_CLIPS clips in this process into an empty cache (the voice loaded by the
    last clip before the clock starts, as a worker has it loaded)."""
    import onnxruntime

    from generator.speech.voices import PiperEngine

    measured = requests[:OVERHEAD_CLIPS]
    spent = {"inference": 0.0, "engine": 0.0}

    def timed(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    spent[name] += time.perf_counter() - started

            return wrapper

        return wrap

    with tempfile.TemporaryDirectory(dir=work) as cache:
        synthesize_all(requests[-1:], ClipCache(Path(cache)), workers=0)  # loads the voice
        run, speak = (onnxruntime.InferenceSession, "run"), (PiperEngine, "speak")
        with _patched((*run, timed("inference")), (*speak, timed("engine"))):
            started = time.perf_counter()
            synthesize_all(measured, ClipCache(Path(cache)), workers=0)
            whole = time.perf_counter() - started
    per_clip = {name: seconds * 1000 / len(measured) for name, seconds in spent.items()}
    inference = per_clip["inference"]
    return Overhead(
        per_clip["engine"] - inference, whole * 1000 / len(measured) - inference, inference
    )


@dataclass(frozen=True)
class Overhead:
    """(k), milliseconds a piper clip."""

    engine: float  # the engine's own beyond inference
    clip: float  # the whole clip's beyond inference
    inference: float


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True)
    version = ffmpeg.stdout.split()[2]
    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}; ffmpeg {version}; "
        f"{datetime.date.today().isoformat()}"
    )


def load() -> str:
    """The 1-minute load average: on a shared machine, how much else wanted the cores."""
    return f"{os.getloadavg()[0]:.1f}"


@dataclass(frozen=True)
class Results:
    alone: Run  # (a)
    warm: Render  # (b)
    cold: Render  # (c)
    piper: Render  # (d)
    piper_clips: int
    one_worker: float
    two_workers: float
    long: Render  # (e)
    edit: Render  # (f)
    builtins: Mapping[str, Render]  # (h)
    mastering: tuple[float, float]  # (i): seconds in mastering and limiting, of the render's
    quick: Mapping[str, Run]  # (j)
    overhead: Overhead  # (k)


def measure(text: str, edited: str, work: Path) -> Results:
    """Every measurement, in an order that fills the eSpeak cache once; progress on stderr."""
    env = {  # no user config, scripts or cache: every run starts from the same place
        **{k: v for k, v in os.environ.items() if not k.startswith("STILLPOINT_")},
        "XDG_CONFIG_HOME": str(work / "config"),
        "XDG_DATA_HOME": str(work / "data"),
        "STILLPOINT_CACHE": str(work / "espeak-cache"),
    }
    source, mp3 = work / "bench.txt", work / "bench.mp3"
    source.write_text(text, encoding="utf-8")
    cold = note("(c) cold render", render(source, mp3, MINUTES, ESPEAK, env))
    warm = note("(b) warm render", render(source, mp3, MINUTES, ESPEAK, env))
    alone = note("(a) ffmpeg alone", ffmpeg_alone(mp3, work, env))
    # The first 180-minute render plans its mastering (the plan is cached like the clips): the
    # second is as warm as (b), so their memory compares the length alone.
    long_mp3 = work / "long.mp3"
    note("(e) 180 min, first", render(source, long_mp3, LONG_MINUTES, ESPEAK, env))
    long = note("(e) 180 min, warm", render(source, long_mp3, LONG_MINUTES, ESPEAK, env))
    source.write_text(edited, encoding="utf-8")
    edit = note("(f) one-line edit", render(source, mp3, MINUTES, ESPEAK, env))
    source.write_text(text, encoding="utf-8")
    piper_env = {**env, "STILLPOINT_CACHE": str(work / "piper-cache")}
    piper = note("(d) piper", render(source, work / "piper.mp3", MINUTES, PIPER, piper_env))
    requests = speech_requests(source, PIPER)
    one = note("(d) 1 worker", synthesis_seconds(requests, 1, work))
    two = note("(d) 2 workers", synthesis_seconds(requests, 2, work))
    if warm.clips or long.clips:
        raise SystemExit(f"a warm render made clips: {warm.clips} and {long.clips}")
    builtins = {
        "hip-release, cold": render("hip-release", work / "h.mp3", MINUTES, ESPEAK, env),
        "hip-release, warm": render("hip-release", work / "h.mp3", MINUTES, ESPEAK, env),
        "hip-release over the ocean bed, clips warm": render(
            "hip-release", work / "o.mp3", MINUTES, ESPEAK, env, ("--ambience", "ocean")
        ),
    }
    for label, measured in builtins.items():
        note(f"(h) {label}", measured)
    mastering = note("(i) mastering, render", mastering_share("pigeon", work / "m.mp3", env))
    quick = quick_commands(env, work)
    for label, timed in quick.items():
        note(f"(j) {label}", timed)
    # last: it loads piper in this process, whose resident memory a child started after it
    # would report as its own (Linux counts a process's memory before exec in its peak)
    overhead = note("(k) piper a clip", piper_overhead(requests, work))
    return Results(
        alone, warm, cold, piper, len(requests), one, two, long, edit, builtins, mastering, quick,
        overhead,
    )  # fmt: skip


def mastering_share(source: str, mp3: Path, env: Mapping[str, str]) -> tuple[float, float]:
    """CPU seconds of this process inside mastering.master and loudness.limit (outermost calls
    only), and wall seconds of the whole render, for a warm SHORT_MINUTES render of a built-in
    session in this process (rendered once first; the bench's own script cannot be that
    short)."""
    from generator.api import render_session
    from generator.sound import mastering

    spent = [0.0]
    depth = [0]

    def timed(function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            depth[0] += 1
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    spent[0] += time.process_time() - started

        return wrapper

    cache = env["STILLPOINT_CACHE"]
    settings = {"voice": ESPEAK}
    render_session(source, mp3, settings=settings, minutes=SHORT_MINUTES, cache=cache)  # warm
    with _patched((mastering, "master", timed), (mastering, "limit", timed)):
        started = time.perf_counter()
        render_session(source, mp3, settings=settings, minutes=SHORT_MINUTES, cache=cache)
        whole = time.perf_counter() - started
    return spent[0], whole


@contextlib.contextmanager
def _patched(*wrapped: tuple[Any, str, Callable[..., Any]]) -> Iterator[None]:
    """Each module's function replaced by ``wrap(function)`` for the block."""
    originals = [(module, name, getattr(module, name)) for module, name, _ in wrapped]
    for module, name, wrap in wrapped:
        setattr(module, name, wrap(getattr(module, name)))
    try:
        yield
    finally:
        for module, name, function in originals:
            setattr(module, name, function)


def quick_commands(env: Mapping[str, str], work: Path) -> dict[str, Run]:
    """`list` with a cache folder of its own (the first time, then again) and `script`."""
    stillpoint = str(Path(sys.executable).parent / "stillpoint")
    fresh = {**env, "STILLPOINT_CACHE": str(work / "list-cache")}
    return {
        "stillpoint list, the first time": run([stillpoint, "list"], fresh),
        "stillpoint list, again": run([stillpoint, "list"], fresh),
        "stillpoint script hip-release": run([stillpoint, "script", "hip-release"], env),
    }


Measured = TypeVar("Measured", Run, Render, float, tuple[float, float], "Overhead")


def note(label: str, measured: Measured) -> Measured:
    """Each result as soon as it is known (on stderr): a failure later does not lose it."""
    print(f"{label}: {measured}", file=sys.stderr)
    return measured


def report(said: list[str], text: str, got: Results, loads: tuple[str, str]) -> None:
    """The machine, the session, and the markdown table."""
    base, warm, speed_up = got.alone.seconds, got.warm, got.one_worker / got.two_workers
    edit = got.edit
    print(f"Machine: {machine()}; load average {loads[0]} at the start, {loads[1]} at the end")
    print(
        f"Session: {len(said)} distinct sentences, {len(CHAPTERS)} chapters, breath windows, "
        f"bells, {text.count('[pause')} stretchable pauses; rendered at {MINUTES} and "
        f"{LONG_MINUTES} minutes exactly (checked)\n"
    )
    print("| measurement | seconds | peak RSS | ratio | target | met |")
    print("| --- | ---: | ---: | ---: | ---: | :---: |")
    row("(a) ffmpeg alone: the 60-min audio, PCM to MP3", got.alone, "1.00", "baseline")
    row(
        "(b) warm render, 60 min, eSpeak NG",
        warm,
        f"{warm.seconds / base:.2f} x (a)",
        f"<= {WARM_PER_FFMPEG} x (a)",
        warm.seconds <= WARM_PER_FFMPEG * base,
    )
    row(
        f"(c) cold render, 60 min, eSpeak NG ({got.cold.clips} clips)",
        got.cold,
        f"{got.cold.seconds / base:.2f} x (a), {got.cold.seconds / warm.seconds:.2f} x (b)",
        f"<= {COLD_PER_WARM} x (b)",
        got.cold.seconds <= COLD_PER_WARM * warm.seconds,
    )
    row(
        f"(d) cold render, 60 min, piper ({got.piper.clips} clips)",
        got.piper,
        f"{got.piper.seconds / base:.2f} x (a)",
    )
    row(f"(d) piper synthesis of those {got.piper_clips} clips, 1 worker", Run(got.one_worker))
    row(
        "(d) the same, 2 workers",
        Run(got.two_workers),
        f"{speed_up:.2f}x faster",
        f">= {PIPER_SPEED_UP}x",
        speed_up >= PIPER_SPEED_UP,
    )
    row(
        "(e) peak memory of (b)",
        Run(0, warm.peak_mb),
        "",
        f"<= {RSS_MB} MB",
        warm.peak_mb <= RSS_MB,
    )
    row(
        "(e) warm render, 180 min (same script, same clips)",
        got.long,
        f"{got.long.peak_mb / warm.peak_mb:.2f} x (b) memory, "
        f"{got.long.seconds / warm.seconds:.2f} x (b) time",
        f"<= {LONG_RSS_GROWTH} x (b) memory",
        got.long.peak_mb <= LONG_RSS_GROWTH * warm.peak_mb,
    )
    report_issue_20(got)
    row(
        "(f) render again after a one-line edit, 60 min",
        Run(edit.seconds),
        f"{edit.clips} new clip{'s' * (edit.clips != 1)}, {edit.seconds / base:.2f} x (a)",
        "1 clip",
        edit.clips == 1,
    )


def report_issue_20(got: Results) -> None:
    """The rows of the second performance round: piper against its floor, memory of built-in
    sessions, mastering's share, list and script."""
    floor = got.two_workers
    row(
        "(g) cold piper render (d) against its clips' synthesis alone on 2 cores",
        got.piper,
        f"{got.piper.seconds / floor:.2f} x the floor ({floor:.1f} s)",
        f"<= {PIPER_PER_FLOOR} x",
        got.piper.seconds <= PIPER_PER_FLOOR * floor,
    )
    memory = {"cold render (c), eSpeak NG": got.cold, "cold render (d), piper": got.piper}
    for label, measured in {**memory, **got.builtins}.items():
        row(
            f"(h) peak memory, largest process: {label}, 60 min",
            Run(0, measured.peak_mb),
            "",
            f"<= {RSS_MB} MB",
            measured.peak_mb <= RSS_MB,
        )
    spent, whole = got.mastering
    row(
        f"(i) mastering and limiting of a warm {SHORT_MINUTES}-min render (their CPU seconds)",
        Run(spent),
        f"{spent / whole:.0%} of {whole:.1f} s",
        f"<= {MASTERING_SHARE:.0%}",
        spent <= MASTERING_SHARE * whole,
    )
    for label, command in got.quick.items():
        row(f"(j) {label}", Run(command.seconds), "", f"<= {QUICK_SECONDS:.0f} s",
            command.seconds <= QUICK_SECONDS)  # fmt: skip
    overhead = got.overhead
    row(
        f"(k) piper, the engine's time a clip beyond the model's inference ({OVERHEAD_CLIPS} "
        f"clips of (d); inference {overhead.inference:.0f} ms a clip)",
        Run(0),
        f"{overhead.engine:.1f} ms; the whole clip {overhead.clip:.1f} ms",
        f"<= {OVERHEAD_MS:.0f} ms",
        overhead.engine <= OVERHEAD_MS,
    )


def row(
    label: str, measured: Run | Render, ratio: str = "", target: str = "", met: bool | None = None
) -> None:
    """One line of the markdown table; a zero time or memory is left blank (not measured)."""
    seconds = f"{measured.seconds:.2f} s" if measured.seconds else ""
    memory = f"{measured.peak_mb:.0f} MB" if measured.peak_mb else ""
    verdict = "" if met is None else ("yes" if met else "**no**")
    print(f"| {label} | {seconds} | {memory} | {ratio} | {target} | {verdict} |")


def main() -> None:
    began = time.perf_counter()
    said = sentences()
    text = script(said)
    edited = text.replace(f"\n{said[EDITED_LINE]}\n", f"\n{said[EDITED_LINE]} Take your time.\n")
    if edited == text:
        raise AssertionError("the edit for (f) changed nothing")
    before = load()
    with tempfile.TemporaryDirectory() as folder:
        results = measure(text, edited, Path(folder))
    report(said, text, results, (before, load()))
    print(f"\nThe bench took {time.perf_counter() - began:.0f} s.")


if __name__ == "__main__":
    main()
