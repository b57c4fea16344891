#!/usr/bin/env python3
"""Gradient goldens for glassbox's backward pass: PyTorch autograd in float64 on exactly the ONNX graph.

    python make_gradient_goldens.py [--models tests/data/models] [--out tests/data/gradients]

For each small test model (tests/data/models/<name>, made by make_model_goldens.py) the graph runs in
onnx_torch.OnnxNet (one torch.nn.functional call per ONNX node, checked here against onnxruntime) with its
weights and input (test_data_set_0, batch 2) in float64. L = sum_n logits[n, c_n] with the fixed classes
c_n = (3 n + 1) mod classes; the files hold dL/d(input) and dL/d(layer), the layer being the input of the last
GlobalAveragePool (the last 4-D activation, where Grad-CAM looks):

    OUT/<name>/layer.txt          the layer's ONNX value name
    OUT/<name>/float32_error.txt  PyTorch's own float32 autograd against these (layer, input; relative to the max)
    OUT/<name>/grad_input.pb      float32 TensorProto [2, 3, 64, 64]
    OUT/<name>/grad_layer.pb      float32 TensorProto, the layer's shape
"""
import argparse
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper

from onnx_torch import OnnxNet


def classes_for(batch, classes):
    return [(3 * n + 1) % classes for n in range(batch)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="tests/data/models")
    ap.add_argument("--out", default="tests/data/gradients")
    args = ap.parse_args()
    for name in sorted(os.listdir(args.models)):
        path = os.path.join(args.models, name, "model.onnx")
        if not os.path.exists(path):
            continue
        graph = onnx.load(path).graph
        pools = [n for n in graph.node if n.op_type == "GlobalAveragePool"]
        if not pools:
            print("%s: no GlobalAveragePool, skipped" % name)
            continue
        layer = pools[-1].input[0]
        x = onnx.TensorProto()
        with open(os.path.join(args.models, name, "test_data_set_0", "input_0.pb"), "rb") as f:
            x.ParseFromString(f.read())
        x = numpy_helper.to_array(x).copy()
        try:
            net = OnnxNet(path).double()
        except NotImplementedError as e:  # an operator the interpreter lacks
            print("%s: skipped (%s)" % (name, e))
            continue
        # The interpreter against onnxruntime, float32, before trusting its gradients.
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        ref = sess.run(None, {sess.get_inputs()[0].name: x})[0]
        with torch.no_grad():
            got = OnnxNet(path)(torch.from_numpy(x)).numpy()
        diff = float(np.abs(got - ref).max())
        assert diff < 1e-4, "%s: interpreter differs from onnxruntime by %g" % (name, diff)

        def gradients(model, dtype):
            inp = torch.from_numpy(x).to(dtype).requires_grad_(True)
            logits, kept = model(inp, retain=(layer,))
            cls = classes_for(logits.shape[0], logits.shape[1])
            sum(logits[n, c] for n, c in enumerate(cls)).backward()
            return inp, kept

        inp, kept = gradients(net, torch.float64)
        # PyTorch's own float32 autograd against float64: how well-conditioned these gradients are in float32
        # (deep networks: ReLU/clip masks flip where pre-activations round across 0); the test allows twice this.
        inp32, kept32 = gradients(OnnxNet(path), torch.float32)
        rel = lambda a, b: float((a.double() - b).abs().max() / b.abs().max())
        f32 = (rel(kept32[layer].grad, kept[layer].grad), rel(inp32.grad, inp.grad))
        out = os.path.join(args.out, name)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "layer.txt"), "w") as f:
            f.write(layer + "\n")
        with open(os.path.join(out, "float32_error.txt"), "w") as f:
            f.write("%.3e %.3e\n" % f32)  # layer, input: PyTorch float32 autograd vs float64
        for fname, g in (("grad_input.pb", inp.grad), ("grad_layer.pb", kept[layer].grad)):
            t = numpy_helper.from_array(g.numpy().astype(np.float32), fname[:-3])
            with open(os.path.join(out, fname), "wb") as f:
                f.write(t.SerializeToString())
        print("%s: layer %s %s, interpreter vs onnxruntime %.1e, PyTorch float32 vs float64: layer %.1e, input %.1e"
              % (name, layer, list(kept[layer].shape), diff, f32[0], f32[1]))


if __name__ == "__main__":
    main()
