#!/usr/bin/env python3
"""Export the model zoo: every torchvision classifier up to 150M parameters and nine timm models.

    python export_zoo.py --out build/models/zoo [--only NAME ...] [--list]

The set (issue 21): the 80 builders of torchvision.models.list_models(module=torchvision.models) less the five
over 150M parameters (convnext_large, vit_l_16, vit_l_32, vit_h_14, regnet_y_128gf), and the timm models
TIMM_MODELS below: 84 models. Each is built with random weights made informative, so that the logits depend on
the input and a comparison means something:

  * every nn.Linear re-initialized (torchvision initializes some heads with std 0.01 or zeros);
  * BatchNorm statistics measured layer by layer on a random batch in eval mode, then perturbed
    (calibrate_batchnorm);
  * every parameter whose elements are all equal (LayerNorm's ones and zeros, zero-initialized heads and
    projections, layer scales of 1e-6) gets small random values around that constant: v + 0.1 max(|v|, 0.2) N(0, 1).

Then it is exported at opset 17 with a dynamic batch (torch.onnx.export, TorchScript exporter, constant folding on)
to OUT/<name>/model.onnx, and OUT/<name>/test_data_set_0/{input_0,output_0}.pb hold a batch of 2 random images at
the model's input size (timm's configuration; 224x224 for torchvision's, 299x299 for inception_v3) and ONNX Runtime's logits for them (CPU, graph optimizations off), checked against PyTorch
(1e-4 relative to the logits' scale). OUT/<name>/zoo.json records the parameter count, input size, opset, the
operators and the versions. The slow test tests/models/test_zoo.cpp reads the folder.

Models are exported one after another; one that fails to build or export is reported and the others go on (the
exit status says how many failed). The files are large (about 10 GB for the set): they belong in the build tree.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torchvision
from onnx import numpy_helper


MAX_PARAMETERS = 150_000_000
# torchvision builders over MAX_PARAMETERS (counted once; listed so the set is known without building them)
TORCHVISION_TOO_LARGE = {"convnext_large", "vit_l_16", "vit_l_32", "vit_h_14", "regnet_y_128gf"}
# timm: the windowed, hybrid and shrinking-grid transformers the torchvision set lacks, two plain ViTs, and
# convolutional families with depthwise and ghost modules.
TIMM_MODELS = [
    "vit_tiny_patch16_224",
    "deit_tiny_distilled_patch16_224",
    "swin_tiny_patch4_window7_224",
    "mobilevit_xxs",
    "levit_128s",
    "convnext_atto",
    "efficientnet_b0",
    "ghostnet_100",
    "tf_efficientnet_lite0",
]
OPSET = 17
BATCH = 2
TOLERANCE = 1e-4


def zoo():
    """(name, source, builder) for the whole set, in a fixed order."""
    out = []
    for name in torchvision.models.list_models(module=torchvision.models):
        if name not in TORCHVISION_TOO_LARGE:
            out.append((name, "torchvision", lambda name=name: torchvision.models.get_model(name, weights=None)))
    for name in TIMM_MODELS:
        out.append((name, "timm", lambda name=name: timm_model(name)))
    return out


def timm_model(name):
    import timm
    return timm.create_model(name, pretrained=False)


def input_size(model, source):
    if source == "timm":
        return tuple(model.pretrained_cfg.get("input_size", (3, 224, 224)))[1:]
    return (299, 299) if model.__class__.__name__ == "Inception3" else (224, 224)  # its 5x5 kernels need 299


def make_informative(model, seed, size):
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()
    with torch.no_grad():
        for p in model.parameters():
            if p.numel() > 1 and bool((p == p.flatten()[0]).all()):
                v = float(p.flatten()[0])
                p.add_(torch.randn(p.shape, generator=gen) * 0.1 * max(abs(v), 0.2))
    calibrate_batchnorm(model, gen, size)


def calibrate_batchnorm(model, gen, size, batch=8):
    """Random affine parameters and running statistics for every BatchNorm layer, each measured on the input it
    sees in eval mode. One eval-mode forward pass of a random batch: before each BatchNorm runs, a hook sets its
    running statistics to the mean and variance of its actual input (per channel), perturbed as
    make_model_goldens.randomize_batchnorm does (mean += 0.1 std N(0, 1), var *= exp(U(-0.3, 0.3))), and the layer
    then normalizes with them. Layers are thus calibrated in order, each on the output of the calibrated layers
    before it: statistics measured in train mode instead (batch statistics upstream) compound their mismatch over
    the depth of the EfficientNets and LeViT until the logits of the eval-mode network are ill-conditioned (float32
    and float64 PyTorch disagree by 30%)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return

    def hook(m, inputs):
        x = inputs[0].detach()
        dims = [d for d in range(x.dim()) if d != 1]
        n = m.num_features
        mean, var = x.mean(dim=dims), x.var(dim=dims, unbiased=False)
        m.running_mean.copy_(mean + torch.randn(n, generator=gen) * 0.1 * var.sqrt())
        m.running_var.copy_(var.clamp(min=1e-4) * torch.exp(torch.rand(n, generator=gen) * 0.6 - 0.3))

    with torch.no_grad():
        for m in bns:
            if m.affine:
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)  # [0.5, 1.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.2)
        model.eval()
        handles = [m.register_forward_pre_hook(hook) for m in bns]
        model(torch.randn(batch, 3, *size, generator=gen))
        for h in handles:
            h.remove()


