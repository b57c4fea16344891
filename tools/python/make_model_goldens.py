#!/usr/bin/env python3
"""Generate glassbox's small whole-model golden test cases.

    python make_model_goldens.py [--out tests/data/models] [--only NAME]

Small variants of torchvision's own model classes, with random weights
(torch.manual_seed; every nn.Linear re-initialized with its own default
init), random BatchNorm affine parameters and randomized BatchNorm running
statistics (measured on random batches, then perturbed; see
randomize_batchnorm), so BatchNorm is not an identity, put in eval mode and exported
with PyTorch's TorchScript-based ONNX exporter (dynamo=False). The batch
axis is dynamic: input "input" [N,3,H,W], output "logits" [N,10].

Layout per model (the ONNX backend-test layout):

    OUT/<name>/model.onnx
    OUT/<name>/test_data_set_0/{input_0,output_0}.pb   batch 2
    OUT/<name>/test_data_set_1/{input_0,output_0}.pb   batch 1

Inputs are float32 standard normal (seed 0 for set 0, seed 1 for set 1).
Expected outputs are onnxruntime's (CPU, all graph optimizations off, one
thread); the script fails unless they match the PyTorch model's own output
to 1e-4 (absolute, scaled by max|logits| where that exceeds 1).

Needs torch and torchvision besides numpy/onnx/onnxruntime (see
requirements-dev.txt).
"""

import argparse
import os
import shutil
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from onnx import numpy_helper
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

TOLERANCE = 1e-4


def randomize_batchnorm(model, gen, size, batches=2, batch=8):
    """Give every BatchNorm layer random affine parameters and random,
    realistic running statistics.

    Statistics drawn independently of the data make the activations of a
    deep random net shrink until the logits no longer depend on the input.
    So the running stats are first measured on random normal batches (in
    train mode, cumulative average) and then perturbed at random: mean +=
    0.1*std*N(0,1), var *= exp(U(-0.3, 0.3)). BatchNorm is thus never an
    identity, yet activations stay O(1) and input dependent."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    with torch.no_grad():
        for m in bns:
            n = m.num_features
            if m.affine:
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)  # [0.5, 1.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.2)
            m.reset_running_stats()
            m.momentum = None  # cumulative moving average
        model.train()
        for _ in range(batches):
            model(torch.randn(batch, 3, size, size, generator=gen))
        model.eval()
        for m in bns:
            n = m.num_features
            m.momentum = 0.1
            m.running_mean.add_(torch.randn(n, generator=gen) * 0.1 * m.running_var.sqrt())
            m.running_var.mul_(torch.exp(torch.rand(n, generator=gen) * 0.6 - 0.3))


class PoolThenView(nn.Module):
    """Global average pool followed by x.view(x.size(0), -1), the classic
    (pre-torch.flatten) classifier head. With a dynamic batch axis the exporter
    writes it as Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""

    def forward(self, x):
        x = F.adaptive_avg_pool2d(x, 1)
        return x.view(x.size(0), -1)


def resnet_basic():
    m = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10)
    m.layer4 = nn.Identity()
    m.avgpool = PoolThenView()
    m.fc = nn.Linear(256, 10)
    return m


def resnet_bottleneck():
    m = ResNet(Bottleneck, [1, 1, 1, 1], num_classes=10, width_per_group=8)
    m.layer3 = nn.Identity()
    m.layer4 = nn.Identity()
    m.fc = nn.Linear(512, 10)
    return m


# name, constructor, opset, do_constant_folding, input H=W, what it covers
MODELS = [
    ("resnet_basic", resnet_basic, 11, False, 64,
     "ResNet(BasicBlock,[1,1,1,1]), layer4=Identity, fc=Linear(256,10), avgpool replaced by "
     "pool+view(N,-1); unfolded: explicit BatchNormalization, Identity, Shape/Gather/Unsqueeze/"
     "Concat/Reshape"),
    ("resnet_bottleneck", resnet_bottleneck, 16, True, 64,
     "ResNet(Bottleneck,[1,1,1,1],width_per_group=8), layer3=layer4=Identity, fc=Linear(512,10); "
     "BatchNorm folded into Conv"),
    ("mobilenet_v2", lambda: torchvision.models.mobilenet_v2(width_mult=0.35, num_classes=10), 12, True, 64,
     "mobilenet_v2(width_mult=0.35): depthwise Conv, ReLU6 as Clip(min,max from Constant nodes)"),
    ("mobilenet_v3_small", lambda: torchvision.models.mobilenet_v3_small(width_mult=0.5, num_classes=10),
     13, True, 64,
     "mobilenet_v3_small(width_mult=0.5): opset 13, so Hardswish is HardSigmoid+Mul; SE blocks"),
    ("mobilenet_v3_large", lambda: torchvision.models.mobilenet_v3_large(
        width_mult=0.35, reduced_tail=True, num_classes=10), 17, True, 64,
     "mobilenet_v3_large(width_mult=0.35, reduced_tail=True): HardSwish op, 5x5 depthwise, SE"),
    ("densenet", lambda: torchvision.models.DenseNet(growth_rate=8, block_config=(2, 2, 2, 2),
                                                     num_init_features=16, num_classes=10), 15, True, 64,
     "DenseNet(growth_rate=8, block_config=(2,2,2,2), num_init_features=16): BN before Conv "
     "(not foldable), Concat, AveragePool"),
    ("squeezenet1_1", lambda: torchvision.models.squeezenet1_1(num_classes=10), 14, True, 64,
     "squeezenet1_1: MaxPool ceil_mode=1, Concat, no Gemm (conv classifier)"),
]


