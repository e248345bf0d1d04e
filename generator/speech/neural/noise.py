"""Reproducible noise for a piper voice in one long-lived onnxruntime session.

A piper (VITS) model draws Gaussian noise in the graph itself (``RandomNormalLike``: for the
rhythm, in the duration predictor, and for the timbre, in the latent), from generators that
onnxruntime seeds once, when it makes the session, and that run on from one call to the next. The
same text then came out differently after different clips, and a new session for each utterance
cost 0.12-0.5 s a clip.

So, once per process and model, the model is rewritten in memory:
each random node becomes a read of a new graph input, a one-dimensional buffer of noise, taken to
the size the node needs (``Size``; zeros past the buffer's end) and shaped like the node's input
(``Reshape``); the size the node needed is a new graph output. ``NoiseFedSession`` feeds each
buffer a window of a fixed pool of standard noise (made once a process, from a fixed seed), at a
place that depends on the seed (a phrase's: ``voices.PiperEngine.speak`` sets it for each phrase),
the call's place since it was set and the node alone:
a view, so a call costs no drawing and no copy. A node that needed more than a window holds (a
sentence of over a minute) is run again with noise drawn for it, to the size it reported.

The model is edited at the level of protobuf's wire format (``wire.py``), so the ``onnx`` package
is not needed. A model with random operators this does not handle
(``RandomNormal``, ``Bernoulli``…, or any inside a subgraph) gives None: the caller falls back to
a new session for each utterance.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from generator.speech.neural import wire
from generator.speech.neural.wire import (
    FLOAT,
    GRAPH_INPUT,
    GRAPH_NODE,
    GRAPH_OUTPUT,
    INT64,
    MODEL_GRAPH,
)

NOISE_PREFIX = "stillpoint_noise"
LIKE_OPS = {b"RandomNormalLike": "normal", b"RandomUniformLike": "uniform"}
OTHER_RANDOM_OPS = (b"RandomNormal", b"RandomUniform", b"Bernoulli", b"Multinomial")
SUBGRAPH_OPS = (b"If", b"Loop", b"Scan")
MARKERS = (b"Random", b"Bernoulli", b"Multinomial", *SUBGRAPH_OPS)  # a node to look into
# Each node reads a window of POOL values from a fixed pool of noise: the latent takes 192 values
# a frame, so this is a sentence of a minute, as piper speaks it (22 050 Hz, 256 samples a frame).
POOL = 1 << 20
POOL_SEED = 20  # the pool's, the same in every process


@dataclass(frozen=True)
class NoiseInput:
    """A random node turned into a graph input: its noise (a standard normal or uniform [0, 1)
    buffer) and the graph output that says how many values of it the call used."""

    name: str
    needed: str
    kind: str  # "normal" or "uniform"


@dataclass(frozen=True)
class FedModel:
    model: bytes  # the rewritten model, for onnxruntime.InferenceSession
    noise: tuple[NoiseInput, ...]


def fed_model(model: bytes) -> FedModel | None:
    """The model with its random nodes read from noise inputs; None when it has a random
    operator this cannot replace (or none at all: then it needs no seeding)."""
    pieces: list[bytes | memoryview] = []  # joined once: the weights are copied only once
    noise: tuple[NoiseInput, ...] = ()
    for number, _, value, raw in wire.raw_fields(model):
        if number != MODEL_GRAPH:
            pieces.append(raw)
            continue
        rewritten = _rewritten_graph(value)
        if rewritten is None:
            return None
        graph, noise = rewritten
        size = sum(len(piece) for piece in graph)
        pieces += [wire.encode_varint(MODEL_GRAPH << 3 | 2) + wire.encode_varint(size), *graph]
    return FedModel(b"".join(pieces), noise) if noise else None


def _rewritten_graph(
    graph: memoryview,
) -> tuple[list[bytes | memoryview], tuple[NoiseInput, ...]] | None:
    """The graph's fields with the random nodes replaced, and the noise inputs made."""
    out: list[bytes | memoryview] = []
    noise: list[NoiseInput] = []
    for number, _, value, raw in wire.raw_fields(graph):
        if number != GRAPH_NODE or not any(op in bytes(raw) for op in MARKERS):
            out.append(raw)  # the weights and most nodes: as they are, without decoding them
            continue
        node = wire.node(value)
        if node.op_type in LIKE_OPS:
            replaced = _replacement(node, len(noise))
            if replaced is None:
                return None
            nodes, constants, made = replaced
            out += [nodes, constants]
            noise.append(made)
        elif node.op_type in OTHER_RANDOM_OPS or _random_inside(node.op_type, value):
            return None
        else:
            out.append(raw)
    if not noise:
        return None
    out.append(wire.constant(f"{NOISE_PREFIX}_zero", INT64, [0]))
    out.append(wire.constant(f"{NOISE_PREFIX}_one", INT64, [1]))
    for made in noise:
        out.append(wire.bytes_field(GRAPH_INPUT, wire.value_info(made.name, FLOAT, ["noise"])))
        out.append(wire.bytes_field(GRAPH_OUTPUT, wire.value_info(made.needed, INT64, [])))
    return out, tuple(noise)


def _random_inside(op_type: bytes, node: memoryview) -> bool:
    """Whether a node with subgraphs (If, Loop, Scan) may have random operators in them."""
    return op_type in SUBGRAPH_OPS and any(
        op in bytes(node) for op in (*LIKE_OPS, *OTHER_RANDOM_OPS)
    )