def run_ort(path, x):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def export_one(out, name, source, build):
    torch.manual_seed(0)
    model = build()
    size = input_size(model, source)
    make_informative(model, 1, size)
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    path = os.path.join(d, "model.onnx")
    dummy = torch.zeros(BATCH, 3, *size)
    torch.onnx.export(model, dummy, path, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=OPSET,
                      do_constant_folding=True, dynamo=False)
    x = np.random.default_rng(0).standard_normal((BATCH, 3, *size)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x))
    if isinstance(ref, (tuple, list)):
        ref = ref[0]
    ref = ref.numpy()
    y = run_ort(path, x)
    diff = float(np.abs(y.astype(np.float64) - ref).max())
    limit = TOLERANCE * max(1.0, float(np.abs(ref).max()))
    if not diff <= limit:
        raise RuntimeError("ONNX Runtime vs PyTorch max diff %.3g exceeds %.3g" % (diff, limit))
    for fname, arr, tname in (("input_0.pb", x, "input"), ("output_0.pb", y, "logits")):
        with open(os.path.join(d, "test_data_set_0", fname), "wb") as f:
            f.write(numpy_helper.from_array(arr, tname).SerializeToString())
    ops = sorted({n.op_type for n in onnx.load(path, load_external_data=False).graph.node})
    info = {"name": name, "source": source, "parameters": params, "input_size": list(size), "opset": OPSET,
            "batch": BATCH, "ort_vs_pytorch": diff, "logits_scale": float(np.abs(ref).max()), "operators": ops,
            "torch": torch.__version__, "torchvision": torchvision.__version__, "onnx": onnx.__version__,
            "onnxruntime": ort.__version__}
    if source == "timm":
        import timm
        info["timm"] = timm.__version__
    with open(os.path.join(d, "zoo.json"), "w") as f:
        json.dump(info, f, indent=1)
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="output folder, e.g. build/models/zoo")
    ap.add_argument("--only", nargs="*", default=None, help="export only these models")
    ap.add_argument("--skip-existing", action="store_true", help="keep models whose zoo.json exists")
    ap.add_argument("--list", action="store_true", help="print the set and exit")
    args = ap.parse_args()
    models = zoo()
    if args.list:
        for name, source, _ in models:
            print(source, name)
        print(len(models), "models")
        return 0
    if not args.out:
        ap.error("--out is required")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    os.makedirs(args.out, exist_ok=True)
    failed = []
    t_all = time.time()
    for name, source, build in models:
        if args.only and name not in args.only:
            continue
        if args.skip_existing and os.path.exists(os.path.join(args.out, name, "zoo.json")):
            continue
        t0 = time.time()
        try:
            info = export_one(args.out, name, source, build)
        except Exception as e:  # one model's failure does not stop the others
            failed.append(name)
            print("%s: FAILED: %s" % (name, str(e).splitlines()[0] if str(e) else type(e).__name__), flush=True)
            continue
        print("%s (%s): %.1fM parameters, %dx%d, max |ORT - PyTorch| %.2e, %.1fs; ops: %s"
              % (name, source, info["parameters"] / 1e6, info["input_size"][0], info["input_size"][1],
                 info["ort_vs_pytorch"], time.time() - t0, " ".join(info["operators"])), flush=True)
    print("total %.1fs, %d failed%s" % (time.time() - t_all, len(failed), (": " + " ".join(failed)) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