def run_ort(path, x):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1  # reproducible summation order
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})


def export(model, path, size, opset, fold, batch=2):
    dummy = torch.zeros(batch, 3, size, size)
    torch.onnx.export(model, dummy, path, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      opset_version=opset, do_constant_folding=fold, dynamo=False)
    onnx.checker.check_model(onnx.load(path), full_check=True)


def write_set(case_dir, idx, x, y):
    d = os.path.join(case_dir, "test_data_set_%d" % idx)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x, "input").SerializeToString())
    with open(os.path.join(d, "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(y, "logits").SerializeToString())


def make_case(out, name, build, opset, fold, size, seed, batches, tol=TOLERANCE):
    """Build, export, run and write one model. Returns (max |ORT-PyTorch| over sets, ops)."""
    torch.manual_seed(seed)
    model = build()
    # torchvision initializes some classifiers with std 0.01, which makes the
    # logits ~1e-3 and a 1e-4 comparison meaningless; nn.Linear's own
    # initialization keeps them O(0.1..1).
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()
    randomize_batchnorm(model, torch.Generator().manual_seed(seed + 1), size)
    model.eval()

    case_dir = os.path.join(out, name)
    if os.path.isdir(case_dir):
        shutil.rmtree(case_dir)
    os.makedirs(case_dir)
    path = os.path.join(case_dir, "model.onnx")
    export(model, path, size, opset, fold, batches[0])

    worst = 0.0
    for idx, batch in enumerate(batches):
        x = np.random.default_rng(idx).standard_normal((batch, 3, size, size)).astype(np.float32)
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy()
        y = run_ort(path, x)[0]
        if y.shape != ref.shape:
            raise SystemExit("%s set %d: ORT shape %s, PyTorch %s" % (name, idx, y.shape, ref.shape))
        diff = float(np.abs(y.astype(np.float64) - ref).max())
        worst = max(worst, diff)
        # 1e-4 absolute, relative to the logits' scale where that exceeds 1
        limit = tol * max(1.0, float(np.abs(ref).max()))
        if not diff <= limit:
            raise SystemExit("%s set %d: ORT vs PyTorch max diff %.3g exceeds %.3g"
                             % (name, idx, diff, limit))
        write_set(case_dir, idx, x, y)
        print("  %s set %d: batch %d, |logits| max %.3g, max |ORT - PyTorch| = %.3g"
              % (name, idx, batch, float(np.abs(y).max()), diff))
    ops = sorted({n.op_type for n in onnx.load(path).graph.node})
    return worst, ops


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.normpath(os.path.join(here, "..", "..", "tests", "data", "models"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=default_out, help="output folder (default: %(default)s)")
    ap.add_argument("--only", default=None, help="only this model")
    args = ap.parse_args()

    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    for name, build, opset, fold, size, what in MODELS:
        if args.only is not None and args.only != name:
            continue
        t0 = time.time()
        worst, ops = make_case(args.out, name, build, opset, fold, size, seed=0, batches=(2, 1))
        mb = os.path.getsize(os.path.join(args.out, name, "model.onnx")) / 1e6
        print("%s: opset %d, constant folding %s, %dx%d, model.onnx %.2f MB, max diff %.2e, %.1fs"
              % (name, opset, fold, size, size, mb, worst, time.time() - t0))
        print("  ops: " + " ".join(ops))
    print("torch %s, torchvision %s, onnx %s, onnxruntime %s"
          % (torch.__version__, torchvision.__version__, onnx.__version__, ort.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
