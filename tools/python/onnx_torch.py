#!/usr/bin/env python3
"""A small ONNX -> torch.nn.Module interpreter: PyTorch eager on exactly an ONNX graph, one torch.nn.functional call
per node. Used by bench_gpu.py (PyTorch timings of EfficientNet-Lite0) and make_gradient_goldens.py (float64
autograd gradients of the test models, at the input and at any ONNX value)."""
import math
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from onnx import numpy_helper

import backward_rules


class OnnxNet(torch.nn.Module):
    """Runs a static ONNX graph node by node with torch.nn.functional (PyTorch eager on exactly that graph).

    Initializers become buffers (so .cuda() moves them); attributes and constant-shape inputs (Clip bounds,
    Reshape shape, Pad pads, ReduceMean axes) are read once here. Each plan step is (fn, inputs, output)."""

    def __init__(self, path, rule=None):
        """rule: None, or "gradient", "deconvnet", "guided": Relu, Clip and LeakyRelu then run as
        backward_rules.Rectifier (their backward follows the rule)."""
        super().__init__()
        self.rule = rule
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
            if self.rule:
                return (lambda t: backward_rules.clip(t, lo, hi, self.rule)), x[:1]
            return (lambda t: torch.clamp(t, lo, hi)), x[:1]
        if op == "Relu" and self.rule:
            return (lambda t: backward_rules.relu(t, self.rule)), x[:1]
        if op == "LeakyRelu":
            alpha = float(a.get("alpha", 0.01))
            if self.rule:
                return (lambda t: backward_rules.leaky_relu(t, alpha, self.rule)), x[:1]
            return (lambda t: F.leaky_relu(t, alpha)), x[:1]
        if op == "Reshape":  # 0 copies the input dimension; the shape may be computed (Shape/Gather chains)
            if x[1] in self.consts:
                shape = [int(s) for s in self._const(node, 1)]
                return (lambda t: t.reshape([t.shape[i] if s == 0 else s for i, s in enumerate(shape)])), x[:1]
            return (lambda t, s: t.reshape([t.shape[i] if int(v) == 0 else int(v) for i, v in enumerate(s)])), x[:2]
        # Shape computations, evaluated at run time on int64 tensors (exporters build Reshape targets this way).
        if op == "Shape":
            return (lambda t: torch.tensor(t.shape, dtype=torch.int64)), x[:1]
        if op == "Gather":
            axis = a.get("axis", 0)
            return (lambda t, i: torch.index_select(t, axis, i.reshape(-1).long()).reshape(
                t.shape[:axis] + i.shape + t.shape[axis + 1:])), x[:2]
        if op == "Unsqueeze":  # axes: an attribute before opset 13, a constant input after
            axes = a.get("axes", None)
            if axes is None:
                axes = [int(v) for v in self._const(node, 1)]

            def unsqueeze(t):
                for ax in sorted(v % (t.dim() + len(axes)) for v in axes):
                    t = t.unsqueeze(ax)
                return t
            return unsqueeze, x[:1]
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
        raise NotImplementedError("ONNX op %s (node %s) is not covered by onnx_torch.py's interpreter "
                                  "(Shape/Gather/Unsqueeze chains and other dynamic-shape ops are not)"
                                  % (op, node.name))

    def forward(self, inp, retain=()):
        """The output; with retain, also {name: tensor} of those ONNX values (their .grad kept by autograd)."""
        env = dict(zip(self.const_names, self._buffers.values()))
        env[self.input_name] = inp
        kept = {}
        for fn, ins, out in self.plan:
            env[out] = fn(*[env[i] for i in ins])
            if out in retain:
                env[out].retain_grad()
                kept[out] = env[out]
        return (env[self.output_name], kept) if retain else env[self.output_name]


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
