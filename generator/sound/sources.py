"""Where the timeline's sounds come from: speech clips, bells and breath tones (``ClipSource``).

``EstimatedClips`` gives lengths without audio (``stillpoint script``, ``list``, length ranges);
``RenderClips`` gives real audio: speech from the cache or synthesised in parallel workers (through
the lexicon of its engine), bells levelled from ``sounds/``, tones made on demand, the listener's
music files as loops (``music_used``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from fractions import Fraction
from pathlib import Path

from generator.base.samples import SAMPLE_RATE, Samples, db_to_gain, frozen
from generator.errors import MarkupError, SettingsError, Source, closest, located
from generator.files.memo import Memo
from generator.files.soundfiles import BELL, MUSIC, SoundFileError, read_sound
from generator.files.userfiles import regular_file
from generator.markup.breathing import ToneKind
from generator.markup.cues import NO_BELL, OFF, AmbienceChange, Bell, Cue, Pause, Window, walk
from generator.recipes.catalogue import Catalogue
from generator.recipes.settings import LEVEL_DEFAULTS
from generator.sound.ambience import BEDS, BedError, bed_loop, load_bed
from generator.sound.balance import SPEECH_LUFS, against_voice, bell_at, voice_gain
from generator.sound.profiles import Profile, ProfileStore, identity_of, profiles_of
from generator.sound.tones import breath_tone, tone_id
from generator.speech.cache import Clip, ClipCache, SpeechRequest, pcm_samples
from generator.speech.delivery import PhraseMark, estimated_marks, word_count, written_marks
from generator.speech.lexicon import Lexicon
from generator.speech.synthesis import Known, SpeechClips, synthesize_all
from generator.timeline.events import ClipRef, ambience_id, music_id

# Speech clips decoded (and levelled) lately, kept for the next block that asks: a clip sounds
# in a few 10 s blocks of the mix, and mastering reads each a few times, in order.
RECENT_CLIPS_BYTES = 16 << 20
BELL_LEVEL = Fraction(LEVEL_DEFAULTS["bell_level"])  # dB against the voice (balance.py)
BED_LEVEL = Fraction(LEVEL_DEFAULTS["ambience_level"])  # the level the beds are made at
MUSIC_LEVEL = Fraction(LEVEL_DEFAULTS["music_level"])
LEVEL_FORMAT = 2  # of a voice's kept gain (levels/): a change to voice_gain changes this


def speech_request(
    text: str, voice: str, rate: int, lexicons: Mapping[str, Lexicon], sentence_pause: Fraction
) -> SpeechRequest:
    """What the engine is asked to say: the text as its lexicon respells it."""
    engine = voice.split(":", 1)[0]
    lexicon = lexicons.get(engine)
    spoken = lexicon.respell(text) if lexicon else text
    return SpeechRequest(engine, voice, rate, spoken, sentence_pause)


def _bell_sources(cues: Sequence[Cue], default: str) -> dict[str, Source]:
    """Each bell the cues ring, with the first line that rings it."""
    found: dict[str, Source] = {}
    for cue in walk(cues):
        if isinstance(cue, Bell):
            name = cue.sound or default
        elif isinstance(cue, Pause) and cue.bells is not None:
            name = cue.bells.sound or default
        else:
            continue
        if name != NO_BELL:
            found.setdefault(name, cue.source)
    return found


def bells_used(
    cues: Sequence[Cue], default: str, catalogue: Catalogue, level: Fraction | None = BELL_LEVEL
) -> dict[str, Samples]:
    """The bells the cues ring, at ``level`` dB against the voice; an unknown name is a markup
    error at its line. ``default`` is the bell a bare [bell] rings (the ``bell`` setting).

    ``level`` None: as their files hold them, for an estimate, which needs only their lengths
    (levelling measures their loudness: 40 ms of the first `stillpoint list`, cProfile).
    """
    available = catalogue.sounds()
    bells: dict[str, Samples] = {}
    for name, source in _bell_sources(cues, default).items():
        if name not in available:
            raise MarkupError(
                f"unknown bell {name!r}",
                where=source,
                fix=f"Sounds: {', '.join(available) or 'none'} (files in sounds/), or none.",
            )
        try:
            path = available[name]
            bells[name] = read_sound(path, BELL) if level is None else _levelled_bell(path, level)
        except SoundFileError as error:
            raise MarkupError(error.what, where=source, fix=error.fix) from None
    return bells


def _levelled_bell(path: Path, level: Fraction) -> Samples:
    """A bell at its level, levelled once per process for a file, its mtime and the level."""
    status = path.stat()
    return _levelled(path.resolve(), status.st_mtime_ns, status.st_size, level, str(path))


@functools.lru_cache(maxsize=32)
def _levelled(real: Path, mtime: int, size: int, level: Fraction, given: str) -> Samples:
    del real, mtime, size  # in the key only
    return bell_at(read_sound(Path(given), BELL), level)


def check_bell_setting(name: str, catalogue: Catalogue, where: Source | str | None) -> None:
    """The session's ``bell`` setting names a sound (or none), even where no bare [bell] rings
    it: a typo such as --bell gong should not go unnoticed until a script uses it."""
    available = catalogue.sounds()
    if name != NO_BELL and name not in available:
        raise SettingsError(
            f"unknown bell {name!r}",
            where=where,
            fix=f"{closest(name, available)} Sounds: {', '.join(available) or 'none'} "
            "(files in sounds/), or none.".strip(),
        )


def music_used(
    cues: Sequence[Cue], seconds: float | None = None, level: Fraction = MUSIC_LEVEL
) -> dict[str, Samples]:
    """Each music file a window plays, decoded once as a loop at the bed level, by its mix id.

    A file that cannot be used is an error at the line that asks for it. ``seconds``: the most
    of each file the session can play.
    """
    found: dict[str, Samples] = {}
    for cue in walk(cues):
        if isinstance(cue, Window) and cue.music and music_id(cue.music) not in found:
            try:
                path = Path(cue.music).expanduser()
                found[music_id(cue.music)] = load_bed(path, against_voice(level), MUSIC, seconds)
            except BedError as error:
                raise MarkupError(error.what, where=cue.source, fix=error.fix) from None
    return found


def ambience_asked(
    cues: Sequence[Cue], setting: str, setting_where: Source | str | None = None
) -> dict[str, Source | str]:
    """Each ambience bed the session plays, with where it is asked for; an unknown name (not a
    built-in bed, not an existing file) is an error there. Cheap: nothing is decoded.

    ``setting_where`` is where the ``ambience`` setting was given (the option, a recipe line).
    """
    asked: dict[str, Source | str] = {}
    if setting.lower() != OFF:
        asked[setting] = setting_where or f"ambience={setting}"
    for cue in walk(cues):
        if isinstance(cue, AmbienceChange) and cue.bed.lower() != OFF:
            asked.setdefault(cue.bed, cue.source)
    for bed, where in asked.items():
        if bed not in BEDS and Path(bed).expanduser().exists():
            with located(where):  # a folder, device or pipe: refused before it is opened
                regular_file(Path(bed).expanduser(), BedError, "Give a sound file as the bed.")
        elif bed not in BEDS:
            raise BedError(
                f"unknown ambience {bed!r}",
                where=where,
                fix=f"{closest(bed, BEDS)} Beds: {', '.join(BEDS)}, a sound file, or off.".strip(),
            )
    return asked


def ambience_used(
    cues: Sequence[Cue], setting: str, seconds: float | None = None, level: Fraction = BED_LEVEL
) -> dict[str, Samples]:
    """Each ambience bed the session plays, as a loop at ``level`` dB against the voice, by its
    mix id; of a file, at most the ``seconds`` the session can play."""
    found: dict[str, Samples] = {}
    gain = db_to_gain(float(level - BED_LEVEL))  # the beds are made at the default level
    for bed, where in ambience_asked(cues, setting).items():
        try:
            loop = (
                bed_loop(bed) if bed in BEDS else load_bed(Path(bed).expanduser(), seconds=seconds)
            )
        except BedError as error:
            raise BedError(error.what, where=where, fix=error.fix) from None
        found[ambience_id(bed)] = loop if gain == 1 else frozen(loop * gain)
    return found


def bell_id(name: str) -> str:
    """The id a bell's samples go by in the mix (speech clips go by their cache key)."""
    return f"bell:{name}"


