"""ONNX models at the level of protobuf's wire format: read a message's fields without
decoding the weights, and write the few messages a rewrite needs (field numbers from
``onnx.proto``), so that the ``onnx`` package is not needed. Used by ``noise.py`` and
``decoder.py``; nothing else here knows the format."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

FLOAT, INT64 = 1, 7  # onnx TensorProto data types
ATTR_INT = 2  # onnx AttributeProto's type of an int

# Field numbers of onnx.proto's messages.
MODEL_GRAPH = 7
GRAPH_NODE, GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_OUTPUT = 1, 5, 11, 12
NODE_INPUT, NODE_OUTPUT, NODE_NAME, NODE_OP_TYPE, NODE_ATTRIBUTE, NODE_DOMAIN = 1, 2, 3, 4, 5, 7
ATTR_NAME, ATTR_F, ATTR_I, ATTR_TYPE = 1, 2, 3, 20


@dataclass
class Node:
    name: str = ""
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    op_type: bytes = b""
    domain: bytes = b""
    attributes: dict[str, tuple[int, float]] = field(default_factory=dict)  # name: (i, f)


def node(data: memoryview) -> Node:
    """A NodeProto's name, inputs, outputs, operator and int or float attributes."""
    parsed = Node()
    for number, _, value in fields(data):
        if number == NODE_NAME:
            parsed.name = bytes(value).decode()
        elif number == NODE_INPUT:
            parsed.inputs.append(bytes(value).decode())
        elif number == NODE_OUTPUT:
            parsed.outputs.append(bytes(value).decode())
        elif number == NODE_OP_TYPE:
            parsed.op_type = bytes(value)
        elif number == NODE_DOMAIN:
            parsed.domain = bytes(value)
        elif number == NODE_ATTRIBUTE:
            name, i, f = "", 0, 0.0
            for a_number, _, a_value in fields(value):
                if a_number == ATTR_NAME:
                    name = bytes(a_value).decode()
                elif a_number == ATTR_I:
                    i = signed(int(a_value))
                elif a_number == ATTR_F:
                    f = struct.unpack("<f", bytes(a_value))[0]
            parsed.attributes[name] = (i, f)
    if parsed.domain not in (b"", b"ai.onnx"):
        parsed.op_type = b"?"  # another domain's operator of the same name: not one of these
    return parsed


def varint(data: memoryview | bytes, at: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, at


def raw_fields(data: memoryview | bytes) -> Iterator[tuple[int, int, Any, memoryview]]:
    """(field number, wire type, value, the field's bytes as stored) of a message."""
    view = memoryview(data)
    at = 0
    while at < len(view):
        start = at
        key, at = varint(view, at)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, at = varint(view, at)
        elif wire == 1:
            value, at = view[at : at + 8], at + 8
        elif wire == 2:
            length, at = varint(view, at)
            value, at = view[at : at + length], at + length
        elif wire == 5:
            value, at = view[at : at + 4], at + 4
        else:
            raise ValueError(f"not an ONNX model (protobuf wire type {wire})")
        if at > len(view):
            raise ValueError("not an ONNX model (truncated)")
        yield number, wire, value, view[start:at]


def fields(data: memoryview | bytes) -> Iterator[tuple[int, int, Any]]:
    for number, wire, value, _ in raw_fields(data):
        yield number, wire, value


def signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def encode_varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def bytes_field(number: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return encode_varint(number << 3 | 2) + encode_varint(len(data)) + data


def int_field(number: int, value: int) -> bytes:
    return encode_varint(number << 3) + encode_varint(value)


def node_bytes(
    op: str, inputs: list[str], outputs: list[str], name: str = "", **ints: int
) -> bytes:
    """A NodeProto; named after its first output unless given a name."""
    out = b"".join(bytes_field(NODE_INPUT, tensor) for tensor in inputs)
    out += b"".join(bytes_field(NODE_OUTPUT, tensor) for tensor in outputs)
    out += bytes_field(NODE_NAME, name or f"{outputs[0]}_node") + bytes_field(NODE_OP_TYPE, op)
    for attribute_name, value in ints.items():
        attribute = bytes_field(ATTR_NAME, attribute_name) + int_field(ATTR_I, value)
        out += bytes_field(NODE_ATTRIBUTE, attribute + int_field(ATTR_TYPE, ATTR_INT))
    return out


def constant(name: str, data_type: int, values: list[int] | list[float]) -> bytes:
    """A one-dimensional initializer (TensorProto: dims 1, data_type 2, name 8, raw_data 9)."""
    raw = struct.pack(f"<{len(values)}{'q' if data_type == INT64 else 'f'}", *values)
    tensor = int_field(1, len(values)) + int_field(2, data_type)
    tensor += bytes_field(8, name) + bytes_field(9, raw)
    return bytes_field(GRAPH_INITIALIZER, tensor)


def value_info(name: str, elem_type: int, dims: list[str]) -> bytes:
    """ValueInfoProto (name 1, type 2) of a tensor (TypeProto.tensor_type 1: elem_type 1,
    shape 2: TensorShapeProto dim 1: Dimension dim_param 2)."""
    shape = b"".join(bytes_field(1, bytes_field(2, dim)) for dim in dims)
    tensor = int_field(1, elem_type) + bytes_field(2, shape)
    return bytes_field(1, name) + bytes_field(2, bytes_field(1, tensor))
