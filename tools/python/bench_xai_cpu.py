#!/usr/bin/env python3
"""CPU explanation time of glassbox next to OpenVINO XAI's white-box ReciproCAM, interleaved (batch 1).

    python bench_xai_cpu.py --glassbox build/bin/glassbox \
        --model build/models/full/resnet50/model.onnx build/models/efficientnet_lite0.onnx \
        [--threads 1 2] [--pairs 10] [--target-layer efficientnet_lite0=head.relu6] [--json FILE]

Runs in the peer environment (tools/python/requirements-bench.txt: OpenVINO 2024.4, OpenVINO XAI 1.1.0):

    python3 -m venv build/bench-venv && build/bench-venv/bin/pip install -r tools/python/requirements-bench.txt

For each model and thread count, each pair runs in turn, on one 1x3x224x224 image:
  glassbox ReciproCAM   `glassbox bench MODEL --batch 1 --threads T --serve --perturbation reciprocam`: each
                        "run" line is one ReciproCAM explanation of the top-1 class (the feature map of the default
                        layer, the last 4-D activation before global pooling, masked per position and run from that
                        layer; glassbox's 3x3 Gaussian mask), timed inside the process
  glassbox Grad-CAM     the same with `--explain gradcam` (forward + backward to the layer + the map)
  glassbox forward      the same without an explanation flag (one forward pass)
  OpenVINO XAI          openvino_xai.Explainer(model, Task.CLASSIFICATION, explain_mode=WHITEBOX,
                        explain_method=Method.RECIPROCAM): the XAI branch inserted after the target layer
                        (auto-detected unless --target-layer; the h*w one-hot masked copies of the feature map run
                        through the tail inside the same graph, maps for every class, scaled to 0..255 in-graph),
                        that model compiled by us for the CPU plugin in fp32 (INFERENCE_PRECISION_HINT f32,
                        INFERENCE_NUM_THREADS T, NUM_STREAMS 1, PERFORMANCE_HINT LATENCY; OpenVINO XAI's own
                        compile_model would take the plugin's defaults), each sample one explainer(x, targets=[top1],
                        colormap=False) call, the map resized to 224x224 as glassbox's are
  OpenVINO XAI infer    the XAI model's infer() alone (no Python post-processing)
  OpenVINO forward      the plain model, reshaped to batch 1 and compiled as above, one infer()
Prints ms and explanations (or forwards) per second, the medians of per-pair time ratios (above 1: glassbox is
slower), and --json FILE writes every sample.
"""
import argparse
import json
import logging
import os
import statistics
import sys
import time

import numpy as np
import openvino as ov
import openvino_xai as xai
from openvino_xai.explainer.explainer import ExplainMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cpu import Glassbox, cpu_flags, cpu_name, interleave, model_label, ov_compile, ov_config, time_ms  # noqa: E402


