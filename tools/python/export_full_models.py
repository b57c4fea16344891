#!/usr/bin/env python3
"""Export full-size torchvision models with random weights for glassbox's slow test.

    python export_full_models.py --out build/models/full [--only NAME ...]

Writes, for resnet18, resnet50, vgg16, densenet121, mobilenet_v2 and
mobilenet_v3_small, and the vision transformers torchvision vit_b_16, timm
vit_tiny_patch16_224 and timm deit_tiny_distilled_patch16_224 (ImageNet-sized,
1000 classes):

    OUT/<name>/model.onnx
    OUT/<name>/test_data_set_0/{input_0,output_0}.pb   batch 1, 3x224x224

No weights are downloaded: every model is built with weights=None from a
fixed seed, its nn.Linear layers re-initialized and its BatchNorm layers
randomized exactly as make_model_goldens.py does. Export, expected outputs
(onnxruntime CPU, optimizations off) and the 1e-4 check against PyTorch are
shared with make_model_goldens.py. The batch axis is dynamic ("N").

The files are large (vgg16 alone is about 550 MB), so they belong in the
build tree, not in git; the slow test runs only when the folder exists.
"""

import argparse
import importlib.util
import os
import sys
import time

import onnx
import onnxruntime as ort
import torch
import torchvision
from torchvision import models

from make_model_goldens import make_case

# name, constructor, opset
FULL_MODELS = [
    ("resnet18", lambda: models.resnet18(weights=None), 13),
    ("resnet50", lambda: models.resnet50(weights=None), 17),
    ("vgg16", lambda: models.vgg16(weights=None), 11),
    ("densenet121", lambda: models.densenet121(weights=None), 15),
    ("mobilenet_v2", lambda: models.mobilenet_v2(weights=None), 12),
    ("mobilenet_v3_small", lambda: models.mobilenet_v3_small(weights=None), 17),
    # Vision transformers (issue 8): torchvision's nn.MultiheadAttention graph, and timm's (qkv Split, class and
    # distillation tokens Concat-ed after an Expand whose batch size is computed by Shape/Equal/Where).
    ("vit_b_16", lambda: models.vit_b_16(weights=None), 17),
    ("vit_tiny_patch16_224", "timm", 17),
    ("deit_tiny_distilled_patch16_224", "timm", 17),
]


def timm_model(name):
    import timm  # only for the timm models: a machine without timm exports the others
    return timm.create_model(name, pretrained=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output folder, e.g. build/models/full")
    ap.add_argument("--only", nargs="*", default=None, help="export only these models")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    t_all = time.time()
    for name, build, opset in FULL_MODELS:
        if args.only and name not in args.only:
            continue
        t0 = time.time()
        if build == "timm":
            if importlib.util.find_spec("timm") is None:
                print("%s: skipped (timm is not installed)" % name, flush=True)
                continue
            build = lambda name=name: timm_model(name)
        worst, ops = make_case(args.out, name, build, opset, fold=True, size=224, seed=0, batches=(1,))
        mb = os.path.getsize(os.path.join(args.out, name, "model.onnx")) / 1e6
        print("%s: opset %d, model.onnx %.1f MB, max |ORT - PyTorch| %.2e, %.1fs"
              % (name, opset, mb, worst, time.time() - t0), flush=True)
        print("  ops: " + " ".join(ops), flush=True)
    print("total %.1fs; torch %s, torchvision %s, onnx %s, onnxruntime %s"
          % (time.time() - t_all, torch.__version__, torchvision.__version__, onnx.__version__,
             ort.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
