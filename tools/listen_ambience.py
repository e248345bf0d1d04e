"""Write the ambience beds as WAV files to listen to: `python tools/listen_ambience.py [FOLDER]`.

Each bed is written as two passes of its loop, so the seam is heard at the middle (LOOP_SECONDS);
``ducked.wav`` is the ocean under made-up speech with the session fades, and ``--file SOUND``
adds a user's file made into a loop the same way (its seam at the middle too).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from generator.base.samples import SAMPLE_RATE
from generator.files.wav import write_wav
from generator.sound.ambience import (
    BEDS,
    bed_block,
    bed_loop,
    duck_gain,
    fade_gain,
    load_bed,
    looped,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=Path("output/ambience"))
    parser.add_argument("--file", type=Path, help="a sound file to loop as a bed as well")
    arguments = parser.parse_args()
    folder: Path = arguments.folder
    folder.mkdir(parents=True, exist_ok=True)
    for name in BEDS:
        began = time.perf_counter()
        loop = bed_loop(name)
        built = time.perf_counter() - began
        write_wav(folder / f"{name}.wav", bed_block(name, 0, 2 * loop.size), SAMPLE_RATE)
        print(f"{name}: built in {built:.2f} s, seam at {loop.size / SAMPLE_RATE:.1f} s")
    length = 90 * SAMPLE_RATE
    speech = [(s * SAMPLE_RATE, (s + 4) * SAMPLE_RATE) for s in (10, 16, 40, 70)]
    gain = duck_gain(length, speech, 12.0, 0.5, 1.5) * fade_gain(length, length, 5.0, 8.0)
    write_wav(folder / "ducked.wav", bed_block("ocean", 0, length) * gain, SAMPLE_RATE)
    print("ducked: the ocean ducked 12 dB for speech at 10, 16, 40 and 70 s (4 s each)")
    if arguments.file is not None:
        loop = load_bed(arguments.file)
        write_wav(folder / "file.wav", looped(loop, 0, 2 * loop.size), SAMPLE_RATE)
        rms = 10 * np.log10(np.mean(np.square(loop, dtype=np.float64)))
        print(f"file: loop of {loop.size / SAMPLE_RATE:.1f} s at {rms:.1f} dBFS RMS")
    print(f"written to {folder}")


if __name__ == "__main__":
    main()