def _replacement(node: wire.Node, index: int) -> tuple[bytes, bytes, NoiseInput] | None:
    """The nodes that read the noise in place of a Random*Like node, and their constants."""
    if len(node.inputs) != 1 or len(node.outputs) != 1:
        return None
    if node.attributes.get("dtype", (FLOAT, 0.0))[0] != FLOAT:
        return None  # a float16 or double model: not one piper makes
    kind = LIKE_OPS[node.op_type]
    p = f"{NOISE_PREFIX}{index}"
    made = NoiseInput(name=p, needed=f"{p}_needed", kind=kind)
    like, result = node.inputs[0], node.outputs[0]
    zero, one = f"{NOISE_PREFIX}_zero", f"{NOISE_PREFIX}_one"
    if kind == "normal":
        scale = node.attributes.get("scale", (0, 1.0))[1]
        offset = node.attributes.get("mean", (0, 0.0))[1]
    else:
        low = node.attributes.get("low", (0, 0.0))[1]
        high = node.attributes.get("high", (0, 1.0))[1]
        scale, offset = high - low, low
    plain = scale == 1.0 and offset == 0.0  # the noise as it is, standard
    shaped = result if plain else f"{p}_shaped"
    nodes = [  # the first Size(like) values of the buffer, zeros after its end, shaped like it
        wire.node_bytes("Size", [like], [made.needed]),
        wire.node_bytes("Reshape", [made.needed, one], [f"{p}_need"]),
        wire.node_bytes("Slice", [made.name, zero, f"{p}_need"], [f"{p}_taken"]),
        wire.node_bytes("Shape", [f"{p}_taken"], [f"{p}_have"]),
        wire.node_bytes("Sub", [f"{p}_need", f"{p}_have"], [f"{p}_short"]),
        wire.node_bytes("Concat", [zero, f"{p}_short"], [f"{p}_pads"], axis=0),
        wire.node_bytes("Pad", [f"{p}_taken", f"{p}_pads"], [f"{p}_flat"]),
        wire.node_bytes("Shape", [like], [f"{p}_shape"]),
        wire.node_bytes("Reshape", [f"{p}_flat", f"{p}_shape"], [shaped]),
    ]
    constants = b""
    if not plain:
        constants = wire.constant(f"{p}_scale", FLOAT, [scale])
        constants += wire.constant(f"{p}_offset", FLOAT, [offset])
        nodes.append(wire.node_bytes("Mul", [shaped, f"{p}_scale"], [f"{p}_scaled"]))
        nodes.append(wire.node_bytes("Add", [f"{p}_scaled", f"{p}_offset"], [result]))
    return b"".join(wire.bytes_field(GRAPH_NODE, n) for n in nodes), constants, made


class NoiseFedSession:
    """An onnxruntime session of a ``fed_model``, used like the model's own: ``run`` feeds the
    noise inputs from the seed set by ``reseed`` and returns the model's own outputs."""

    def __init__(self, session: Any, noise: Sequence[NoiseInput]) -> None:
        self.session = session
        self.noise = tuple(noise)
        self._outputs = [o.name for o in session.get_outputs() if not _is_noise(o.name)]
        self._seed = 0
        self._calls = 0
        self.reruns = 0  # calls run again for a node that needed more noise than POOL holds
        for made in self.noise:
            _pool(made.kind)  # made with the session, not in the first clip

    def reseed(self, seed: int) -> None:
        """The noise of the calls from here on starts from seed (a phrase's)."""
        self._seed, self._calls = seed, 0

    def get_inputs(self) -> list[Any]:
        return [i for i in self.session.get_inputs() if not _is_noise(i.name)]

    def get_outputs(self) -> list[Any]:
        return [o for o in self.session.get_outputs() if not _is_noise(o.name)]

    def run(
        self, output_names: Sequence[str] | None, feeds: Mapping[str, Any], *args: Any
    ) -> list[Any]:
        wanted = list(output_names) if output_names else self._outputs
        call = self._calls
        self._calls += 1
        noise = {n.name: self.window(n, call) for n in self.noise}
        while True:
            result = self.session.run(
                [*wanted, *(n.needed for n in self.noise)], {**feeds, **noise}, *args
            )
            used = result[len(wanted) :]
            short = [
                (n, int(size))
                for n, size in zip(self.noise, used, strict=True)
                if int(size) > noise[n.name].size
            ]
            if not short:
                return list(result[: len(wanted)])
            self.reruns += 1
            for n, size in short:
                noise[n.name] = self.drawn(n, call, size)

    def window(self, noise: NoiseInput, call: int) -> np.ndarray[Any, Any]:
        """The noise a node reads in a call: POOL values of the process's fixed pool, from a
        place that depends on the seed, the call and the node alone (a view: nothing copied)."""
        index = self.noise.index(noise)
        key = hashlib.blake2b(f"{self._seed},{call},{index}".encode(), digest_size=8).digest()
        start = int.from_bytes(key, "little") % POOL
        return _pool(noise.kind)[start : start + POOL]

    def drawn(self, noise: NoiseInput, call: int, size: int) -> np.ndarray[Any, Any]:
        """For a node that needs more than POOL values (a sentence of over a minute): its own
        ``size`` values, drawn from the seed, the call and the node."""
        generator = np.random.default_rng((self._seed, call, self.noise.index(noise)))
        return _draw(generator, noise.kind, size)


@functools.cache
def _pool(kind: str) -> np.ndarray[Any, Any]:
    """POOL values of standard noise, twice over, so that a window of POOL values may start
    anywhere in the first: the same on every run (a fixed seed)."""
    values = _draw(np.random.default_rng(POOL_SEED), kind, POOL)
    pool = np.concatenate([values, values])
    pool.flags.writeable = False
    return pool


def _draw(generator: np.random.Generator, kind: str, size: int) -> np.ndarray[Any, Any]:
    if kind == "normal":
        return generator.standard_normal(size, dtype=np.float32)
    return generator.random(size, dtype=np.float32)


def _is_noise(name: str) -> bool:
    return name.startswith(NOISE_PREFIX)
