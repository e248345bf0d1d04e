"""A piper voice's decoder run in windows of frames: a worker's memory flat in a sentence's length.

A piper (VITS) model ends in a HiFi-GAN decoder (its ``/dec/`` nodes) that turns the latent, 192
values a frame, into audio, 256 samples a frame (22 050 Hz). Run on a whole sentence, the
decoder's activations take about 240 kB a frame: a 10.6 s sentence took a worker from 213 to
423 MB, a 27 s one to 824 MB (measured on joe). So the model is split in memory into its front
(phonemes to latent, where the noise is drawn) and its decoder (latent to audio); a latent of more
than LARGEST frames is decoded in equal windows, each run given CONTEXT frames either side whose
samples are dropped (about 10 % more decoding for a long sentence). The decoder's convolutions
see 12 frames or less either side (measured on joe: windows with 12 frames of context give the
whole run's samples bit for bit, with 8 they differ by up to 1e-3), so the windows' samples are
the whole run's, and clips are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from generator.speech.neural import wire
from generator.speech.neural.wire import (
    FLOAT,
    GRAPH_INITIALIZER,
    GRAPH_INPUT,
    GRAPH_NODE,
    GRAPH_OUTPUT,
    MODEL_GRAPH,
)

DECODER = "/dec/"  # the decoder's nodes, as piper's exporter (torch.onnx) names them
RESHAPES = (b"Unsqueeze", b"Squeeze", b"Reshape", b"Identity")  # after the decoder: shape only
LARGEST = 256  # frames (3 s) decoded in one run at most: ~60 MB of activations and arena
CONTEXT = 16  # frames either side of a window: the decoder sees 12 (measured, above)
GRAPH_NAME = 2
TENSOR_NAME = 8  # TensorProto's name


@dataclass(frozen=True)
class SplitModel:
    front: bytes  # the model up to the latent, its only output (besides any noise outputs)
    decoder: bytes  # the latent to audio
    latent: str  # the tensor between them


@dataclass(frozen=True)
class _Graph:
    nodes: tuple[tuple[wire.Node, memoryview], ...]
    initializers: Mapping[str, memoryview]
    inputs: tuple[memoryview, ...]
    outputs: tuple[tuple[str, memoryview], ...]
    others: tuple[memoryview, ...]  # name, doc string, value infos: kept in the front


def split_model(model: bytes) -> SplitModel | None:
    """The model as front and decoder, or None when it is not a piper model whose decoder can be
    cut off this way (one tensor in; out, audio that the graph only reshapes into its output)."""
    pieces = list(wire.raw_fields(model))
    graphs = [value for number, _, value, _ in pieces if number == MODEL_GRAPH]
    if len(graphs) != 1:
        return None
    graph = _graph(graphs[0])
    decoder = [(node, raw) for node, raw in graph.nodes if node.name.startswith(DECODER)]
    cut = _cut(graph, [node for node, _ in decoder])
    if cut is None:
        return None
    latent, audio, tail = cut
    front = [(node, raw) for node, raw in graph.nodes if not set(node.outputs) & tail]
    header = [raw for number, _, _, raw in pieces if number != MODEL_GRAPH]
    front_graph: list[bytes | memoryview] = [
        *_with_initializers(graph, front),
        *graph.inputs,
        *graph.others,
        wire.bytes_field(GRAPH_OUTPUT, wire.value_info(latent, FLOAT, ["b", "c", "frames"])),
        *[raw for name, raw in graph.outputs if name not in tail],  # the noise used
    ]
    decoder_graph: list[bytes | memoryview] = [
        *_with_initializers(graph, decoder),
        wire.bytes_field(GRAPH_INPUT, wire.value_info(latent, FLOAT, ["b", "c", "frames"])),
        wire.bytes_field(GRAPH_OUTPUT, wire.value_info(audio, FLOAT, ["b", "c", "samples"])),
    ]
    return SplitModel(_model(header, front_graph), _model(header, decoder_graph), latent)


def _graph(data: memoryview) -> _Graph:
    nodes, initializers, inputs, outputs, others = [], {}, [], [], []
    for number, _, value, raw in wire.raw_fields(data):
        if number == GRAPH_NODE:
            nodes.append((wire.node(value), raw))
        elif number == GRAPH_INITIALIZER:
            initializers[_tensor_name(value)] = raw
        elif number == GRAPH_INPUT:
            inputs.append(raw)
        elif number == GRAPH_OUTPUT:
            outputs.append((_value_name(value), raw))
        else:
            others.append(raw)
    return _Graph(tuple(nodes), initializers, tuple(inputs), tuple(outputs), tuple(others))


def _cut(graph: _Graph, decoder: Sequence[wire.Node]) -> tuple[str, str, set[str]] | None:
    """(latent, audio, tail): the one tensor the decoder reads from the rest of the graph, the
    one it gives the rest, and every tensor made from it, which may only be reshaped into the
    graph's first output (not read by any other output: alignments)."""
    made = {o for node in decoder for o in node.outputs}
    latent = {i for node in decoder for i in node.inputs if i and i not in made}
    latent -= set(graph.initializers)
    tail, after = set(made), []
    for node, _ in graph.nodes:  # in order: an ONNX graph's nodes are sorted
        if set(node.inputs) & tail and not node.name.startswith(DECODER):
            after.append(node)
            tail.update(node.outputs)
    given = {i for node in after for i in node.inputs} & made
    if not decoder or not graph.outputs or len(latent) != 1 or len(given) != 1:
        return None
    if any(node.op_type not in RESHAPES for node in after):
        return None
    if graph.outputs[0][0] not in tail or any(name in tail for name, _ in graph.outputs[1:]):
        return None
    return latent.pop(), given.pop(), tail


