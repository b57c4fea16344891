#!/usr/bin/env python3
"""CPU forward time of glassbox next to OpenVINO and ONNX Runtime (and PyTorch where installed), interleaved.

    python bench_cpu.py --glassbox build/bin/glassbox \
        --model build/models/full/resnet50/model.onnx build/models/efficientnet_lite0.onnx [--model ...] \
        --batch 1 8 --threads 1 2 [--pairs 15] [--repeat 1] [--json FILE] [--torch-model NAME ...]

Peer environment (numpy, onnxruntime 1.31, OpenVINO 2024.4 and OpenVINO XAI, no torch; see
tools/python/requirements-bench.txt):

    python3 -m venv build/bench-venv && build/bench-venv/bin/pip install -r tools/python/requirements-bench.txt

glassbox runs as `glassbox bench MODEL --batch B --threads T --serve`: a long-lived process that answers each
"run K" line with the mean milliseconds of K forward passes (timed inside, so process start-up and model loading
are not counted). For each model, thread count and batch size, each pair runs the engines back to back in turn
(glassbox, OpenVINO, ONNX Runtime, PyTorch) on the same input shape; the report gives each engine's median and
the median of the per-pair ratios (machines drift: a ratio of neighbours is steadier than a ratio of medians).
Prints a markdown table; --json FILE writes every sample.

The peers, fp32 on the CPU:
  OpenVINO      CPU plugin, the model reshaped to the static batch before compiling, INFERENCE_PRECISION_HINT f32
                (no bf16 on AVX-512/AMX machines), INFERENCE_NUM_THREADS = threads, NUM_STREAMS 1,
                PERFORMANCE_HINT LATENCY; the input bound once as a shared tensor, each sample one infer().
  ONNX Runtime  CPU provider, all graph optimizations, intra_op_num_threads = threads, inter_op 1.
  PyTorch       eager torchvision model of the same name (random weights; only the time is compared),
                inference_mode; only where torch and torchvision import.
Idle threads must not spin between runs, or each engine would steal the cores from the one timed next:
ONNX Runtime gets session.intra_op.allow_spinning = 0 and PyTorch's OpenMP pool OMP_WAIT_POLICY=PASSIVE
(glassbox's pool sleeps on a condition variable; OpenVINO's TBB workers spin only briefly before sleeping).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import time

import numpy as np
import onnxruntime as ort

try:
    import openvino as ov
except ImportError:
    ov = None


def time_ms(fn, repeat=1):
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) * 1000.0 / repeat


def interleave(engines, warmup, pairs):
    """Runs (name, fn) engines in turn, `warmup` rounds untimed then `pairs` rounds; each fn returns milliseconds.
    Returns {name: [ms per round]}."""
    for _ in range(warmup):
        for _, fn in engines:
            fn()
    samples = {name: [] for name, _ in engines}
    for _ in range(pairs):
        for name, fn in engines:
            samples[name].append(fn())
    return samples


def cpuinfo_field(name):
    """The value of the first /proc/cpuinfo line named `name`, or None."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.split(":", 1)[0].strip() == name:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_name():
    return cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_flags():
    flags = set((cpuinfo_field("flags") or "").split())
    return [x for x in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if x in flags]


def model_label(path):
    """build/models/full/resnet50/model.onnx -> resnet50; build/models/efficientnet_lite0.onnx -> efficientnet_lite0"""
    stem = os.path.splitext(os.path.basename(path))[0]
    return os.path.basename(os.path.dirname(os.path.abspath(path))) if stem == "model" else stem


