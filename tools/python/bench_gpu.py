#!/usr/bin/env python3
"""GPU forward throughput of glassbox next to PyTorch eager (cuDNN) and ONNX Runtime (CUDA), interleaved.

    python bench_gpu.py --glassbox build/bin/glassbox \
        --models resnet50=build/models/full/resnet50/model.onnx \
                 mobilenet_v2=build/models/full/mobilenet_v2/model.onnx \
                 efficientnet_lite0=build/models/efficientnet_lite0.onnx \
        [--batch 1 32 256] [--conv-variants implicit_gemm implicit_gemm_tf32] [--pairs 10] [--iters K] \
        [--json OUT.json] [--skip-torch] [--skip-ort] [--one-variant-at-a-time]

glassbox runs as `glassbox bench MODEL --device cuda --batch B --conv-variant V --serve`: it prints "ready"
once loaded and warmed up, then answers each "run K" line with the mean milliseconds of K back-to-back
forward passes (input already on the device, one synchronization at the end), so process start-up, model
loading and host<->device copies are not counted. The other engines are timed the same way in this process:
a sample is K forwards on a device-resident input followed by one device synchronization, wall time / K.

PyTorch eager runs float32 NCHW under torch.inference_mode() in four configurations: TF32 off / on
(cuBLAS matmul and cuDNN conv alike) x cudnn.benchmark False / True. resnet50, mobilenet_v2 (and the other
torchvision networks that export_full_models.py writes) are torchvision's own modules with weights=None;
any other model is run by a small ONNX interpreter below (one torch.nn.functional call per ONNX node),
checked once on CPU against onnxruntime's CPU provider before it is timed. ONNX Runtime is timed with
io binding on the GPU when the installed build has the CUDA provider; a CPU-only build is reported as n/a.

For each pair the engines run back to back in turn (glassbox variants, PyTorch configurations, ORT) on the
same input shape; the report gives each engine's median ms/forward and, for each glassbox variant, the
median of the per-pair ratios glassbox ms / other ms (a ratio of neighbours is steadier than a ratio of
medians when clocks drift). "vs PyTorch TF32-off" uses, in each pair, the faster of cudnn.benchmark
False/True; likewise for TF32-on. Prints markdown.
"""
import argparse
import json
import math
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch

from onnx_torch import OnnxNet, check_interpreter, input_shape

# torch >= 2.9 warns that allow_tf32 will give way to fp32_precision; the legacy flags still work.
warnings.filterwarnings("ignore", message=".*new API settings to control TF32.*")

# Networks that export_full_models.py exports from torchvision with weights=None: same graph in torchvision.
TORCHVISION = {"resnet18", "resnet50", "vgg16", "densenet121", "mobilenet_v2", "mobilenet_v3_small"}
TORCH_CONFIGS = [(tf32, bench) for tf32 in (False, True) for bench in (False, True)]
ORT_NA = "n/a (this onnxruntime build has no CUDA provider)"


def torch_label(tf32, bench):
    return "PyTorch TF32-%s cudnn.benchmark=%s" % ("on" if tf32 else "off", bench)


# ---------------------------------------------------------------- engines

class Glassbox:
    """One `glassbox bench ... --serve` process; run(k) returns its mean ms/forward, or None once it failed."""

    def __init__(self, binary, model, batch, variant, timeout):
        self.timeout, self.label = timeout, "glassbox " + variant
        self.err = tempfile.TemporaryFile(mode="w+")
        self.lines = queue.Queue()
        self.ok, self.closed = True, False
        try:
            self.p = subprocess.Popen([binary, "bench", model, "--device", "cuda", "--batch", str(batch),
                                       "--conv-variant", variant, "--serve"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True)
        except OSError as e:
            print("%s could not start: %s" % (self.label, e), file=sys.stderr)
            self.ok, self.closed = False, True
            return
        threading.Thread(target=self._pump, daemon=True).start()
        while True:  # tolerate stray stdout lines before "ready"
            line = self._line()
            if line == "ready":
                break
            if line is None:
                self._fail("no \"ready\"")
                break
            print("[%s] %s" % (self.label, line), file=sys.stderr)

    def _pump(self):
        for line in self.p.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def _line(self):
        try:
            return self.lines.get(timeout=self.timeout)
        except queue.Empty:
            return None

    def _fail(self, why):
        self.close()
        self.err.seek(0)
        print("%s failed (%s, exit code %s); its stderr:\n%s" % (self.label, why, self.p.returncode,
                                                                 self.err.read()[-4000:]), file=sys.stderr)
        self.ok = False

    def run(self, k):
        if not self.ok:
            return None
        try:
            self.p.stdin.write("run %d\n" % k)
            self.p.stdin.flush()
            return float(self._line())
        except (OSError, TypeError, ValueError) as e:
            self._fail("run %d: %s" % (k, e))
            return None

    def close(self):
        if self.closed:
            return
        self.closed = True
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
            self.p.wait(timeout=30)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()


def set_torch_flags(tf32, bench):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = bench


def time_torch(net, x, k, tf32, bench):
    """One PyTorch sample: K forwards on the device-resident input, then one synchronize; ms per forward."""
    set_torch_flags(tf32, bench)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.inference_mode():
        for _ in range(k):
            net(x)
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) * 1000.0 / k