def _with_initializers(
    graph: _Graph, nodes: Sequence[tuple[wire.Node, memoryview]]
) -> list[memoryview]:
    """The nodes' fields, and those of the initializers they read (each part its own weights)."""
    read = {i for node, _ in nodes for i in node.inputs}
    return [raw for _, raw in nodes] + [raw for n, raw in graph.initializers.items() if n in read]


def _model(header: Sequence[memoryview], graph: Sequence[bytes | memoryview]) -> bytes:
    size = sum(len(piece) for piece in graph)
    tag = wire.encode_varint(MODEL_GRAPH << 3 | 2) + wire.encode_varint(size)
    return b"".join([*header, tag, *graph])


def _tensor_name(tensor: memoryview) -> str:
    return next((bytes(v).decode() for n, _, v in wire.fields(tensor) if n == TENSOR_NAME), "")


def _value_name(value_info: memoryview) -> str:
    return next((bytes(v).decode() for n, _, v in wire.fields(value_info) if n == 1), "")


class WindowedSession:
    """The front and the decoder of a ``split_model``, used like the model's own session:
    ``run`` gives the audio, decoded in windows when the latent is long."""

    def __init__(self, front: Any, decoder: Any, latent: str) -> None:
        self.front = front
        self.decoder = decoder
        self.latent = latent
        self.runs = 0  # decoder runs, for tests: windows, not whole sentences

    def run(
        self, output_names: Sequence[str] | None, feeds: Mapping[str, Any], *args: Any
    ) -> list[Any]:
        latent = self.front.run([self.latent], feeds, *args)[0]
        return [self.decode(latent)]

    def decode(self, latent: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The audio of a latent (batch 1, channels, frames): in one run if it is short, else in
        equal windows, each run with CONTEXT frames either side (or the sentence's own edge) and
        no run longer than LARGEST frames."""
        frames = latent.shape[2]
        if frames <= LARGEST:
            return self._run(latent)
        count = -(-frames // (LARGEST - 2 * CONTEXT))
        size = -(-frames // count)
        return np.concatenate(
            [self._window(latent, start, size) for start in range(0, frames, size)], axis=-1
        )

    def _window(self, latent: np.ndarray[Any, Any], start: int, size: int) -> np.ndarray[Any, Any]:
        """The samples of frames start to start + size, decoded with their context."""
        frames = latent.shape[2]
        end = min(frames, start + size)
        first, last = max(0, start - CONTEXT), min(frames, end + CONTEXT)
        audio = self._run(latent[:, :, first:last])
        hop, rest = divmod(audio.shape[-1], last - first)
        if rest:
            raise ValueError(
                f"the decoder gave {audio.shape[-1]} samples for {last - first} frames"
            )
        return audio[..., (start - first) * hop : (end - first) * hop]

    def _run(self, latent: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        self.runs += 1
        feed = {self.latent: np.ascontiguousarray(latent)}
        return np.asarray(self.decoder.run(None, feed)[0])
