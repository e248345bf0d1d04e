"""neural/noise.py: random nodes become noise inputs, fed from a seed; on small models made here
and on the bundled piper voice."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import onnxruntime
import pytest

from generator.speech.neural import noise as piper_noise
from generator.speech.neural.noise import (
    FedModel,
    NoiseFedSession,
    fed_model,
)
from generator.speech.neural.wire import bytes_field, int_field, node_bytes, value_info
from generator.speech.voices import bundled_piper_voices

FLOAT = 1


def _attribute(name: str, value: float | int) -> bytes:
    """An AttributeProto: a float (f 2, type FLOAT 1) or an int (i 3, type INT 2)."""
    out = bytes_field(1, name)
    if isinstance(value, float):
        out += _encode_float_field(2, value) + int_field(20, 1)
    else:
        out += int_field(3, value) + int_field(20, 2)
    return out


def _encode_float_field(number: int, value: float) -> bytes:
    return bytes([number << 3 | 5]) + np.float32(value).tobytes()


def _model(*nodes: tuple[str, list[str], list[str], dict[str, float | int]]) -> bytes:
    """A model (opset 15) of x, float [3, 4], and these nodes, whose outputs y and u it gives."""
    graph = b""
    for op, inputs, outputs, attributes in nodes:
        node = node_bytes(op, inputs, outputs)
        for name, value in attributes.items():
            node += bytes_field(5, _attribute(name, value))
        graph += bytes_field(1, node)
    graph += bytes_field(2, "test")
    graph += bytes_field(11, value_info("x", FLOAT, ["3", "4"]))
    for output in ("y", "u"):
        graph += bytes_field(12, value_info(output, FLOAT, []))
    opset = bytes_field(1, "") + int_field(2, 15)
    return int_field(1, 8) + bytes_field(8, opset) + bytes_field(7, graph)


RANDOM_MODEL = _model(
    ("RandomNormalLike", ["x"], ["n"], {"dtype": 1, "mean": 5.0, "scale": 2.0}),
    ("Add", ["x", "n"], ["y"], {}),
    ("RandomUniformLike", ["x"], ["u"], {"low": -1.0, "high": 1.0}),
)


def _session(fed: FedModel) -> NoiseFedSession:
    session = onnxruntime.InferenceSession(fed.model, providers=["CPUExecutionProvider"])
    return NoiseFedSession(session, fed.noise)


def test_random_nodes_become_inputs_of_noise_fed_from_the_seed() -> None:
    fed = fed_model(RANDOM_MODEL)
    assert fed is not None
    assert [(n.name, n.kind) for n in fed.noise] == [
        ("stillpoint_noise0", "normal"),
        ("stillpoint_noise1", "uniform"),
    ]
    session = _session(fed)
    assert [i.name for i in session.get_inputs()] == ["x"]  # as the model's own, to piper
    assert [o.name for o in session.get_outputs()] == ["y", "u"]
    x = np.zeros((3, 4), dtype=np.float32)
    session.reseed(11)
    first = session.run(None, {"x": x})
    second = session.run(None, {"x": x})  # the next call in the utterance: other noise
    session.reseed(11)
    again = session.run(None, {"x": x})
    assert [a.tobytes() for a in again] == [f.tobytes() for f in first]
    assert first[0].tobytes() != second[0].tobytes()
    normal, uniform = (session.window(n, 0)[:12].reshape(3, 4) for n in fed.noise)
    np.testing.assert_allclose(first[0], normal * 2 + 5, rtol=1e-6)  # mean and scale kept
    np.testing.assert_allclose(first[1], uniform * 2 - 1, rtol=1e-6)  # low and high kept
    assert session.reruns == 0


def test_a_node_that_needs_more_than_a_window_gets_its_own_noise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fed = fed_model(RANDOM_MODEL)
    assert fed is not None
    session = _session(fed)
    monkeypatch.setattr(piper_noise, "POOL", 8)  # windows of 8 values: x needs 12
    session.reseed(3)
    y, _ = session.run(["y", "u"], {"x": np.zeros((3, 4), dtype=np.float32)})
    assert session.reruns == 1
    np.testing.assert_allclose(y, session.drawn(fed.noise[0], 0, 12).reshape(3, 4) * 2 + 5)


def test_models_with_other_random_operators_or_none_are_left_alone() -> None:
    shaped = _model(("RandomNormal", [], ["y"], {"dtype": 1}), ("Identity", ["x"], ["u"], {}))
    assert fed_model(shaped) is None  # the caller makes a new session for each utterance
    plain = _model(("Identity", ["x"], ["y"], {}), ("Identity", ["x"], ["u"], {}))
    assert fed_model(plain) is None  # nothing random: nothing to seed


def test_the_pool_is_standard_noise_the_same_in_every_process() -> None:
    pool = piper_noise._pool("normal")
    assert pool.size == 2 * piper_noise.POOL
    assert pool[: piper_noise.POOL].tobytes() == pool[piper_noise.POOL :].tobytes()
    assert abs(float(pool.mean())) < 0.01
    assert float(pool.std()) == pytest.approx(1.0, abs=0.01)
    expected = np.random.default_rng(piper_noise.POOL_SEED).standard_normal(4, dtype=np.float32)
    assert pool[:4].tobytes() == expected.tobytes()


def test_the_bundled_voice_reads_noise_of_the_shapes_it_needs() -> None:
    from piper import PiperVoice
    from piper.config import PiperConfig

    model, config = bundled_piper_voices()["joe"]
    fed = fed_model(model.read_bytes())
    assert fed is not None
    assert len(fed.noise) == 2  # the duration predictor's and the latent's RandomNormalLike
    raw: Any = onnxruntime.InferenceSession(fed.model, providers=["CPUExecutionProvider"])
    voice = PiperVoice(
        session=NoiseFedSession(raw, fed.noise),
        config=PiperConfig.from_dict(json.loads(config.read_text())),
    )
    ids = voice.phonemes_to_ids(voice.phonemize("Let the hips be heavy.")[0])
    feeds = {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array([0.667, 1.0, 0.8], dtype=np.float32),
    }
    audio, durations, latent = raw.run(
        None, {**feeds, **{n.name: voice.session.window(n, 0) for n in fed.noise}}
    )
    frames = audio.size // voice.config.hop_length
    assert audio.size == frames * voice.config.hop_length
    assert int(durations) == 2 * len(ids)  # [1, 2, phoneme ids]
    assert int(latent) == 192 * frames  # [1, 192 channels, frames]