def xai_explainer(core, model, threads, target_layer):
    """OpenVINO XAI's white-box ReciproCAM on MODEL, its XAI model compiled here (fp32, THREADS)."""
    ex = xai.Explainer(model, xai.Task.CLASSIFICATION, explain_mode=ExplainMode.WHITEBOX,
                       explain_method=xai.Method.RECIPROCAM, target_layer=target_layer, prepare_model=False)
    xai_model = ex.method.prepare_model(load_model=False)  # the model with the XAI branch inserted
    ex.method._model_compiled = core.compile_model(xai_model, "CPU", ov_config(threads))
    return ex


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--glassbox", default="build/bin/glassbox")
    ap.add_argument("--model", nargs="+", action="extend", default=None,
                    help="ONNX model(s) (default: build/models/full/resnet50/model.onnx and "
                         "build/models/efficientnet_lite0.onnx); may repeat or list")
    ap.add_argument("--threads", type=int, nargs="+", default=[2])
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds before the timed ones")
    ap.add_argument("--target-layer", action="append", default=[],
                    help="LABEL=NODE: OpenVINO XAI's target layer (friendly name of the OpenVINO node) for the "
                         "model labelled LABEL (e.g. efficientnet_lite0=head.relu6); default: its auto mode")
    ap.add_argument("--no-gradcam", action="store_true", help="leave out glassbox's Grad-CAM")
    ap.add_argument("--json", help="write every sample here")
    args = ap.parse_args()
    models = args.model or ["build/models/full/resnet50/model.onnx", "build/models/efficientnet_lite0.onnx"]
    targets = dict(t.split("=", 1) for t in args.target_layer)
    logging.getLogger("openvino_xai").setLevel(logging.WARNING)

    from importlib.metadata import version
    v = {"openvino": ov.get_version(), "openvino-xai": version("openvino-xai"), "numpy": np.__version__}
    print("CPU: %s, %d logical cores%s" % (cpu_name(), os.cpu_count(),
                                           (" (" + " ".join(cpu_flags()) + ")") if cpu_flags() else ""))
    print("glassbox %s; " % args.glassbox + ", ".join("%s %s" % kv for kv in v.items()))
    print("batch 1, %d interleaved rounds (after %d warm-up), fp32" % (args.pairs, args.warmup))
    print()

    core = ov.Core()
    med = statistics.median
    names = {"gb_reciprocam": "glassbox ReciproCAM", "gb_gradcam": "glassbox Grad-CAM",
             "gb_forward": "glassbox forward", "ov_xai": "OpenVINO XAI ReciproCAM",
             "ov_xai_infer": "OpenVINO XAI infer only", "ov_forward": "OpenVINO forward"}
    ratio_defs = [("gb_reciprocam", "ov_xai", "glassbox ReciproCAM / OpenVINO XAI ReciproCAM"),
                  ("gb_gradcam", "ov_xai", "glassbox Grad-CAM / OpenVINO XAI ReciproCAM"),
                  ("gb_forward", "ov_forward", "glassbox forward / OpenVINO forward"),
                  ("gb_reciprocam", "gb_forward", "glassbox ReciproCAM / glassbox forward"),
                  ("ov_xai", "ov_forward", "OpenVINO XAI ReciproCAM / OpenVINO forward")]
    results = []
    for model in models:
        label = model_label(model)
        for threads in args.threads:
            shape = [1, 3, 224, 224]
            x = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
            fwd = ov_compile(core, model, shape, threads)
            req = fwd.create_infer_request()
            req.set_input_tensor(ov.Tensor(x, shared_memory=True))
            req.infer()
            top1 = int(np.argmax(req.get_output_tensor(0).data[0]))
            ex = xai_explainer(core, model, threads, targets.get(label))
            xreq = ex.method.model_compiled.create_infer_request()
            xreq.set_input_tensor(ov.Tensor(x, shared_memory=True))
            gbs = {"gb_reciprocam": Glassbox(args.glassbox, model, 1, threads, ["--perturbation", "reciprocam"]),
                   "gb_forward": Glassbox(args.glassbox, model, 1, threads)}
            if not args.no_gradcam:
                gbs["gb_gradcam"] = Glassbox(args.glassbox, model, 1, threads, ["--explain", "gradcam"])
            engines = [("gb_reciprocam", gbs["gb_reciprocam"].run),
                       ("ov_xai", lambda: time_ms(lambda: ex(x, targets=[top1], colormap=False, resize=True))),
                       ("ov_xai_infer", lambda: time_ms(xreq.infer))]
            if "gb_gradcam" in gbs:
                engines.append(("gb_gradcam", gbs["gb_gradcam"].run))
            engines += [("gb_forward", gbs["gb_forward"].run), ("ov_forward", lambda: time_ms(req.infer))]
            m = ex(x, targets=[top1], colormap=False, resize=True).saliency_map[top1]
            samples = interleave(engines, args.warmup, args.pairs)
            for g in gbs.values():
                g.close()
            ratios = {t: [a / b for a, b in zip(samples[n], samples[d])]
                      for n, d, t in ratio_defs if n in samples and d in samples}
            print("**%s, %d thread%s** (OpenVINO XAI map %s, top-1 class %d)" % (
                label, threads, "" if threads == 1 else "s", "x".join(map(str, m.shape)), top1))
            print()
            print("| engine | ms | per second |")
            print("|---|---|---|")
            for name, _ in engines:
                t = med(samples[name])
                print("| %s | %.2f | %.1f |" % (names[name], t, 1000.0 / t))
            print()
            print("| ratio (median of per-round time ratios) | value |")
            print("|---|---|")
            for t, r in ratios.items():
                print("| %s | %.2f |" % (t, med(r)))
            print(flush=True)
            results.append({"model": label, "path": model, "threads": threads, "batch": 1, "top1": top1,
                            "openvino_xai_target_layer": targets.get(label, "auto"),
                            "samples_ms": samples, "median_ms": {k: med(s) for k, s in samples.items()},
                            "ratio_median": {k: med(r) for k, r in ratios.items()}})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": cpu_name(), "cpu_flags": cpu_flags(), "logical_cores": os.cpu_count(),
                       "versions": v, "glassbox": args.glassbox, "pairs": args.pairs, "warmup": args.warmup,
                       "openvino_config": ov_config("THREADS"), "results": results}, f, indent=1)
        print("samples written to %s" % args.json)


if __name__ == "__main__":
    main()