class Glassbox:
    """`glassbox bench MODEL --serve`: "run K" -> mean ms of K forward passes."""

    def __init__(self, binary, model, batch, threads, extra=()):
        self.p = subprocess.Popen([binary, "bench", model, "--batch", str(batch), "--threads", str(threads),
                                   "--serve", *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().strip()
        if line != "ready":
            self.p.kill()
            raise RuntimeError("glassbox bench --serve did not start (%r); see its stderr above" % line)

    def run(self, k=1):
        self.p.stdin.write("run %d\n" % k)
        self.p.stdin.flush()
        return float(self.p.stdout.readline())

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        self.p.wait()


def ort_session(model, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def ov_config(threads):
    return {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": str(threads), "NUM_STREAMS": "1",
            "PERFORMANCE_HINT": "LATENCY"}


def ov_compile(core, model, shape, threads):
    """The ONNX model reshaped to the static input shape and compiled for the CPU plugin, fp32."""
    m = core.read_model(model)
    m.reshape({m.inputs[0].get_any_name(): ov.PartialShape(list(shape))})
    return core.compile_model(m, "CPU", ov_config(threads))


def input_shape(sess, batch):
    """[batch] + the model's other input dimensions (a symbolic one taken as 224)."""
    dims = sess.get_inputs()[0].shape[1:]
    return [batch] + [d if isinstance(d, int) and d > 0 else 224 for d in dims]


def versions():
    v = {"onnxruntime": ort.__version__, "numpy": np.__version__}
    if ov is not None:
        v["openvino"] = ov.get_version()
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--glassbox", default="build/bin/glassbox")
    ap.add_argument("--model", nargs="+", action="extend", required=True,
                    help="ONNX model(s); may repeat (--model A --model B) or list (--model A B)")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--threads", type=int, nargs="+", default=[2])
    ap.add_argument("--pairs", type=int, default=15)
    ap.add_argument("--repeat", type=int, default=1,
                    help="forward passes per sample (each engine's sample is their mean; glassbox: 'run K')")
    ap.add_argument("--warmup", type=int, default=2, help="untimed pairs before the timed ones")
    ap.add_argument("--torch-model", nargs="*", default=None,
                    help="torchvision model names for the PyTorch column, one per --model (default: the label, "
                         "e.g. resnet50 from build/models/full/resnet50/model.onnx, where torchvision has it)")
    ap.add_argument("--no-torch", action="store_true", help="leave out PyTorch even where it is installed")
    ap.add_argument("--json", help="write every sample here")
    args = ap.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its OpenMP pool

    torch = None
    if not args.no_torch:
        try:
            import torch
            import torchvision
        except ImportError:
            torch = None
    labels = [model_label(m) for m in args.model]
    torch_names = args.torch_model if args.torch_model else labels
    core = ov.Core() if ov is not None else None

    v = versions()
    if torch is not None:
        v["torch"] = torch.__version__
    print("CPU: %s, %d logical cores%s" % (cpu_name(), os.cpu_count(),
                                           (" (" + " ".join(cpu_flags()) + ")") if cpu_flags() else ""))
    if core is not None:
        print("OpenVINO CPU device: %s" % core.get_property("CPU", "FULL_DEVICE_NAME"))
    print("glassbox %s; " % args.glassbox + ", ".join("%s %s" % kv for kv in v.items())
          + ("" if ov is not None else "; OpenVINO not installed (column n/a)"))
    print("%d interleaved pairs (after %d warm-up), %d forward pass(es) per sample, fp32" %
          (args.pairs, args.warmup, args.repeat))
    print()

    cols = ["model", "threads", "batch", "glassbox ms", "OpenVINO ms", "ORT ms"]
    if torch is not None:
        cols.append("PyTorch ms")
    cols += ["glassbox / OpenVINO", "glassbox / ORT"]
    if torch is not None:
        cols.append("glassbox / PyTorch")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols), flush=True)

    med = statistics.median
    fmt_ms = lambda t: "%.2f" % med(t) if t else "n/a"
    fmt_r = lambda r: "%.2f" % med(r) if r else "n/a"
    results = []
    for model, label, tname in zip(args.model, labels, torch_names):
        tmodel = None
        if torch is not None and hasattr(torchvision.models, tname):
            tmodel = getattr(torchvision.models, tname)().eval()
        for threads in args.threads:
            sess = ort_session(model, threads)
            iname = sess.get_inputs()[0].name
            if torch is not None:
                torch.set_num_threads(threads)
            for batch in args.batch:
                shape = input_shape(sess, batch)
                x = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
                gb = Glassbox(args.glassbox, model, batch, threads)
                engines = [("glassbox", lambda: gb.run(args.repeat))]
                ov_props = None
                if core is not None:
                    compiled = ov_compile(core, model, shape, threads)
                    req = compiled.create_infer_request()
                    req.set_input_tensor(ov.Tensor(x, shared_memory=True))
                    ov_props = {k: str(compiled.get_property(k)) for k in ov_config(threads)}
                    engines.append(("openvino", lambda: time_ms(req.infer, args.repeat)))
                run_ort = lambda: sess.run(None, {iname: x})
                engines.append(("ort", lambda: time_ms(run_ort, args.repeat)))
                if tmodel is not None:
                    tx = torch.from_numpy(x)

                    def run_torch():
                        with torch.inference_mode():
                            tmodel(tx)
                    engines.append(("torch", lambda: time_ms(run_torch, args.repeat)))
                # Sanity: OpenVINO and ONNX Runtime compute the same function of the same input.
                diff = None
                if core is not None:
                    req.infer()
                    diff = float(np.max(np.abs(req.get_output_tensor(0).data - run_ort()[0])))
                samples = interleave(engines, args.warmup, args.pairs)
                gb.close()
                ratios = {peer: [a / b for a, b in zip(samples["glassbox"], samples[peer])]
                          for peer in samples if peer != "glassbox"}
                row = [label, str(threads), str(batch), fmt_ms(samples["glassbox"]),
                       fmt_ms(samples.get("openvino")), fmt_ms(samples["ort"])]
                if torch is not None:
                    row.append(fmt_ms(samples.get("torch")))
                row += [fmt_r(ratios.get("openvino")), fmt_r(ratios["ort"])]
                if torch is not None:
                    row.append(fmt_r(ratios.get("torch")))
                print("| " + " | ".join(row) + " |", flush=True)
                results.append({"model": label, "path": model, "threads": threads, "batch": batch,
                                "input_shape": shape, "samples_ms": samples,
                                "median_ms": {k: med(s) for k, s in samples.items()},
                                "ratio_median": {"glassbox/" + k: med(r) for k, r in ratios.items()},
                                "max_abs_openvino_minus_ort": diff, "openvino_compiled": ov_props})
                if diff is not None and diff > 1e-2:
                    print("  warning: %s: max |OpenVINO - ORT| = %.3g" % (label, diff), flush=True)
    print()
    print("ratios: medians of per-pair ratios (above 1: glassbox is slower); times: medians in ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": cpu_name(), "cpu_flags": cpu_flags(), "logical_cores": os.cpu_count(),
                       "versions": v, "glassbox": args.glassbox, "pairs": args.pairs, "warmup": args.warmup,
                       "repeat": args.repeat, "openvino_config": ov_config("THREADS") if ov is not None else None,
                       "results": results}, f, indent=1)
        print("samples written to %s" % args.json)


if __name__ == "__main__":
    main()