class EstimatedClips:
    """Clip lengths without audio: speech estimated from its words, bells and tones exact."""

    def __init__(
        self,
        bells: Mapping[str, Samples],
        sentence_pause: Fraction = Fraction(1),
        marks: bool = True,
    ) -> None:
        self.bells = bells
        self.sentence_pause = sentence_pause  # where the phrases fall in an estimate
        # False: lengths only, no phrase marks (a length does not need them; working them out
        # is 0.06 of the first `stillpoint list`'s 1.1 s CPU, measured)
        self.marks = marks

    def speech(self, text: str, voice: str, rate: int) -> ClipRef:
        """An utterance lasts its words x 60 / rate (delivery.py makes it so): exact but for an
        utterance of one phrase, whose pace is the engine's own within its calibration. Its
        phrases fall where the pace puts them (``delivery.estimated_marks``)."""
        seconds = Fraction(word_count(text) * 60, rate)
        marks = _estimated_marks(text, rate, self.sentence_pause) if self.marks else ()
        key, samples = f"estimate:{voice}:{rate}:{text}", round(seconds * SAMPLE_RATE)
        return ClipRef(key, samples, phrases=marks)

    def bell(self, name: str) -> ClipRef:
        return ClipRef(bell_id(name), self.bells[name].size)

    def tone(self, kind: ToneKind, samples: int) -> ClipRef:
        return ClipRef(tone_id(kind, samples), samples)


