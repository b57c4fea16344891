#!/usr/bin/env python3
"""Grad-CAM (or Score-CAM) throughput of glassbox next to torchcam and pytorch-grad-cam on resnet50, interleaved
pair by pair.

    python bench_explain.py --glassbox build/bin/glassbox --model build/models/full/resnet50/model.onnx \
        [--device cpu|cuda] [--batch 1 8] [--pairs 8] [--threads 2] [--method gradcam|scorecam] [--chunk 128]
        [--json OUT]

Score-CAM (--method scorecam): every engine masks the input with each of layer4's 2,048 upsampled, normalized
channels, `--chunk` masked images per forward pass (torchcam's batch_size, pytorch-grad-cam's batch_size,
glassbox's --chunk); glassbox skips constant channels (none with random weights and inputs, typically). The
engines weight channels differently (glassbox: the paper's softmax probabilities; the peers: a softmax over
channels), which costs nothing measurable next to the 2,048 forward passes.

Each sample explains one batch for its top-1 classes with Grad-CAM at layer4 (glassbox: the same layer, the
last 4-D activation before global pooling) and brings the maps to the input's resolution, as glassbox does:
torchcam's maps are upsampled bilinearly (torch.nn.functional.interpolate), pytorch-grad-cam resizes its own.
glassbox runs as `glassbox bench MODEL --explain gradcam --serve` (time measured inside the process, input on
the device); the peers are torchvision's resnet50 (weights=None) timed here, inputs on the device. A PyTorch
forward pass (no_grad) is timed too, for the explanation/forward ratio. Ratios are medians of per-pair ratios.

Pinned peers (tools/python/requirements-dev.txt): torchcam 0.4.0, grad-cam 1.5.4. Note on correctness, not
timing: both get Grad-CAM++ wrong (torchcam never divides alpha; pytorch-grad-cam adds an absolute 1e-6 to the
denominator); Grad-CAM, timed here, they compute as the paper does.
"""
import argparse
import json
import os
import statistics
import subprocess
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its OpenMP pool

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402


def timed(fn, device):
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) * 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glassbox", required=True)
    ap.add_argument("--model", required=True, help="resnet50 ONNX (tools/python/export_full_models.py)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--method", default="gradcam", choices=["gradcam", "scorecam"])
    ap.add_argument("--chunk", type=int, default=128, help="Score-CAM: masked images per forward pass")
    ap.add_argument("--json")
    args = ap.parse_args()
    from pytorch_grad_cam import GradCAM as PgcGradCAM
    from pytorch_grad_cam import ScoreCAM as PgcScoreCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    from torchcam.methods import GradCAM as TcGradCAM
    from torchcam.methods import ScoreCAM as TcScoreCAM

    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    model = torchvision.models.resnet50(weights=None).eval().to(dev)
    # torchcam's hooks stay on its model (its own usage) and would fire in the others' no_grad passes: a twin.
    tc_model = torchvision.models.resnet50(weights=None).eval().to(dev)
    score = args.method == "scorecam"
    tc = TcScoreCAM(tc_model, target_layer="layer4", batch_size=args.chunk) if score else \
        TcGradCAM(tc_model, target_layer="layer4")
    name = args.method
    records = []
    print("| batch | engine | ms per batch | images/s | ratio to glassbox %s |" % name)
    print("|---|---|---|---|---|")
    for batch in args.batch:
        x = torch.randn(batch, 3, 224, 224, device=dev)
        method_args = ["--perturbation", "scorecam", "--chunk", str(args.chunk)] if score else ["--explain", "gradcam"]
        gb = subprocess.Popen([args.glassbox, "bench", args.model, "--batch", str(batch), "--threads", str(args.threads),
                               "--device", args.device, "--serve"] + method_args,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert gb.stdout.readline().strip() == "ready"

        def run_gb():
            gb.stdin.write("run 1\n")
            gb.stdin.flush()
            return float(gb.stdout.readline())

        def run_torchcam():
            if score:  # its scores come from its own no-grad passes
                with torch.no_grad():
                    scores = tc_model(x)
                cls = scores.argmax(1).tolist()
                maps = tc(cls, scores)[0]
                return F.interpolate(maps.unsqueeze(1), size=x.shape[-2:], mode="bilinear", align_corners=False)
            scores = tc_model(x)
            cls = scores.argmax(1).tolist()
            maps = tc(cls, scores)[0]  # [N, 7, 7]
            return F.interpolate(maps.unsqueeze(1), size=x.shape[-2:], mode="bilinear", align_corners=False)

        pgc = PgcScoreCAM(model=model, target_layers=[model.layer4]) if score else \
            PgcGradCAM(model=model, target_layers=[model.layer4])
        if score:
            pgc.batch_size = args.chunk

        def run_pgc():
            with torch.no_grad():
                cls = model(x).argmax(1).tolist()
            return pgc(input_tensor=x, targets=[ClassifierOutputTarget(c) for c in cls])

        def run_forward():
            with torch.no_grad():
                model(x)

        for fn in (run_torchcam, run_pgc, run_forward):  # warm-up
            fn()
        run_gb()
        samples = {"glassbox " + name: [], "torchcam " + name: [], "pytorch-grad-cam " + name: [], "pytorch forward": []}
        for _ in range(args.pairs):
            samples["glassbox " + name].append(run_gb())
            samples["torchcam " + name].append(timed(run_torchcam, args.device))
            samples["pytorch-grad-cam " + name].append(timed(run_pgc, args.device))
            samples["pytorch forward"].append(timed(run_forward, args.device))
        gb.stdin.write("quit\n")
        gb.stdin.flush()
        gb.wait()
        base = samples["glassbox " + name]
        for name, s in samples.items():
            ratio = statistics.median(b / a for a, b in zip(base, s))  # other / glassbox, per pair
            med = statistics.median(s)
            print("| %d | %s | %.1f | %.1f | %.2f |" % (batch, name, med, 1000.0 * batch / med, ratio))
            records.append({"batch": batch, "engine": name, "ms": s, "median_ms": med, "ratio_to_glassbox": ratio})
    print("\ntorch %s, torchcam, grad-cam; device %s, %d threads" % (torch.__version__, args.device, args.threads))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
