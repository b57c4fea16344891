#!/usr/bin/env python3
"""Goldens for the pixel-space backward rules (glassbox's kernels::BackwardRule: gradient, Deconvnet, guided
backpropagation): float64 PyTorch autograd on exactly the ONNX graph, with each rectifier's backward replaced by
the rule (backward_rules.Rectifier, written from the papers' definitions).

    python make_pixel_goldens.py [--out tests/data/pixel]

OUT/rectifiers/model.onnx   a small network with ReLU, ReLU6 (Clip) and LeakyReLU(0.1) and a max pool, made here
OUT/<name>/input.pb         the input [2, 3, H, W]
OUT/<name>/grad_<rule>.pb   d(sum_n logits[n, c_n]) / d input under the rule, c_n = (3n + 1) mod classes
OUT/<name>/float32_error.txt  PyTorch's own float32 run of each rule against float64 (relative to the max)

for `rectifiers` and for tests/data/models/resnet_basic (resnet18's structure; its input test_data_set_0); with
--full MODEL.onnx, for that full-size model alone (make full-models: build/models/full-pixel/resnet18).
"""
import argparse
import os

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from onnx_torch import OnnxNet

RULES = ("gradient", "deconvnet", "guided")


class Rectifiers(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 6, 3, padding=1)
        self.c2 = nn.Conv2d(6, 8, 3, stride=2, padding=1)
        self.c3 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = torch.clamp(self.c2(x), 0.0, 6.0)  # ReLU6, exported as Clip
        x = nn.functional.max_pool2d(x, 2)
        x = nn.functional.leaky_relu(self.c3(x), 0.1)
        return self.fc(x.mean(dim=(2, 3)))


def save(path, array, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.asarray(array, dtype=np.float32), name).SerializeToString())


def goldens(model_path, x, out):
    os.makedirs(out, exist_ok=True)
    save(os.path.join(out, "input.pb"), x, "input")
    errors = []
    for rule in RULES:
        grads = {}
        for dtype in (torch.float64, torch.float32):
            net = OnnxNet(model_path, rule=rule).to(dtype)
            inp = torch.from_numpy(x).to(dtype).requires_grad_(True)
            logits = net(inp)
            n_cls = logits.shape[1]
            sum(logits[n, (3 * n + 1) % n_cls] for n in range(logits.shape[0])).backward()
            grads[dtype] = inp.grad.double()
        ref = grads[torch.float64]
        errors.append(float((grads[torch.float32] - ref).abs().max() / ref.abs().max()))
        save(os.path.join(out, "grad_%s.pb" % rule), ref.numpy(), "grad_" + rule)
    with open(os.path.join(out, "float32_error.txt"), "w") as f:
        f.write(" ".join("%.3e" % e for e in errors) + "\n")  # gradient, deconvnet, guided
    print(out, dict(zip(RULES, ["%.1e" % e for e in errors])))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="tests/data/pixel")
    ap.add_argument("--models", default="tests/data/models")
    ap.add_argument("--full", help="a full-size model.onnx (224x224): only its goldens, into --out, input randn seed 5")
    args = ap.parse_args()
    if args.full:
        torch.manual_seed(5)
        goldens(args.full, torch.randn(2, 3, 224, 224).numpy(), args.out)
        return
    torch.manual_seed(3)
    rect = os.path.join(args.out, "rectifiers")
    os.makedirs(rect, exist_ok=True)
    x = torch.randn(2, 3, 16, 16)
    torch.onnx.export(Rectifiers().eval(), (x,), os.path.join(rect, "model.onnx"), input_names=["x"],
                      output_names=["logits"], dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}}, opset_version=13)
    goldens(os.path.join(rect, "model.onnx"), x.numpy(), rect)
    resnet = os.path.join(args.models, "resnet_basic")
    t = onnx.TensorProto()
    with open(os.path.join(resnet, "test_data_set_0", "input_0.pb"), "rb") as f:
        t.ParseFromString(f.read())
    goldens(os.path.join(resnet, "model.onnx"), numpy_helper.to_array(t).copy(), os.path.join(args.out, "resnet_basic"))


if __name__ == "__main__":
    main()
