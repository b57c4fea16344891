#!/usr/bin/env python3
"""Hostile inputs for tests/tools/test_cli_hostile.sh, made from nothing but this script (numpy, onnx; the light
build/venv has both) and tests/data/perturbation/model.onnx:

    build/venv/bin/python tests/data/hostile/make_hostile_inputs.py [--out tests/data/hostile]

    tall.png          a valid 1 x 20000 gray PNG (161 bytes): resized to 256 on its shorter side it would be
                      256 x 5120000 pixels
    huge_header.png   the signature and IHDR of a 20000 x 20000 RGB PNG, then one empty IDAT: its header alone says
                      it is too large
    nan.onnx          x [N, 3, 24, 24] -> Conv -> GlobalAveragePool -> Flatten -> Sqrt(y - 1e6): NaN logits [N, 4],
                      the first NaN made by the Sqrt
    labels_abs.onnx   the perturbation model with metadata glassbox.labels = /etc/passwd
    labels_up.onnx    ... glassbox.labels = ../../../../etc/passwd
    preprocess_zero.onnx  ... glassbox.preprocess = "resize=0;crop=0"
"""
import argparse
import os
import struct
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width: int, height: int, color_type: int, rows) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    idat = zlib.compress(rows, 9) if rows is not None else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def nan_model() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(4, np.float32), "b")
    big = numpy_helper.from_array(np.array([1e6], np.float32), "big")
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["conv"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["conv"], ["pool"], name="pool"),
        helper.make_node("Flatten", ["pool"], ["flat"], name="flat"),
        helper.make_node("Sub", ["flat", "big"], ["shifted"], name="shift"),
        helper.make_node("Sqrt", ["shifted"], ["logits"], name="sqrt"),
    ]
    graph = helper.make_graph(nodes, "nan", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 24, 24])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 4])], [w, b, big])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_hostile_inputs")
    m.ir_version = 8
    return m


def with_metadata(key: str, value: str) -> onnx.ModelProto:
    m = onnx.load(os.path.join(HERE, "..", "perturbation", "model.onnx"))
    del m.metadata_props[:]
    m.metadata_props.add(key=key, value=value)
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=HERE)
    out = ap.parse_args().out
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tall.png"), "wb") as f:
        f.write(png(1, 20000, 0, b"\x00\x80" * 20000))  # filter byte 0, one gray pixel per row
    with open(os.path.join(out, "huge_header.png"), "wb") as f:
        f.write(png(20000, 20000, 2, None))
    onnx.save(nan_model(), os.path.join(out, "nan.onnx"))
    onnx.save(with_metadata("glassbox.labels", "/etc/passwd"), os.path.join(out, "labels_abs.onnx"))
    onnx.save(with_metadata("glassbox.labels", "../../../../etc/passwd"), os.path.join(out, "labels_up.onnx"))
    onnx.save(with_metadata("glassbox.preprocess", "resize=0;crop=0"), os.path.join(out, "preprocess_zero.onnx"))
    for name in sorted(os.listdir(out)):
        print(name, os.path.getsize(os.path.join(out, name)))


if __name__ == "__main__":
    main()