def make_ort(path, x):
    """ONNX Runtime CUDA session with input and output bound on the device; returns run(k) -> ms/forward."""
    sess = ort.InferenceSession(path, providers=["CUDAExecutionProvider"])
    if "CUDAExecutionProvider" not in sess.get_providers():  # ORT silently falls back to CPU when CUDA fails
        raise RuntimeError("onnxruntime could not load its CUDA provider (providers: %s)" % sess.get_providers())
    xo = ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0)
    io = sess.io_binding()
    io.bind_ortvalue_input(sess.get_inputs()[0].name, xo)
    io.bind_output(sess.get_outputs()[0].name, "cuda")

    def run(k):
        t0 = time.perf_counter()
        for _ in range(k):
            sess.run_with_iobinding(io)  # the CUDA provider synchronizes its stream at the end of each Run
        io.synchronize_outputs()
        return (time.perf_counter() - t0) * 1000.0 / k
    return run


def build_torch_net(name, path, interpret_all):
    if name in TORCHVISION and not interpret_all:
        import torchvision
        net = getattr(torchvision.models, name)(weights=None).eval()
        # same network as the ONNX file: same number of convolutions (BatchNorm is folded in the export)
        n_onnx = sum(n.op_type == "Conv" for n in onnx.load(path, load_external_data=False).graph.node)
        n_tv = sum(isinstance(m, torch.nn.Conv2d) for m in net.modules())
        if n_onnx != n_tv:
            sys.exit("%s: torchvision has %d convolutions, %s has %d" % (name, n_tv, path, n_onnx))
        return net, "torchvision.models.%s(weights=None)" % name, None
    net = OnnxNet(path).eval()
    return net, "ONNX interpreter", check_interpreter(net, path)


# ---------------------------------------------------------------- measurement

def bench_one(args, name, path, net, batch, ort_ok):
    """Interleaved pairs for one (model, batch); returns the per-pair records {engine label: ms}."""
    x = np.random.default_rng(0).uniform(-1, 1, input_shape(path, batch)).astype(np.float32)
    tx = torch.from_numpy(x).cuda()
    ort_run = None
    if ort_ok:
        try:
            ort_run = make_ort(path, x)
        except Exception as e:  # noqa: BLE001 - report and carry on with the other engines
            print("%s batch %d: ONNX Runtime CUDA failed: %s" % (name, batch, e), file=sys.stderr)
    # warm-up: cudnn.benchmark searches algorithms on its first calls for a shape, ORT's cuDNN search too
    for tf32, bench in TORCH_CONFIGS if net is not None else []:
        time_torch(net, tx, 3, tf32, bench)
    if ort_run:
        ort_run(3)
    records = []
    groups = [[v] for v in args.conv_variants] if args.one_variant_at_a_time else [args.conv_variants]
    for group in groups:
        gbs = [Glassbox(args.glassbox, path, batch, v, args.timeout) for v in group] if args.glassbox else []
        k = args.iters
        if not k:  # K so that the fastest engine's sample lasts >= ~50 ms, from one forward of each
            first = [g.run(1) for g in gbs]
            first += [time_torch(net, tx, 1, *c) for c in (TORCH_CONFIGS if net is not None else [])]
            first += [ort_run(1)] if ort_run else []
            first = [f for f in first if f]
            k = min(200, max(1, math.ceil(50.0 / min(first)))) if first else 1
        for _ in range(args.pairs):
            rec = {"iters": k}
            for g in gbs:
                rec[g.label] = g.run(k)
            for tf32, bench in TORCH_CONFIGS if net is not None else []:
                rec[torch_label(tf32, bench)] = time_torch(net, tx, k, tf32, bench)
            if ort_run:
                rec["ONNX Runtime CUDA"] = ort_run(k)
            records.append(rec)
        for g in gbs:
            g.close()
    del tx, ort_run
    torch.cuda.empty_cache()
    return records


def summarize(records, variants):
    med = statistics.median
    engines = dict.fromkeys(k for r in records for k in r if k != "iters")  # in sampling order
    ms = {e: med([r[e] for r in records if r.get(e)]) for e in engines if any(r.get(e) for r in records)}
    ratios = {}
    for v in variants:
        g = "glassbox " + v
        out = {}
        for col, tf32 in (("vs PyTorch TF32-off", False), ("vs PyTorch TF32-on", True)):
            best = [(r[g], min(r[torch_label(tf32, b)] for b in (False, True))) for r in records
                    if r.get(g) and torch_label(tf32, False) in r]
            if best:
                out[col] = med(a / b for a, b in best)
        rs = [r[g] / r["ONNX Runtime CUDA"] for r in records if r.get(g) and r.get("ONNX Runtime CUDA")]
        if rs:
            out["vs ORT"] = med(rs)
        ratios[g] = out
    return ms, ratios


