#!/usr/bin/env python3
"""A small network for the perturbation methods' tests, exported twice with the same weights:

    python make_perturbation_model.py [--out tests/data/perturbation]

    model.onnx    x [N, 3, 24, 24] -> logits [N, 5]
    masked.onnx   (x, mask [N, 8, 6, 6]) -> logits: the layer L multiplied by `mask` before the rest runs

y = ReLU(conv(x)) [8, 12, 12]; L = ReLU(conv_s2(y)) [8, 6, 6] (value "layer"); z = ReLU(conv(L * mask) +
avgpool_2(y)) (a skip connection around L); logits = fc(GAP(z)). Channels 6 and 7 of L are dead (bias -100:
constant 0 after the ReLU), so the tests cover constant channels. masked.onnx is the independent reference for
Ablation-CAM and ReciproCAM: zeroing channel k, or masking positions, of L is a mask input, run in full.
"""
import argparse
import os

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, stride=2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, stride=2)
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(8, 5)
        with torch.no_grad():
            self.conv2.bias[6:] = -100.0

    def forward(self, x, mask=None):
        y = torch.relu(self.conv1(x))
        layer = torch.relu(self.conv2(y))
        if mask is not None:
            layer = layer * mask
        z = torch.relu(self.conv3(layer) + self.pool(y))
        return self.fc(z.mean(dim=(2, 3)))


class Plain(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="tests/data/perturbation")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(11)
    net = Net().eval()
    x = torch.randn(2, 3, 24, 24)
    mask = torch.ones(2, 8, 6, 6)
    torch.onnx.export(Plain(net), (x,), os.path.join(args.out, "model.onnx"), input_names=["x"],
                      output_names=["logits"], dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}}, opset_version=13)
    torch.onnx.export(net, (x, mask), os.path.join(args.out, "masked.onnx"), input_names=["x", "mask"],
                      output_names=["logits"], dynamic_axes={"x": {0: "N"}, "mask": {0: "N"}, "logits": {0: "N"}},
                      opset_version=13)
    with torch.no_grad():
        assert torch.allclose(net(x), net(x, mask))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
