#!/usr/bin/env python3
"""CPU forward time of glassbox next to ONNX Runtime (and PyTorch where installed), interleaved.

    python bench_cpu.py --glassbox build/bin/glassbox --model build/models/full/resnet50/model.onnx \
        --batch 1 8 [--threads 2] [--pairs 15] [--torch-model resnet50]

glassbox runs as `glassbox bench MODEL --serve`: a long-lived process that answers each "run" line with the
milliseconds of one forward pass (timed inside, so process start-up and model loading are not counted). For
each pair the engines run back to back in turn (glassbox, ONNX Runtime, PyTorch) on the same input shape;
the report gives each engine's median and the median of the per-pair ratios (machines drift: a ratio of
neighbours is steadier than a ratio of medians). Prints a markdown table.

Idle threads must not spin between runs, or each engine would steal the cores from the one timed next:
ONNX Runtime gets session.intra_op.allow_spinning = 0 and PyTorch's OpenMP pool OMP_WAIT_POLICY=PASSIVE
(glassbox's pool sleeps on a condition variable).
"""
import argparse
import os
import platform
import statistics
import subprocess
import time

import numpy as np
import onnxruntime as ort


def time_ms(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glassbox", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=15)
    ap.add_argument("--torch-model", default="resnet50", help="torchvision model name for the PyTorch column")
    args = ap.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its OpenMP pool

    try:
        import torch
        import torchvision
        torch.set_num_threads(args.threads)
        tmodel = getattr(torchvision.models, args.torch_model)().eval()
    except ImportError:
        torch = None

    print("| batch | glassbox ms | ONNX Runtime ms | PyTorch ms | glassbox / ORT | glassbox / PyTorch |")
    print("|---|---|---|---|---|---|")
    for batch in args.batch:
        gb = subprocess.Popen([args.glassbox, "bench", args.model, "--batch", str(batch), "--threads",
                               str(args.threads), "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert gb.stdout.readline().strip() == "ready"

        def run_gb():
            gb.stdin.write("run\n")
            gb.stdin.flush()
            return float(gb.stdout.readline())

        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        x = np.random.default_rng(0).uniform(-1, 1, (batch, 3, 224, 224)).astype(np.float32)
        run_ort = lambda: sess.run(None, {inp.name: x})
        if torch is not None:
            tx = torch.from_numpy(x)
            def run_torch():
                with torch.inference_mode():
                    tmodel(tx)
        for _ in range(2):  # warm-up
            run_gb(), run_ort()
            if torch is not None:
                run_torch()
        t_gb, t_ort, t_pt, r_ort, r_pt = [], [], [], [], []
        for _ in range(args.pairs):
            a = run_gb()
            b = time_ms(run_ort)
            t_gb.append(a), t_ort.append(b), r_ort.append(a / b)
            if torch is not None:
                c = time_ms(run_torch)
                t_pt.append(c), r_pt.append(a / c)
        gb.stdin.write("quit\n")
        gb.stdin.flush()
        gb.wait()
        med = statistics.median
        pt = "%.1f" % med(t_pt) if t_pt else "n/a"
        rpt = "%.2f" % med(r_pt) if r_pt else "n/a"
        print("| %d | %.1f | %.1f | %s | %.2f | %s |" % (batch, med(t_gb), med(t_ort), pt, med(r_ort), rpt))
    print()
    print("threads %d, %d interleaved pairs, %s, onnxruntime %s%s" % (
        args.threads, args.pairs, platform.processor() or platform.machine(), ort.__version__,
        ", torch %s" % torch.__version__ if torch is not None else ""))


if __name__ == "__main__":
    main()
