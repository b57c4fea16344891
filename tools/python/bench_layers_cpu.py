"""Per-layer CPU times of glassbox next to OpenVINO's (the yardstick): where the forward-pass gap is.

    build/bench-venv/bin/python tools/python/bench_layers_cpu.py --glassbox build/bin/glassbox \
        --model build/models/full/resnet50/model.onnx --threads 1 --top 25

glassbox: `glassbox bench MODEL --profile --profile-rounds R --profile-json FILE`, each step waited for, the median
of R passes per step. OpenVINO: the CPU plugin compiled as bench_cpu.py compiles it (fp32, same threads, latency
hint) with PERF_COUNT, the median of R inferences per executed node (get_profiling_info real_time). The two run one
after the other, not interleaved: the table locates the gap, bench_cpu.py measures it.

Matching: OpenVINO names a node after the ONNX node it comes from, with suffixes for what it split off
("/conv1/Conv/WithoutBiases"); a node matches the glassbox step whose ONNX node name is its name or a prefix of it
ending at a "/". Steps OpenVINO fused into a neighbour (a residual Add into its convolution, say) have no node of
their own and are listed as glassbox-only; OpenVINO's own nodes (layout reorders, the input conversion) as
OpenVINO-only. Where OpenVINO rewrites a node under a new name (a BatchNormalization folded into the convolution
before it: the bundled EfficientNet-Lite0's become "Multiply_N") the layers do not match and land in those two
groups; the totals still compare. torchvision exports (resnet50, mobilenet_v2) match layer by layer. Prints a
markdown table of the slowest matched layers and the totals of each group.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

import numpy as np
import openvino as ov

from bench_cpu import cpu_flags, cpu_name, model_label, ov_compile


def glassbox_steps(binary, model, batch, threads, rounds):
    """[{node, op, shape, ms}] in execution order, each step's median over `rounds` profiled passes."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "steps.json")
        subprocess.run([binary, "bench", model, "--batch", str(batch), "--threads", str(threads), "--iters", "3",
                        "--profile", "--profile-rounds", str(rounds), "--profile-json", path],
                       check=True, stdout=subprocess.DEVNULL)
        with open(path) as f:
            return json.load(f)


def openvino_nodes(model, batch, threads, rounds):
    """{node name: (median ms, layer type, exec type)} over the executed nodes of `rounds` inferences, the input
    at `batch` with the model's other dimensions (a symbolic one taken as 224)."""
    core = ov.Core()
    core.set_property("CPU", {"PERF_COUNT": "YES"})
    dims = list(core.read_model(model).inputs[0].get_partial_shape())[1:]
    shape = [batch] + [d.get_length() if d.is_static else 224 for d in dims]
    compiled = ov_compile(core, model, shape, threads)
    req = compiled.create_infer_request()
    x = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    req.set_input_tensor(ov.Tensor(x, shared_memory=True))
    for _ in range(3):
        req.infer()
    samples, kind = {}, {}
    for _ in range(rounds):
        req.infer()
        for info in req.get_profiling_info():
            if info.status.name != "EXECUTED":
                continue
            samples.setdefault(info.node_name, []).append(info.real_time.total_seconds() * 1e3)
            kind[info.node_name] = (info.node_type, info.exec_type)
    return {n: (statistics.median(t), *kind[n]) for n, t in samples.items()}


def match(ov_name, gb_names):
    """The glassbox step name OpenVINO's node comes from, or None."""
    best = None
    for g in gb_names:
        if (ov_name == g or ov_name.startswith(g + "/")) and (best is None or len(g) > len(best)):
            best = g
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--glassbox", default="build/bin/glassbox")
    ap.add_argument("--model", nargs="+", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=15, help="passes per engine; each layer's median is reported")
    ap.add_argument("--top", type=int, default=25, help="matched layers shown, slowest glassbox first")
    ap.add_argument("--json", help="write every layer here")
    args = ap.parse_args()
    print("CPU: %s, %d logical cores (%s); OpenVINO %s; batch %d, %d thread(s), median of %d passes per layer\n" %
          (cpu_name(), os.cpu_count(), " ".join(cpu_flags()), ov.get_version(), args.batch, args.threads,
           args.rounds))
    out = []
    for model in args.model:
        label = model_label(model)
        steps = glassbox_steps(args.glassbox, model, args.batch, args.threads, args.rounds)
        names = [s["node"] for s in steps]
        nodes = openvino_nodes(model, args.batch, args.threads, args.rounds)
        ov_by_step, ov_only = {}, 0.0
        for n, (ms, _, exec_type) in nodes.items():
            g = match(n, names)
            if g is None:
                ov_only += ms
            else:
                t = ov_by_step.setdefault(g, [0.0, set()])
                t[0] += ms
                t[1].add(exec_type)
        rows = [(s["ms"], s, ov_by_step.get(s["node"])) for s in steps]
        matched = [r for r in rows if r[2] is not None]
        gb_only = sum(r[0] for r in rows if r[2] is None)
        print("### %s\n" % label)
        print("| layer (ONNX node) | glassbox op | output | glassbox ms | OpenVINO ms | glassbox / OpenVINO | "
              "OpenVINO kernel |")
        print("|---|---|---|---|---|---|---|")
        for ms, s, (ov_ms, kinds) in sorted(matched, key=lambda r: -r[0])[:args.top]:
            print("| %s | %s | %s | %.3f | %.3f | %.2f | %s |" % (s["node"], s["op"], s["shape"], ms, ov_ms,
                                                                ms / ov_ms if ov_ms > 0 else float("nan"),
                                                                " ".join(sorted(kinds))))
        gb_matched = sum(r[0] for r in matched)
        ov_matched = sum(r[2][0] for r in matched)
        print("| **%d matched layers** | | | %.2f | %.2f | %.2f | |" % (len(matched), gb_matched, ov_matched,
                                                                       gb_matched / ov_matched))
        print("| steps OpenVINO fused into a neighbour (glassbox only) | | | %.2f | | | |" % gb_only)
        print("| OpenVINO's own nodes (reorders, conversions) | | | | %.2f | | |" % ov_only)
        gb_total, ov_total = gb_matched + gb_only, ov_matched + ov_only
        print("| **total (sum of layers)** | | | %.2f | %.2f | %.2f | |\n" % (gb_total, ov_total, gb_total / ov_total))
        out.append({"model": label, "batch": args.batch, "threads": args.threads, "rounds": args.rounds,
                    "layers": [{"node": s["node"], "op": s["op"], "shape": s["shape"], "glassbox_ms": ms,
                                "openvino_ms": o[0] if o else None, "openvino_kernels": sorted(o[1]) if o else None}
                               for ms, s, o in rows],
                    "glassbox_only_ms": gb_only, "openvino_only_ms": ov_only})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
