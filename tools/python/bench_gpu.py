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
import torch.nn.functional as F
from onnx import numpy_helper

# torch >= 2.9 warns that allow_tf32 will give way to fp32_precision; the legacy flags still work.
warnings.filterwarnings("ignore", message=".*new API settings to control TF32.*")

# Networks that export_full_models.py exports from torchvision with weights=None: same graph in torchvision.
TORCHVISION = {"resnet18", "resnet50", "vgg16", "densenet121", "mobilenet_v2", "mobilenet_v3_small"}
TORCH_CONFIGS = [(tf32, bench) for tf32 in (False, True) for bench in (False, True)]
ORT_NA = "n/a (this onnxruntime build has no CUDA provider)"


def torch_label(tf32, bench):
    return "PyTorch TF32-%s cudnn.benchmark=%s" % ("on" if tf32 else "off", bench)


# ---------------------------------------------------------------- ONNX -> torch.nn.Module interpreter

class OnnxNet(torch.nn.Module):
    """Runs a static ONNX graph node by node with torch.nn.functional (PyTorch eager on exactly that graph).

    Initializers become buffers (so .cuda() moves them); attributes and constant-shape inputs (Clip bounds,
    Reshape shape, Pad pads, ReduceMean axes) are read once here. Each plan step is (fn, inputs, output)."""

    def __init__(self, path):
        super().__init__()
        model = onnx.load(path)
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
        g = model.graph
        self.consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self.const_names = []  # parallel to self._buffers
        self.input_name = next(i.name for i in g.input if i.name not in self.consts)
        self.output_name = g.output[0].name
        self.plan = []
        for node in g.node:
            a = {x.name: onnx.helper.get_attribute_value(x) for x in node.attribute}
            if node.op_type == "Constant":  # folded into the constant table
                v = a.get("value")
                v = numpy_helper.to_array(v) if v is not None else np.array(next(iter(a.values())))
                self.consts[node.output[0]] = v
                continue
            fn, ins = self._op(node, a)
            self.plan.append((fn, [self._tensor(i) for i in ins], node.output[0]))
        del self.consts  # everything the forward needs is now a buffer

    def _tensor(self, name):  # a runtime input: a constant becomes a buffer the first time it is used
        if name in self.consts and name not in self.const_names:
            self.register_buffer("c%d" % len(self.const_names), torch.from_numpy(np.array(self.consts[name])))
            self.const_names.append(name)
        return name

    def _const(self, node, i, default=None):  # a build-time constant input (optional inputs may be "")
        if len(node.input) <= i or not node.input[i]:
            return default
        if node.input[i] not in self.consts:
            raise NotImplementedError("%s %s: input %d must be a constant (dynamic shapes are not supported)"
                                      % (node.op_type, node.name, i))
        return self.consts[node.input[i]]

    @staticmethod
    def _pads(a, rank, what):  # ONNX pads [b1, b2, e1, e2] -> (padding for the op, F.pad tuple or None)
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID", "NOTSET", "VALID"):
            raise NotImplementedError("%s: auto_pad=%s is not supported" % (what, a["auto_pad"]))
        p = list(a.get("pads", [0] * 2 * rank))
        begin, end = p[:rank], p[rank:]
        if begin == end:
            return begin, None
        fpad = []
        for d in reversed(range(rank)):
            fpad += [begin[d], end[d]]
        return [0] * rank, tuple(fpad)

    def _op(self, node, a):
        op, x = node.op_type, list(node.input)
        if op == "Conv":
            k = list(a.get("kernel_shape", self.consts[x[1]].shape[2:]))
            if len(k) != 2:
                raise NotImplementedError("Conv %s: only 2-D convolutions" % node.name)
            pad, fpad = self._pads(a, 2, "Conv " + node.name)
            stride, dil, groups = a.get("strides", [1, 1]), a.get("dilations", [1, 1]), a.get("group", 1)

            def conv(t, w, b=None):
                if fpad:
                    t = F.pad(t, fpad)
                return F.conv2d(t, w, b, stride, pad, dil, groups)
            return conv, x
        if op == "BatchNormalization":  # inference form: X, scale, B, mean, var
            eps = a.get("epsilon", 1e-5)
            return (lambda t, s, b, m, v: F.batch_norm(t, m, v, s, b, False, 0.0, eps)), x[:5]
        if op in ("MaxPool", "AveragePool"):
            k, stride = a["kernel_shape"], a.get("strides", [1] * len(a["kernel_shape"]))
            if len(k) != 2:
                raise NotImplementedError("%s %s: only 2-D pooling" % (op, node.name))
            pad, fpad = self._pads(a, 2, op + " " + node.name)
            ceil = bool(a.get("ceil_mode", 0))
            if op == "MaxPool":
                dil = a.get("dilations", [1, 1])
                return (lambda t: F.max_pool2d(F.pad(t, fpad, value=-math.inf) if fpad else t, k, stride, pad,
                                               dil, ceil)), x[:1]
            incl = bool(a.get("count_include_pad", 0))
            if fpad and not incl:
                raise NotImplementedError("AveragePool %s: asymmetric pads without count_include_pad" % node.name)
            return (lambda t: F.avg_pool2d(F.pad(t, fpad) if fpad else t, k, stride, pad, ceil, incl)), x[:1]
        if op == "Clip":  # bounds: attributes before opset 11, constant inputs after
            lo = a.get("min", self._const(node, 1))
            hi = a.get("max", self._const(node, 2))
            lo, hi = (None if v is None else float(v) for v in (lo, hi))
            return (lambda t: torch.clamp(t, lo, hi)), x[:1]
        if op == "Reshape":  # constant shape; 0 copies the input dimension
            shape = [int(s) for s in self._const(node, 1)]
            return (lambda t: t.reshape([t.shape[i] if s == 0 else s for i, s in enumerate(shape)])), x[:1]
        if op == "Flatten":
            axis = a.get("axis", 1)
            return (lambda t: t.reshape(int(np.prod(t.shape[:axis])), -1)), x[:1]
        if op == "Gemm":
            ta, tb, alpha, beta = a.get("transA", 0), a.get("transB", 0), a.get("alpha", 1.0), a.get("beta", 1.0)
            if not ta and tb and alpha == 1.0 and (beta == 1.0 or len(x) < 3):
                return (lambda t, w, b=None: F.linear(t, w, b)), x
            def gemm(t, w, b=None):
                y = alpha * ((t.T if ta else t) @ (w.T if tb else w))
                return y if b is None else y + beta * b
            return gemm, x
        if op == "Pad":
            mode = a.get("mode", b"constant")
            mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}[
                mode.decode() if isinstance(mode, bytes) else mode]
            pads = [int(p) for p in (a["pads"] if "pads" in a else self._const(node, 1))]
            value = float(a.get("value", self._const(node, 2, 0.0)))
            n = len(pads) // 2
            fpad = [v for d in reversed(range(n)) for v in (pads[d], pads[d + n])]
            while len(fpad) > 2 and fpad[-1] == fpad[-2] == 0:  # F.pad wants only the dims it pads
                fpad = fpad[:-2]
            return (lambda t: F.pad(t, fpad, mode, value if mode == "constant" else None)), x[:1]
        if op == "ReduceMean":
            axes = a.get("axes", self._const(node, 1))
            keep = bool(a.get("keepdims", 1))
            axes = None if axes is None else tuple(int(v) for v in np.ravel(axes))
            return (lambda t: t.mean(axes if axes is not None else tuple(range(t.dim())), keepdim=keep)), x[:1]
        if op == "Softmax":  # opset < 13 coerces to 2-D at axis (default 1); same as dim=1 for a [N, C] input
            axis = a.get("axis", -1 if self.opset >= 13 else 1)
            return (lambda t: torch.softmax(t, axis)), x[:1]
        if op == "HardSigmoid":
            alpha, beta = a.get("alpha", 0.2), a.get("beta", 0.5)
            return (lambda t: torch.clamp(t * alpha + beta, 0.0, 1.0)), x[:1]
        if op == "Concat":
            axis = a["axis"]
            return (lambda *ts: torch.cat(ts, axis)), x
        simple = {"Relu": F.relu, "Sigmoid": torch.sigmoid, "HardSwish": F.hardswish, "Add": torch.add,
                  "Mul": torch.mul, "Sub": torch.sub, "Div": torch.div, "MatMul": torch.matmul,
                  "GlobalAveragePool": lambda t: t.mean(tuple(range(2, t.dim())), keepdim=True),
                  "Identity": lambda t: t, "Dropout": lambda t: t}
        if op in simple:
            return simple[op], x[:2] if op in ("Add", "Mul", "Sub", "Div", "MatMul") else x[:1]
        raise NotImplementedError("ONNX op %s (node %s) is not covered by bench_gpu.py's interpreter "
                                  "(Shape/Gather/Unsqueeze chains and other dynamic-shape ops are not)"
                                  % (op, node.name))

    def forward(self, inp):
        env = dict(zip(self.const_names, self._buffers.values()))
        env[self.input_name] = inp
        for fn, ins, out in self.plan:
            env[out] = fn(*[env[i] for i in ins])
        return env[self.output_name]


def input_shape(path, batch):  # NCHW with the batch dimension set; symbolic spatial dims default to 224
    g = onnx.load(path, load_external_data=False).graph
    inp = next(i for i in g.input if i.name not in {t.name for t in g.initializer})
    dims = [d.dim_value if d.HasField("dim_value") else None for d in inp.type.tensor_type.shape.dim]
    return [batch] + [d if d else 224 for d in dims[1:]]


def check_interpreter(net, path):
    """Interpreter on CPU vs onnxruntime's CPU provider, batch 1: a wrong graph must not yield a timing."""
    x = np.random.default_rng(0).uniform(-1, 1, input_shape(path, 1)).astype(np.float32)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ref = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    with torch.inference_mode():
        got = net(torch.from_numpy(x)).numpy()
    diff = float(np.abs(got - ref).max()) if got.shape == ref.shape else math.inf
    print("interpreter check %s: %d nodes, output %s, max |torch - onnxruntime CPU| = %.2e"
          % (path, len(net.plan), list(ref.shape), diff), flush=True)
    if diff > 1e-3:
        sys.exit("interpreter check failed for %s (max abs diff %.2e > 1e-3): refusing to time it" % (path, diff))
    return diff


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