@functools.lru_cache(maxsize=4096)  # a length fitted places every utterance a dozen times or so
def _estimated_marks(text: str, rate: int, sentence_pause: Fraction) -> tuple[PhraseMark, ...]:
    return estimated_marks(text, rate, sentence_pause, SAMPLE_RATE)


class ClipAudio(Mapping[str, Samples]):
    """The samples of every clip by its mix id: what the mix and mastering read.

    Bells, tones and loops are held. Speech is not: each clip is read from where it was made
    (the speech cache, ``SpeechClips``) when asked for, at its voice's level, and the clips
    asked for lately are kept up to RECENT_CLIPS_BYTES. So memory does not grow with the clips
    a session speaks, and no clip is ever held twice (as made and as levelled). Safe to read
    from several threads (clips are profiled in a pool).

    It is also mastering's ``profiles.Measures``: each clip is profiled once, as made, and its
    profile scaled to the clip's level when asked for (the voice's level and mastering share
    one reading of every clip); a speech clip in the cache is identified by its entry's digest
    and its level, without reading it.
    """

    def __init__(
        self, held: Mapping[str, Samples] | None = None, kept: ProfileStore | None = None
    ) -> None:
        self._held: dict[str, Samples] = dict(held or {})
        self._kept = kept  # speech clips' profiles on disk, by their cache entry's digest
        # a speech clip's reader, size and cache entry digest (b"": not in the cache)
        self._speech: dict[str, tuple[Callable[[], Samples], int, bytes]] = {}
        self._gains: dict[str, tuple[float, ...]] = {}  # each level_speech's gain, in order
        self._profiles: dict[str, Profile] = {}  # each clip's, as made (not levelled)
        self._recent: dict[str, Samples] = {}  # oldest first
        self._recent_bytes = 0
        self._lock = threading.Lock()

    def hold(self, key: str, samples: Samples) -> None:
        """Keep a sound (a bell, a tone, a loop) as it is."""
        self._held[key] = samples

    def add_speech(
        self, key: str, size: int, read: Callable[[], Samples], digest: bytes = b""
    ) -> None:
        """A speech clip of ``size`` samples, that ``read`` gives (as made, not levelled);
        ``digest``: its cache entry's, when it is in the cache."""
        with self._lock:
            self._speech[key] = (read, size, digest)
            self._profiles.pop(key, None)
            self._forget(key)

    def level(self, key: str, gain: float) -> None:
        """Multiply the speech clip by ``gain`` from now on (as ``clip * gain`` in float32)."""
        with self._lock:
            self._gains[key] = (*self._gains.get(key, ()), gain)
            self._forget(key)

    def size(self, key: str) -> int:
        """The clip's length in samples, without reading it."""
        if key in self._held:
            return int(self._held[key].size)
        return self._speech[key][1]

    def __getitem__(self, key: str) -> Samples:
        return self.read(key, keep=True)

    def read(self, key: str, keep: bool = False) -> Samples:
        """The clip at its level; with ``keep``, kept among the clips read lately (the mix
        reads a clip again in its next block) -- without, a clip read once (measured) is not."""
        held = self._held.get(key)
        if held is not None:
            return held
        with self._lock:
            recent = self._recent.pop(key, None)
            if recent is not None:
                self._recent[key] = recent  # now the newest
                return recent
            gains = self._gains.get(key, ())
        samples = self._made(key)
        for gain in gains:
            samples = samples * gain  # float32: the gain is a Python float
        samples.flags.writeable = False
        if keep:
            self._keep(key, samples, gains)
        return samples

    def _made(self, key: str) -> Samples:
        """The clip as made (a speech clip not levelled)."""
        held = self._held.get(key)
        if held is not None:
            return held
        read, size, _ = self._speech[key]  # KeyError for an unknown clip, as a dict gives
        samples = read()
        if samples.size != size:
            raise ValueError(f"clip {key} changed length: {samples.size}, not {size} samples")
        return samples

    def profiles(self, keys: Sequence[str], rate: int) -> dict[str, Profile]:
        """Each clip's profile at its level now: measured once as made (kept), then scaled."""
        with self._lock:
            missing = [key for key in dict.fromkeys(keys) if key not in self._profiles]
        found = {key: self._load(key, rate) for key in missing}
        made = profiles_of(self._made, [key for key in missing if found[key] is None], rate)
        for key, profile in made.items():
            self._save(key, profile, rate)
        with self._lock:
            self._profiles.update({key: kept for key, kept in found.items() if kept is not None})
            self._profiles.update(made)
            return {key: self._profiles[key].scaled(self._gain(key)) for key in keys}

    def digest(self, key: str) -> bytes:
        """A speech clip's cache entry digest; b"" for a clip not in the cache, or held."""
        speech = self._speech.get(key)
        return b"" if key in self._held or speech is None else speech[2]

    def _load(self, key: str, rate: int) -> Profile | None:
        digest = self.digest(key)
        if self._kept is None or not digest:
            return None
        return self._kept.load(digest, self.size(key), rate)

    def _save(self, key: str, profile: Profile, rate: int) -> None:
        digest = self.digest(key)
        if self._kept is not None and digest:
            self._kept.save(digest, profile, rate)

    def _gain(self, key: str) -> float:
        return math.prod(self._gains.get(key, ()))

    def identity(self, key: str) -> bytes:
        """What identifies the clip's audio: a cached speech clip's entry digest and its gains
        (nothing read), else the samples' own digest."""
        digest = self.digest(key)
        if not digest:
            return identity_of(self.read(key))
        return digest + repr(self._gains.get(key, ())).encode()

    def _keep(self, key: str, samples: Samples, gains: tuple[float, ...]) -> None:
        with self._lock:
            if self._gains.get(key, ()) != gains or key in self._recent:
                return  # levelled meanwhile, or kept by another thread
            self._recent[key] = samples
            self._recent_bytes += samples.nbytes
            while self._recent_bytes > RECENT_CLIPS_BYTES and len(self._recent) > 1:
                self._recent_bytes -= self._recent.pop(next(iter(self._recent))).nbytes

    def _forget(self, key: str) -> None:
        recent = self._recent.pop(key, None)
        if recent is not None:
            self._recent_bytes -= recent.nbytes

    def kept(self) -> int:
        """Bytes of speech held decoded now (at most about RECENT_CLIPS_BYTES)."""
        return self._recent_bytes

    def __contains__(self, key: object) -> bool:
        return key in self._held or key in self._speech

    def __iter__(self) -> Iterator[str]:
        yield from self._held
        yield from self._speech

    def __len__(self) -> int:
        return len(self._held) + len(self._speech)


