"""neural/decoder.py: a piper model split at its decoder, the latent decoded in windows that give
the whole run's samples, and a worker's memory flat in a sentence's length."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import onnxruntime
import pytest

from generator.speech.neural.decoder import CONTEXT, LARGEST, WindowedSession, split_model
from generator.speech.neural.wire import bytes_field, int_field, node_bytes, value_info
from generator.speech.voices import bundled_piper_voices

HOP = 4  # samples a frame of the stand-in decoder
REACH = 12  # frames either side the stand-in decoder sees, as joe's does
LONG = (
    "Let the breath settle, and as you breathe out, let the weight of the hips sink a little "
    "further into the floor beneath you, noticing the places that hold on, and the places that "
    "have already begun to soften and let go, without any need to change a thing."
)


class _Convolving:
    """A stand-in decoder: each frame's sum over its channels, smoothed over REACH frames either
    side (zeros past the edges, as a convolution pads), HOP samples a frame."""

    def __init__(self) -> None:
        self.frames: list[int] = []

    def run(self, names: Any, feeds: dict[str, np.ndarray[Any, Any]]) -> list[Any]:
        latent = feeds["z"]
        self.frames.append(latent.shape[2])
        kernel = np.arange(1, 2 * REACH + 2, dtype=np.float64)
        smoothed = np.convolve(latent[0].sum(axis=0), kernel, mode="same")
        return [np.repeat(smoothed, HOP)[np.newaxis, np.newaxis]]


@pytest.mark.parametrize("frames", [1, LARGEST, LARGEST + 1, 3 * LARGEST + 17, 2000])
def test_windows_give_the_whole_runs_samples_in_runs_no_longer_than_largest(frames: int) -> None:
    latent = np.random.default_rng(frames).standard_normal((1, 3, frames))
    stand_in = _Convolving()
    windowed = WindowedSession(front=None, decoder=stand_in, latent="z").decode(latent)
    whole = _Convolving().run(None, {"z": latent})[0]
    assert windowed.tobytes() == whole.tobytes()
    assert max(stand_in.frames) <= LARGEST
    assert sum(stand_in.frames) <= frames * 1.2  # context is the only work added
    if frames > LARGEST:
        assert len(stand_in.frames) == -(-frames // (LARGEST - 2 * CONTEXT))


def _graph_model(nodes: list[tuple[str, str, list[str], list[str]]], outputs: list[str]) -> bytes:
    """A model (opset 15) of input x, float [1, 2, frames], with these named nodes."""
    graph = b""
    for name, op, inputs, made in nodes:
        graph += bytes_field(1, node_bytes(op, inputs, made, name=name))
    graph += bytes_field(11, value_info("x", 1, ["1", "2", "frames"]))
    for output in outputs:
        graph += bytes_field(12, value_info(output, 1, []))
    opset = bytes_field(1, "") + int_field(2, 15)
    return int_field(1, 8) + bytes_field(8, opset) + bytes_field(7, graph)


def test_a_model_is_cut_where_its_decoder_begins_and_runs_the_same() -> None:
    model = _graph_model(
        [
            ("/enc/Relu", "Relu", ["x"], ["h"]),
            ("/Neg", "Neg", ["h"], ["z"]),
            ("/dec/Abs", "Abs", ["z"], ["a"]),
            ("/dec/Tanh", "Tanh", ["a"], ["t"]),
            ("/Identity", "Identity", ["t"], ["output"]),
        ],
        ["output"],
    )
    split = split_model(model)
    assert split is not None
    assert split.latent == "z"
    front = onnxruntime.InferenceSession(split.front, providers=["CPUExecutionProvider"])
    back = onnxruntime.InferenceSession(split.decoder, providers=["CPUExecutionProvider"])
    whole = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    x = np.linspace(-1, 1, 2 * 40, dtype=np.float32).reshape(1, 2, 40)
    assert [o.name for o in front.get_outputs()] == ["z"]
    session = WindowedSession(front, back, "z")
    assert session.run(None, {"x": x})[0].tobytes() == whole.run(None, {"x": x})[0].tobytes()


def test_models_it_cannot_cut_are_left_whole() -> None:
    no_decoder = _graph_model([("/enc/Relu", "Relu", ["x"], ["output"])], ["output"])
    assert split_model(no_decoder) is None
    two_inputs = _graph_model(
        [
            ("/enc/Relu", "Relu", ["x"], ["z"]),
            ("/dec/Add", "Add", ["z", "x"], ["output"]),
        ],
        ["output"],
    )
    assert split_model(two_inputs) is None  # the decoder reads more than the latent
    alignments = _graph_model(
        [
            ("/enc/Relu", "Relu", ["x"], ["z"]),
            ("/dec/Tanh", "Tanh", ["z"], ["output"]),
            ("/Abs", "Abs", ["output"], ["more"]),
        ],
        ["output", "more"],
    )
    assert split_model(alignments) is None  # another output made from the audio


def test_the_bundled_voice_decodes_a_long_sentence_in_windows_bit_for_bit() -> None:
    from piper import PiperVoice
    from piper.config import PiperConfig

    model, config = bundled_piper_voices()["joe"]
    raw = model.read_bytes()
    split = split_model(raw)
    assert split is not None
    assert split.latent == "/Mul_7_output_0"
    options = {"providers": ["CPUExecutionProvider"]}
    whole = onnxruntime.InferenceSession(raw, **options)
    front = onnxruntime.InferenceSession(split.front, **options)
    session = WindowedSession(front, onnxruntime.InferenceSession(split.decoder, **options), "z")
    session.latent = split.latent
    voice = PiperVoice(session=whole, config=PiperConfig.from_dict(json.loads(config.read_text())))
    ids = voice.phonemes_to_ids(voice.phonemize(LONG)[0])
    feeds = {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32),  # no noise: the same each run
    }
    windowed = session.run(None, feeds)[0]
    assert session.runs >= 3  # about 10 s of speech: several windows
    assert windowed.squeeze().tobytes() == whole.run(None, feeds)[0].squeeze().tobytes()


MEMORY = """
import sys
from generator.speech.voices import PiperEngine
engine = PiperEngine()
engine.speak(["Rest here."], "piper:joe", 0.45, 1)
def peak():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
before = peak()
engine.speak([sys.argv[1]], "piper:joe", 0.45, 2)
print(peak() - before)
"""


def test_a_workers_memory_does_not_grow_with_a_sentences_length() -> None:
    """A 27 s sentence took a worker 560 MB above a short one when decoded whole (measured);
    in windows, what it adds is about one window's activations."""
    added = subprocess.run(
        [sys.executable, "-c", MEMORY, f"{LONG} {LONG}"], capture_output=True, text=True, check=True
    )
    assert int(added.stdout) / 1024 < 120  # MB above a short sentence's peak