def environment():
    try:
        driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        driver = "unknown"
    import torchvision
    return {"gpu": torch.cuda.get_device_name(0), "driver": driver, "cuda_runtime": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "onnxruntime": ort.__version__,
            "ort_providers": ort.get_available_providers()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--glassbox", help="glassbox binary (omit to time only the other engines)")
    ap.add_argument("--models", nargs="+", default=[], metavar="NAME=PATH.onnx")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 32, 256])
    ap.add_argument("--conv-variants", nargs="+", default=["implicit_gemm", "implicit_gemm_tf32"])
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--iters", type=int, default=0, help="forwards per sample (default: >= ~50 ms, at most 200)")
    ap.add_argument("--json", help="write raw per-pair samples and the summary here")
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--skip-ort", action="store_true")
    ap.add_argument("--one-variant-at-a-time", action="store_true",
                    help="keep one glassbox process alive at a time (GPU memory); other engines are re-sampled")
    ap.add_argument("--interpret-all", action="store_true", help="run PyTorch on the ONNX interpreter for all models")
    ap.add_argument("--timeout", type=float, default=600, help="seconds to wait for a glassbox answer")
    ap.add_argument("--check-interpreter", metavar="MODEL.onnx", help=argparse.SUPPRESS)  # CPU-only self-test
    args = ap.parse_args()

    if args.check_interpreter:
        check_interpreter(OnnxNet(args.check_interpreter).eval(), args.check_interpreter)
        return
    if not args.models:
        ap.error("--models NAME=PATH.onnx ... is required")
    if not torch.cuda.is_available():
        sys.exit("no CUDA device visible to torch")
    env = environment()
    ort_ok = not args.skip_ort and "CUDAExecutionProvider" in env["ort_providers"]
    print("# glassbox vs PyTorch eager vs ONNX Runtime: forward throughput, one GPU\n")
    print("- GPU %s, driver %s, CUDA runtime %s (torch), cuDNN %s" % (env["gpu"], env["driver"],
                                                                     env["cuda_runtime"], env["cudnn"]))
    print("- torch %s, torchvision %s, onnxruntime %s (providers: %s)" % (
        env["torch"], env["torchvision"], env["onnxruntime"], ", ".join(env["ort_providers"])))
    print("- %d interleaved pairs per (model, batch), %s forwards per sample, float32 NCHW, input on the device\n"
          % (args.pairs, args.iters or "auto (>= ~50 ms)"), flush=True)

    results = []
    for spec in args.models:
        name, path = spec.split("=", 1)
        net, how, check = None, "skipped", None
        if not args.skip_torch:
            net, how, check = build_torch_net(name, path, args.interpret_all)
            net = net.cuda().eval()
        rows = []
        for batch in args.batch:
            records = bench_one(args, name, path, net, batch, ort_ok)
            ms, ratios = summarize(records, args.conv_variants if args.glassbox else [])
            results.append({"model": name, "path": path, "batch": batch, "torch_net": how,
                            "interpreter_check_max_abs_diff": check, "records": records,
                            "median_ms": ms, "ratios": ratios})
            fmt = lambda v: "%.2f" % v if v is not None else ""
            for v in args.conv_variants if args.glassbox else []:
                g = "glassbox " + v
                if g not in ms:
                    rows.append("| %d | %s | n/a (failed, see stderr) | | | | |" % (batch, g))
                    continue
                r = ratios[g]
                rows.append("| %d | %s | %.3f | %.0f | %s | %s | %s |" % (
                    batch, g, ms[g], batch * 1000.0 / ms[g], fmt(r.get("vs PyTorch TF32-off")),
                    fmt(r.get("vs PyTorch TF32-on")), fmt(r.get("vs ORT"))))
            for e in [e for e in ms if not e.startswith("glassbox ")]:
                rows.append("| %d | %s | %.3f | %.0f | | | |" % (batch, e, ms[e], batch * 1000.0 / ms[e]))
            if not args.skip_ort and "ONNX Runtime CUDA" not in ms:
                rows.append("| %d | ONNX Runtime CUDA | %s | | | | |" % (batch, "n/a (failed)" if ort_ok else ORT_NA))
        print("## %s (%s; PyTorch: %s)\n" % (name, path, how))
        print("| batch | engine/config | ms/forward | images/s | ratio vs PyTorch TF32-off "
              "| ratio vs PyTorch TF32-on | ratio vs ORT |")
        print("|---|---|---|---|---|---|---|")
        print("\n".join(rows) + "\n", flush=True)
        del net
        torch.cuda.empty_cache()
    print("ratio = median over pairs of glassbox ms / other ms (< 1: glassbox faster); PyTorch TF32-x is the "
          "faster of cudnn.benchmark False/True within each pair.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": env, "args": vars(args), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