def _reader(clips: Mapping[SpeechRequest, Clip], request: SpeechRequest) -> Callable[[], Samples]:
    """How a speech clip is read again when the mix asks for it: from the cache, through
    ``SpeechClips``; or, from any other mapping of clips (a test's), the clip it holds."""
    if isinstance(clips, SpeechClips):

        def read() -> Samples:
            return pcm_samples(clips.stored(request).pcm)

        return read
    samples = clips[request].samples
    return lambda: samples


class RenderClips:
    """Real audio: bells, tones made on demand, speech from the cache or synthesised in batches.

    Speech the timeline asks for that has no clip yet (at first all of it; later an announcement
    whose words changed with the stretch) is noted and given an estimated length; ``complete``
    synthesises what was noted, all at once and in parallel.
    """

    def __init__(
        self,
        bells: Mapping[str, Samples],
        lexicons: Mapping[str, Lexicon],
        volume: float,
        cache: ClipCache,
        on_clips: Callable[[int, int], None],
        beds: Mapping[str, Samples] | None = None,
        sentence_pause: Fraction = Fraction(1),
        workers: int | None = None,
    ) -> None:
        self.lexicons = lexicons
        self.workers = workers  # speech processes (synthesize_all's: None a core each, 0 none)
        self.sentence_pause = sentence_pause
        self.volume = volume
        self.cache = cache
        self.on_clips = on_clips  # (made so far, to make): progress
        self.estimated = EstimatedClips(bells, sentence_pause)
        bell_sounds = {bell_id(name): sound for name, sound in bells.items()}
        self.audio = ClipAudio(bell_sounds, ProfileStore(cache.root))
        for key, loop in (beds or {}).items():  # music and ambience loops, by their mix ids
            self.audio.hold(key, loop)
        self.phrases: dict[str, tuple[PhraseMark, ...]] = {}  # a speech clip's, by its key
        self.requests: dict[tuple[str, str, int], SpeechRequest] = {}  # what has a clip
        self.missing: dict[tuple[str, str, int], SpeechRequest] = {}  # what needs one
        self.made = 0
        self.warnings: tuple[str, ...] = ()  # for the user: a speech cache that cannot be written

    def speech(self, text: str, voice: str, rate: int) -> ClipRef:
        request = self.requests.get((text, voice, rate))
        if request is None:
            self.missing[text, voice, rate] = speech_request(
                text, voice, rate, self.lexicons, self.sentence_pause
            )
            return self.estimated.speech(text, voice, rate)
        marks = written_marks(self.phrases[request.key], text)  # the clip's, in the words shown
        return ClipRef(request.key, self.audio.size(request.key), request.text, marks)

    def bell(self, name: str) -> ClipRef:
        return ClipRef(bell_id(name), self.audio.size(bell_id(name)))

    def tone(self, kind: ToneKind, samples: int) -> ClipRef:
        key = tone_id(kind, samples)
        if key not in self.audio:
            self.audio.hold(key, breath_tone(kind, samples, SAMPLE_RATE))
        return ClipRef(key, samples)

    def level_speech(self) -> None:
        """Bring each voice to balance.SPEECH_LUFS (times the volume), once its clips are made.

        One gain a voice, not one a clip: sentences keep their natural differences. The clips'
        loudness is read from their profiles (which mastering then takes, scaled), and they are
        levelled as they are read (``ClipAudio``): not copied.
        """
        by_voice: dict[str, dict[str, None]] = {}  # keys in the order asked: a stable sum
        for request in self.requests.values():
            by_voice.setdefault(request.voice, {})[request.key] = None
        for keys in by_voice.values():
            gain = self._voice_gain(list(keys)) * self.volume
            for key in keys:
                self.audio.level(key, gain)

    def _voice_gain(self, keys: list[str]) -> float:
        """``voice_gain`` of these clips, kept in the cache folder under their entries' digests
        (``files/memo.py``): measuring them was 0.76 s of a warm 60-minute render's 10
        (cProfile). Clips not in the cache are measured every time."""
        digests = [self.audio.digest(key) for key in keys]
        if not all(digests):
            return self._measured_gain(keys)
        memo, key = Memo(self.cache.root / "levels"), _level_key(keys, digests)
        try:
            kept = float(json.loads(memo.load(key) or "null"))
        except (TypeError, ValueError):  # absent or damaged: measured again
            kept = math.nan
        if math.isfinite(kept) and kept > 0:
            return kept
        gain = self._measured_gain(keys)
        memo.save(key, json.dumps(gain))
        return gain

    def _measured_gain(self, keys: list[str]) -> float:
        profiles = self.audio.profiles(keys, SAMPLE_RATE)
        return voice_gain([profiles[key] for key in keys], SAMPLE_RATE)

    def complete(self) -> bool:
        """Synthesise the speech asked for since the last call; False when there was none."""
        if not self.missing:
            return False
        missing, self.missing = self.missing, {}
        total = self.made + len(set(missing.values()))  # texts a lexicon merges: one clip

        def clip_done(count: int) -> None:
            self.made += count
            self.on_clips(self.made, total)

        clips = synthesize_all(
            missing.values(),
            self.cache,
            workers=self.workers,
            on_clip=clip_done,
            on_warning=self._warn,
        )
        for said, request in missing.items():
            if request.key not in self.phrases:  # texts a lexicon merges: one clip
                known = _described(clips, request)
                reader = _reader(clips, request)
                self.audio.add_speech(request.key, known.size, reader, known.digest)
                self.phrases[request.key] = known.phrases
            self.requests[said] = request
        return True

    def _warn(self, warning: str) -> None:
        if warning not in self.warnings:  # each batch meets the same cache: told once a render
            self.warnings += (warning,)


def _level_key(keys: Sequence[str], digests: Sequence[bytes]) -> str:
    """What decides a voice's gain: the target, and its clips in order, each as it is."""
    made = hashlib.blake2b(json.dumps([LEVEL_FORMAT, SPEECH_LUFS]).encode(), digest_size=20)
    for key, digest in zip(keys, digests, strict=True):
        made.update(key.encode())
        made.update(digest)
    return made.hexdigest()


def _described(clips: Mapping[SpeechRequest, Clip], request: SpeechRequest) -> Known:
    """A clip's length, phrase marks and cache digest, without reading it where ``clips`` knows
    them (a test's mapping of clips has no digest: its voice is measured every time)."""
    if isinstance(clips, SpeechClips):
        return clips.known(request)
    clip = clips[request]
    return Known(int(clip.samples.size), clip.phrases, b"")
