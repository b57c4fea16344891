#!/usr/bin/env python3
"""Generate glassbox's single-operator golden test cases.

    python make_op_goldens.py [--out tests/data/ops] [--only SUBSTRING]

Every case is a tiny ONNX graph (usually one node) built with onnx.helper,
written in the ONNX backend-test layout:

    OUT/<case>/model.onnx
    OUT/<case>/test_data_set_0/input_<i>.pb   graph inputs, in graph order
    OUT/<case>/test_data_set_0/output_<i>.pb  expected outputs, in graph order

Each .pb is a serialized onnx.TensorProto whose name is the graph
input/output name. Data inputs are float32 from numpy's normal distribution,
seeded per case from the case name (so adding a case leaves the others
unchanged). Weights, shapes, pads, axes, Clip bounds and the like are
initializers. Expected outputs come from onnxruntime's CPU provider with all
graph optimizations disabled, so ORT evaluates the graph as written.

Each model imports exactly one opset of the default domain (the one in the
case name) and carries the lowest IR version that opset allows.

Existing case folders under OUT (those holding a model.onnx) are removed
before writing, so the output is exactly the current case list. Needs only
numpy, onnx and onnxruntime (see requirements-dev.txt).
"""

import argparse
import os
import shutil
import sys
import zlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

CASES = []


class Case:
    """One golden case: a graph under construction plus its input data."""

    def __init__(self, name, opset):
        assert name.endswith("_opset%d" % opset), name
        assert all(c.name != name for c in CASES), "duplicate case " + name
        self.name = name
        self.opset = opset
        self.rng = np.random.default_rng(zlib.crc32(name.encode()))
        self.inputs = []  # (name, array, dims or None)
        self.inits = []  # TensorProto
        self.nodes = []
        self.outputs = []  # (name, dims or None)
        # Set only where onnxruntime cannot run a valid graph: a function of
        # the feeds giving the expected outputs by the ONNX spec.
        self.reference = None
        # Set only where onnxruntime's result departs from the ONNX spec: a
        # function mapping ORT's outputs to the spec's.
        self.fixup = None
        CASES.append(self)

    # data helpers
    def randn(self, *shape, scale=1.0):
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)

    def uniform(self, lo, hi, *shape):
        return self.rng.uniform(lo, hi, shape).astype(np.float32)

    def nonzero(self, *shape):
        """Values with |v| in [0.5, 2]: a safe divisor."""
        mag = self.rng.uniform(0.5, 2.0, shape)
        sign = np.where(self.rng.random(shape) < 0.5, -1.0, 1.0)
        return (mag * sign).astype(np.float32)

    # graph helpers
    def input(self, name, arr, dims=None):
        self.inputs.append((name, np.asarray(arr), dims))
        return name

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(self, op, ins, outs, **attrs):
        self.nodes.append(helper.make_node(op, list(ins), list(outs),
                                           name="%s_%d" % (op, len(self.nodes)), **attrs))
        return outs[0] if len(outs) == 1 else outs

    def output(self, name, dims=None):
        self.outputs.append((name, dims))
        return name


def single(c, op, ins, attrs=None, outs=("y",)):
    c.node(op, ins, outs, **(attrs or {}))
    for o in outs:
        c.output(o)
    return c


def f32(x):
    return np.asarray(x, dtype=np.float32)


def i64(x):
    return np.asarray(x, dtype=np.int64)


# --------------------------------------------------------------------------
# Conv
# --------------------------------------------------------------------------

def conv(name, opset, x, w, bias=True, **attrs):
    c = Case(name, opset)
    c.input("x", c.randn(*x))
    c.init("w", c.randn(*w, scale=1.0 / np.sqrt(np.prod(w[1:]))))
    ins = ["x", "w"]
    if bias:
        c.init("b", c.randn(w[0], scale=0.5))
        ins.append("b")
    single(c, "Conv", ins, attrs)


def conv_cases():
    conv("conv_3x3_pad1_bias_opset11", 11, (1, 3, 7, 7), (4, 3, 3, 3),
         kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    conv("conv_3x3_nobias_opset13", 13, (2, 3, 6, 6), (5, 3, 3, 3), bias=False)
    conv("conv_3x3_nobias_opset21", 21, (1, 4, 5, 5), (3, 4, 3, 3), bias=False, pads=[1, 1, 1, 1])
    conv("conv_1x1_opset17", 17, (2, 8, 5, 5), (6, 8, 1, 1), kernel_shape=[1, 1])
    conv("conv_1x1_s2_nobias_opset21", 21, (1, 4, 7, 7), (8, 4, 1, 1), bias=False, strides=[2, 2])
    conv("conv_5x5_pad2_opset21", 21, (1, 3, 9, 9), (4, 3, 5, 5), pads=[2, 2, 2, 2])
    conv("conv_5x5_opset11", 11, (1, 2, 8, 7), (3, 2, 5, 5))
    conv("conv_7x7_s2_pad3_nobias_opset13", 13, (1, 3, 9, 9), (8, 3, 7, 7), bias=False,
         kernel_shape=[7, 7], strides=[2, 2], pads=[3, 3, 3, 3])
    conv("conv_7x7_s2_pad3_opset17", 17, (2, 3, 8, 8), (4, 3, 7, 7),
         strides=[2, 2], pads=[3, 3, 3, 3])
    conv("conv_3x3_s2_pad1_opset11", 11, (1, 4, 8, 8), (6, 4, 3, 3), strides=[2, 2], pads=[1, 1, 1, 1])
    conv("conv_3x3_s2_nopad_opset13", 13, (1, 3, 9, 9), (4, 3, 3, 3), strides=[2, 2])
    conv("conv_3x3_s3_pad1_opset21", 21, (1, 2, 9, 9), (3, 2, 3, 3), strides=[3, 3], pads=[1, 1, 1, 1])
    conv("conv_strides_2x1_opset17", 17, (1, 3, 8, 7), (4, 3, 3, 3), strides=[2, 1], pads=[1, 1, 1, 1])
    conv("conv_dil2_opset11", 11, (1, 3, 9, 9), (4, 3, 3, 3), dilations=[2, 2])
    conv("conv_dil2_pad2_opset17", 17, (1, 3, 8, 8), (4, 3, 3, 3), dilations=[2, 2], pads=[2, 2, 2, 2])
    conv("conv_dil_1x2_pad_opset13", 13, (1, 2, 7, 9), (3, 2, 3, 3), dilations=[1, 2], pads=[1, 2, 1, 2])
    conv("conv_dil2_s2_opset21", 21, (1, 3, 9, 9), (2, 3, 3, 3), dilations=[2, 2], strides=[2, 2],
         pads=[1, 1, 1, 1])
    conv("conv_group2_opset11", 11, (1, 4, 6, 6), (6, 2, 3, 3), group=2, pads=[1, 1, 1, 1])
    conv("conv_group2_dil2_opset13", 13, (2, 4, 9, 9), (4, 2, 3, 3), group=2, dilations=[2, 2])
    conv("conv_group4_s2_pad1_opset21", 21, (1, 8, 7, 7), (8, 2, 3, 3), group=4, strides=[2, 2],
         pads=[1, 1, 1, 1])
    conv("conv_group2_1x1_nobias_opset17", 17, (1, 6, 4, 4), (4, 3, 1, 1), bias=False, group=2)
    conv("conv_depthwise_opset17", 17, (1, 8, 7, 7), (8, 1, 3, 3), group=8, pads=[1, 1, 1, 1])
    conv("conv_depthwise_s2_pad1_nobias_opset21", 21, (2, 6, 8, 8), (6, 1, 3, 3), bias=False,
         group=6, strides=[2, 2], pads=[1, 1, 1, 1])
    conv("conv_depthwise_mult2_opset13", 13, (1, 4, 6, 6), (8, 1, 3, 3), group=4)
    conv("conv_depthwise_5x5_s2_pad2_opset11", 11, (1, 8, 9, 9), (8, 1, 5, 5), group=8,
         strides=[2, 2], pads=[2, 2, 2, 2])
    conv("conv_depthwise_dil2_opset13", 13, (1, 4, 9, 9), (4, 1, 3, 3), group=4, dilations=[2, 2],
         pads=[2, 2, 2, 2])
    conv("conv_asym_pads_opset17", 17, (1, 3, 6, 6), (4, 3, 3, 3), pads=[0, 1, 2, 1])
    conv("conv_asym_pads_s2_opset11", 11, (1, 3, 7, 8), (4, 3, 3, 3), strides=[2, 2], pads=[1, 0, 0, 1])
    conv("conv_autopad_same_upper_s2_opset11", 11, (1, 3, 8, 8), (4, 3, 3, 3), auto_pad="SAME_UPPER",
         strides=[2, 2])
    conv("conv_autopad_same_upper_k2_opset17", 17, (1, 3, 5, 6), (4, 3, 2, 2), auto_pad="SAME_UPPER")
    conv("conv_autopad_same_lower_s2_opset13", 13, (1, 3, 8, 8), (4, 3, 3, 3), auto_pad="SAME_LOWER",
         strides=[2, 2])
    conv("conv_autopad_same_lower_k4_opset21", 21, (1, 2, 6, 6), (3, 2, 4, 4), auto_pad="SAME_LOWER")
    conv("conv_autopad_same_upper_dw_s2_opset13", 13, (1, 4, 7, 7), (4, 1, 3, 3), group=4,
         auto_pad="SAME_UPPER", strides=[2, 2])
    conv("conv_autopad_valid_s2_opset21", 21, (1, 3, 7, 7), (4, 3, 3, 3), auto_pad="VALID", strides=[2, 2])
    conv("conv_autopad_valid_opset11", 11, (1, 3, 6, 5), (2, 3, 3, 3), auto_pad="VALID")
    conv("conv_kernel_1x3_pad01_opset17", 17, (1, 3, 5, 7), (4, 3, 1, 3), pads=[0, 1, 0, 1])
    conv("conv_kernel_3x1_pad10_opset13", 13, (1, 3, 7, 5), (4, 3, 3, 1), pads=[1, 0, 1, 0])
    conv("conv_kernel_2x5_s_2x1_opset11", 11, (1, 2, 8, 9), (3, 2, 2, 5), strides=[2, 1], pads=[0, 2, 1, 2])
    conv("conv_nonsquare_input_opset21", 21, (2, 3, 5, 9), (4, 3, 3, 3), pads=[1, 1, 1, 1])
    conv("conv_out1x1_opset13", 13, (1, 8, 3, 3), (5, 8, 3, 3))
    conv("conv_3x3_s2_pad1_opset15", 15, (2, 3, 7, 7), (4, 3, 3, 3), strides=[2, 2], pads=[1, 1, 1, 1])
    conv("conv_group2_s2_opset20", 20, (1, 4, 8, 8), (4, 2, 3, 3), group=2, strides=[2, 2],
         pads=[1, 1, 1, 1])


# --------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------

def pool(op, name, opset, x, **attrs):
    c = Case(name, opset)
    c.input("x", c.randn(*x))
    single(c, op, ["x"], attrs)


def maxpool_cases():
    mp = lambda *a, **k: pool("MaxPool", *a, **k)
    mp("maxpool_k2_s2_opset11", 11, (1, 3, 8, 8), kernel_shape=[2, 2], strides=[2, 2])
    mp("maxpool_k2_s2_odd_opset13", 13, (1, 2, 7, 7), kernel_shape=[2, 2], strides=[2, 2])
    mp("maxpool_k3_s2_pad1_opset13", 13, (2, 4, 9, 9), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    mp("maxpool_k3_s1_pad1_opset17", 17, (1, 3, 6, 6), kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    mp("maxpool_k2_default_stride_opset21", 21, (1, 2, 5, 5), kernel_shape=[2, 2])
    mp("maxpool_k3_s2_ceil_opset11", 11, (1, 2, 8, 8), kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    mp("maxpool_k3_s2_floor_opset11", 11, (1, 2, 8, 8), kernel_shape=[3, 3], strides=[2, 2], ceil_mode=0)
    mp("maxpool_ceil_pads_opset11", 11, (1, 2, 8, 8), kernel_shape=[3, 3], strides=[2, 2],
       pads=[1, 1, 1, 1], ceil_mode=1)
    # ceil_mode where the last window would start inside the right padding:
    # the spec ("Sliding windows that would start in the right padded region
    # are ignored") and PyTorch give 4x4. onnxruntime 1.20.1 gives 5x5 with
    # -FLT_MAX in the extra row and column, so its result is cropped to 4x4
    # (the 4x4 part matches PyTorch's max_pool2d exactly).
    mp("maxpool_ceil_edge_window_opset13", 13, (1, 2, 7, 7), kernel_shape=[2, 2], strides=[2, 2],
       pads=[1, 1, 1, 1], ceil_mode=1)
    CASES[-1].fixup = lambda outs: [outs[0][:, :, :4, :4].copy()]
    mp("maxpool_ceil_squeezenet_opset17", 17, (1, 3, 9, 9), kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    mp("maxpool_dil2_opset12", 12, (1, 2, 9, 9), kernel_shape=[2, 2], dilations=[2, 2])
    mp("maxpool_dil2_s2_pad1_opset17", 17, (1, 2, 9, 9), kernel_shape=[3, 3], dilations=[2, 2],
       strides=[2, 2], pads=[1, 1, 1, 1])
    mp("maxpool_autopad_same_upper_opset11", 11, (1, 2, 8, 8), kernel_shape=[3, 3], strides=[2, 2],
       auto_pad="SAME_UPPER")
    mp("maxpool_autopad_same_upper_k2_opset13", 13, (1, 2, 5, 5), kernel_shape=[2, 2], auto_pad="SAME_UPPER")
    mp("maxpool_autopad_same_lower_opset13", 13, (1, 2, 8, 8), kernel_shape=[3, 3], strides=[2, 2],
       auto_pad="SAME_LOWER")
    mp("maxpool_autopad_valid_opset21", 21, (1, 2, 7, 7), kernel_shape=[3, 3], strides=[2, 2],
       auto_pad="VALID")
    mp("maxpool_asym_pads_opset13", 13, (1, 3, 7, 7), kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 1, 1])
    mp("maxpool_k3x2_s2x1_opset17", 17, (1, 2, 8, 6), kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 0])
    mp("maxpool_global_like_opset21", 21, (2, 3, 4, 4), kernel_shape=[4, 4])
    mp("maxpool_k3_s2_pad1_opset16", 16, (1, 3, 7, 7), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    mp("maxpool_k2_s2_opset20", 20, (1, 2, 6, 6), kernel_shape=[2, 2], strides=[2, 2])


def avgpool_cases():
    ap = lambda *a, **k: pool("AveragePool", *a, **k)
    ap("avgpool_k2_s2_opset11", 11, (1, 3, 8, 8), kernel_shape=[2, 2], strides=[2, 2])
    ap("avgpool_k2_s2_opset14", 14, (2, 4, 6, 6), kernel_shape=[2, 2], strides=[2, 2])
    ap("avgpool_k3_s1_pad1_cip0_opset11", 11, (1, 2, 6, 6), kernel_shape=[3, 3], pads=[1, 1, 1, 1],
       count_include_pad=0)
    ap("avgpool_k3_s1_pad1_cip1_opset11", 11, (1, 2, 6, 6), kernel_shape=[3, 3], pads=[1, 1, 1, 1],
       count_include_pad=1)
    ap("avgpool_k3_s2_pad1_cip0_opset19", 19, (1, 2, 9, 9), kernel_shape=[3, 3], strides=[2, 2],
       pads=[1, 1, 1, 1])
    ap("avgpool_k3_s2_pad1_cip1_opset13", 13, (1, 2, 9, 9), kernel_shape=[3, 3], strides=[2, 2],
       pads=[1, 1, 1, 1], count_include_pad=1)
    ap("avgpool_k2_s2_ceil_opset11", 11, (1, 2, 7, 7), kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    ap("avgpool_k3_s2_ceil_opset17", 17, (1, 2, 8, 8), kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    ap("avgpool_ceil_pads_cip0_opset19", 19, (1, 2, 8, 8), kernel_shape=[3, 3], strides=[2, 2],
       pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=0)
    # The last (ceil) window hangs past the padded input. onnxruntime and the
    # ONNX reference evaluator divide by the full kernel size (9) there;
    # PyTorch's avg_pool2d divides by the part inside the padded input (6).
    # The expected output is onnxruntime's.
    ap("avgpool_ceil_pads_cip1_opset19", 19, (1, 2, 8, 8), kernel_shape=[3, 3], strides=[2, 2],
       pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1)
    ap("avgpool_asym_pads_cip0_opset13", 13, (1, 2, 7, 7), kernel_shape=[2, 2], strides=[2, 2],
       pads=[0, 0, 1, 1])
    ap("avgpool_asym_pads_cip1_opset17", 17, (1, 2, 7, 7), kernel_shape=[2, 2], strides=[2, 2],
       pads=[0, 0, 1, 1], count_include_pad=1)
    ap("avgpool_autopad_same_upper_opset11", 11, (1, 2, 8, 8), kernel_shape=[3, 3], strides=[2, 2],
       auto_pad="SAME_UPPER")
    ap("avgpool_autopad_valid_opset21", 21, (1, 2, 7, 7), kernel_shape=[3, 3], strides=[2, 2],
       auto_pad="VALID")
    ap("avgpool_k3x2_opset21", 21, (1, 3, 6, 5), kernel_shape=[3, 2], strides=[1, 2])
    ap("avgpool_dil2_opset19", 19, (1, 2, 9, 9), kernel_shape=[2, 2], dilations=[2, 2])
    ap("avgpool_k7_opset13", 13, (1, 4, 7, 7), kernel_shape=[7, 7])
    ap("avgpool_k3_s1_pad1_cip1_opset20", 20, (1, 2, 5, 5), kernel_shape=[3, 3], pads=[1, 1, 1, 1],
       count_include_pad=1)


def global_avgpool_cases():
    for name, opset, x in [("globalavgpool_opset11", 11, (2, 4, 5, 7)),
                           ("globalavgpool_opset21", 21, (1, 8, 3, 3)),
                           ("globalavgpool_1x1_opset13", 13, (2, 3, 1, 1))]:
        c = Case(name, opset)
        c.input("x", c.randn(*x))
        single(c, "GlobalAveragePool", ["x"])


# --------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------

def unary(op, name, opset, x=(2, 3, 4, 5), scale=1.0, **attrs):
    c = Case(name, opset)
    c.input("x", c.randn(*x, scale=scale))
    single(c, op, ["x"], attrs)


def activation_cases():
    unary("Relu", "relu_opset11", 11)
    unary("Relu", "relu_opset13", 13, x=(1, 8, 3, 3))
    unary("Relu", "relu_opset14", 14)
    unary("Relu", "relu_2d_opset21", 21, x=(3, 7))
    unary("LeakyRelu", "leakyrelu_default_opset11", 11)
    unary("LeakyRelu", "leakyrelu_alpha0p1_opset16", 16, alpha=0.1)
    unary("LeakyRelu", "leakyrelu_alpha0p2_opset13", 13, alpha=0.2)
    unary("Sigmoid", "sigmoid_opset11", 11, scale=3.0)
    unary("Sigmoid", "sigmoid_opset13", 13, scale=3.0)
    unary("Sigmoid", "sigmoid_opset21", 21, x=(2, 10), scale=5.0)
    unary("HardSigmoid", "hardsigmoid_default_opset11", 11, scale=4.0)
    unary("HardSigmoid", "hardsigmoid_alpha1_6_opset13", 13, scale=4.0, alpha=1.0 / 6.0, beta=0.5)
    unary("HardSigmoid", "hardsigmoid_custom_opset21", 21, scale=4.0, alpha=0.3, beta=0.4)
    unary("HardSwish", "hardswish_opset14", 14, scale=4.0)
    unary("HardSwish", "hardswish_opset17", 17, x=(1, 8, 3, 3), scale=4.0)
    unary("HardSwish", "hardswish_opset21", 21, scale=4.0)
    unary("Relu", "relu_opset16", 16, x=(2, 4, 3, 3))
    unary("Sigmoid", "sigmoid_opset20", 20, x=(1, 4, 3, 3), scale=3.0)


# --------------------------------------------------------------------------
# Clip (min/max became optional inputs in opset 11)
# --------------------------------------------------------------------------

def clip(name, opset, lo, hi, scale=2.0):
    c = Case(name, opset)
    c.input("x", c.randn(2, 3, 4, 4, scale=scale))
    ins = ["x", "", ""]
    if lo is not None:
        ins[1] = c.init("min", f32(lo))
    if hi is not None:
        ins[2] = c.init("max", f32(hi))
    while ins and ins[-1] == "":
        ins.pop()
    single(c, "Clip", ins)


def clip_cases():
    clip("clip_minmax_opset11", 11, -0.5, 0.7)
    clip("clip_minmax_opset13", 13, -1.0, 0.25)
    clip("clip_relu6_opset11", 11, 0.0, 6.0, scale=4.0)
    clip("clip_relu6_opset13", 13, 0.0, 6.0, scale=4.0)
    clip("clip_relu6_opset17", 17, 0.0, 6.0, scale=4.0)
    clip("clip_min_only_opset12", 12, 0.2, None)
    clip("clip_min_only_opset21", 21, -0.3, None)
    clip("clip_max_only_opset13", 13, None, 0.5)
    clip("clip_noargs_opset11", 11, None, None)
    # ReLU6 the way the PyTorch exporter writes it: bounds from Constant nodes.
    c = Case("clip_relu6_constant_nodes_opset12", 12)
    c.input("x", c.randn(1, 4, 3, 3, scale=4.0))
    c.node("Constant", [], ["lo"], value=numpy_helper.from_array(f32(0.0), "lo"))
    c.node("Constant", [], ["hi"], value=numpy_helper.from_array(f32(6.0), "hi"))
    single(c, "Clip", ["x", "lo", "hi"])


# --------------------------------------------------------------------------
# ReduceMean (axes attribute before opset 18, axes input from 18)
# --------------------------------------------------------------------------

def reducemean(name, opset, axes, keepdims=None, noop=None, x=(2, 3, 4, 5)):
    reduce_op("ReduceMean", name, opset, axes, keepdims, noop, x)


def reducemean_cases():
    reducemean("reducemean_axes23_keep1_opset11", 11, [2, 3], 1)
    reducemean("reducemean_axes23_keep0_opset13", 13, [2, 3], 0)
    reducemean("reducemean_axis1_keep1_opset13", 13, [1])
    reducemean("reducemean_axisneg1_keep0_opset11", 11, [-1], 0)
    reducemean("reducemean_noaxes_keep1_opset11", 11, None, 1)
    reducemean("reducemean_noaxes_keep0_opset13", 13, None, 0)
    reducemean("reducemean_axes23_keep1_opset18", 18, [2, 3], 1)
    reducemean("reducemean_axes23_keep0_opset21", 21, [2, 3], 0)
    reducemean("reducemean_axes23_keep1_opset20", 20, [2, 3], 1)
    reducemean("reducemean_axisneg1_keep0_opset18", 18, [-1], 0)
    reducemean("reducemean_axes02_keep1_opset18", 18, [0, 2])
    reducemean("reducemean_noaxes_keep1_opset18", 18, None, 1)
    reducemean("reducemean_noaxes_keep0_opset21", 21, None, 0)
    reducemean("reducemean_noop_noaxes_opset18", 18, None, 1, noop=1)
    # onnxruntime 1.20.1 rejects noop_with_empty_axes=1 with the axes input
    # omitted ("Reduction on all axes, output size should be 1"); the spec
    # says the op is then an identity, so that is the expected output.
    CASES[-1].reference = lambda feeds: [feeds["x"].copy()]
    reducemean("reducemean_noop_emptyaxes_opset18", 18, [], 1, noop=1)


# --------------------------------------------------------------------------
# ReduceSum, ReduceL1, ReduceL2, ReduceSumSquare, ReduceMax, ReduceMin,
# ReduceLogSum, ReduceLogSumExp (axes an attribute before opset 18, an input
# from 18; ReduceSum's an input from 13)
# --------------------------------------------------------------------------

def reduce_op(op, name, opset, axes, keepdims=None, noop=None, x=(2, 3, 4, 5), positive=False):
    c = Case(name, opset)
    c.input("x", c.uniform(0.5, 2.0, *x) if positive else c.randn(*x))
    attrs = {}
    if keepdims is not None:
        attrs["keepdims"] = keepdims
    ins = ["x"]
    if opset < (13 if op == "ReduceSum" else 18):
        if axes is not None:
            attrs["axes"] = axes
    else:
        if axes is not None:
            ins.append(c.init("axes", i64(axes)))
        if noop is not None:
            attrs["noop_with_empty_axes"] = noop
    single(c, op, ins, attrs)


def reduce_cases():
    reduce_op("ReduceSum", "reduce_sum_axes23_keep1_opset11", 11, [2, 3], 1)
    reduce_op("ReduceSum", "reduce_sum_axis1_negative_keep0_opset13", 13, [1, -1], 0)
    reduce_op("ReduceSum", "reduce_sum_noaxes_keep1_opset13", 13, None, 1)
    reduce_op("ReduceSum", "reduce_sum_emptyaxes_keep0_opset18", 18, [], 0)
    reduce_op("ReduceSum", "reduce_sum_noop_emptyaxes_opset13", 13, [], 1, noop=1)
    # Swin V2's F.normalize: ReduceL2 over the last axis, keepdims, opset 17 (axes an attribute).
    reduce_op("ReduceL2", "reduce_l2_lastaxis_keep1_opset17", 17, [-1], 1, x=(2, 3, 7, 32))
    reduce_op("ReduceL2", "reduce_l2_axes02_keep0_opset18", 18, [0, 2], 0)
    reduce_op("ReduceL2", "reduce_l2_noaxes_keep1_opset13", 13, None, 1)
    reduce_op("ReduceSumSquare", "reduce_sumsquare_axis1_opset13", 13, [1])
    reduce_op("ReduceSumSquare", "reduce_sumsquare_axes13_keep0_opset18", 18, [1, 3], 0)
    reduce_op("ReduceL1", "reduce_l1_axes23_opset11", 11, [2, 3])
    reduce_op("ReduceL1", "reduce_l1_lastaxis_keep0_opset18", 18, [-1], 0)
    reduce_op("ReduceMax", "reduce_max_axis1_keep1_opset13", 13, [1], 1)
    reduce_op("ReduceMax", "reduce_max_lastaxis_keep0_opset18", 18, [-1], 0)
    reduce_op("ReduceMax", "reduce_max_noaxes_keep0_opset20", 20, None, 0)
    reduce_op("ReduceMin", "reduce_min_axes02_opset11", 11, [0, 2])
    reduce_op("ReduceMin", "reduce_min_axes23_keep0_opset18", 18, [2, 3], 0)
    reduce_op("ReduceLogSum", "reduce_logsum_axis1_opset13", 13, [1], positive=True)
    reduce_op("ReduceLogSum", "reduce_logsum_axes23_keep0_opset18", 18, [2, 3], 0, positive=True)
    reduce_op("ReduceLogSumExp", "reduce_logsumexp_lastaxis_opset13", 13, [-1])
    reduce_op("ReduceLogSumExp", "reduce_logsumexp_axes01_keep0_opset18", 18, [0, 1], 0)


# --------------------------------------------------------------------------
# Einsum (opset 12+): MaxViT's equations, attention, implicit output,
# ellipsis and size-1 broadcasting, one operand
# --------------------------------------------------------------------------

def einsum(name, opset, equation, *shapes):
    c = Case(name, opset)
    ins = [c.input("x%d" % i, c.randn(*s)) for i, s in enumerate(shapes)]
    single(c, "Einsum", ins, {"equation": equation})


def einsum_cases():
    einsum("einsum_maxvit_qk_opset17", 17, "B G H I D, B G H J D -> B G H I J", (1, 3, 2, 7, 8), (1, 3, 2, 7, 8))
    einsum("einsum_maxvit_av_opset17", 17, "B G H I J, B G H J D -> B G H I D", (2, 3, 2, 7, 7), (2, 3, 2, 7, 8))
    einsum("einsum_bhqd_bhkd_opset12", 12, "bhqd,bhkd->bhqk", (2, 3, 5, 8), (2, 3, 6, 8))
    einsum("einsum_matmul_implicit_opset12", 12, "ij,jk", (5, 7), (7, 3))
    einsum("einsum_transposed_output_opset13", 13, "ik,kj->ji", (6, 9), (9, 4))
    einsum("einsum_batch_last_opset13", 13, "bij,bjk->ikb", (3, 5, 7), (3, 7, 4))
    einsum("einsum_sum_label_of_one_operand_opset13", 13, "ij,jk->k", (5, 6), (6, 4))
    einsum("einsum_outer_implicit_opset12", 12, "i,j", (5,), (3,))
    einsum("einsum_dot_scalar_opset13", 13, "ij,ij->", (4, 5), (4, 5))
    einsum("einsum_ellipsis_broadcast_opset13", 13, "...ij,...jk->...ik", (5, 2, 3), (1, 3, 4))
    einsum("einsum_ellipsis_trailing_opset17", 17, "ij...,jk...->ik...", (2, 3, 5), (3, 4, 5))
    einsum("einsum_letter_broadcast_opset13", 13, "ij,jk->ik", (2, 1), (3, 4))
    einsum("einsum_two_contracted_permuted_opset21", 21, "abcd,cdbe->aeb", (3, 4, 5, 6), (5, 6, 4, 7))
    einsum("einsum_spaces_opset12", 12, " i j , j k -> i k ", (3, 4), (4, 2))
    einsum("einsum_transpose_one_operand_opset12", 12, "ij->ji", (3, 5))
    einsum("einsum_sum_one_operand_opset13", 13, "ijk->ik", (3, 4, 5))
    einsum("einsum_implicit_one_operand_opset13", 13, "ba", (3, 4))


# --------------------------------------------------------------------------
# Softmax (opset < 13: input coerced to 2-D at `axis`; 13+: one axis)
# --------------------------------------------------------------------------

def softmax_cases():
    for name, opset, x, axis in [
            ("softmax_axis1_4d_opset11", 11, (2, 3, 2, 3), 1),
            ("softmax_axisneg1_4d_opset11", 11, (2, 3, 2, 3), -1),
            ("softmax_axis2_4d_opset11", 11, (2, 3, 2, 3), 2),
            ("softmax_default_4d_opset11", 11, (2, 3, 2, 3), None),
            ("softmax_default_2d_opset11", 11, (2, 10), None),
            ("softmax_axis1_4d_opset13", 13, (2, 3, 2, 3), 1),
            ("softmax_axisneg1_4d_opset13", 13, (2, 3, 2, 3), -1),
            ("softmax_axis2_4d_opset13", 13, (2, 3, 2, 3), 2),
            ("softmax_default_4d_opset13", 13, (2, 3, 2, 3), None),
            ("softmax_default_2d_opset13", 13, (2, 10), None),
            ("softmax_axis0_3d_opset21", 21, (3, 2, 4), 0),
            ("softmax_axis1_2d_opset21", 21, (2, 10), 1),
            ("softmax_axisneg1_4d_opset20", 20, (1, 4, 2, 3), -1)]:
        c = Case(name, opset)
        c.input("x", c.randn(*x, scale=3.0))
        single(c, "Softmax", ["x"], {} if axis is None else {"axis": axis})


# --------------------------------------------------------------------------
# Pad (pads is an input since opset 11)
# --------------------------------------------------------------------------

def pad(name, opset, x, pads, mode=None, value=None, axes=None):
    c = Case(name, opset)
    c.input("x", c.randn(*x))
    ins = ["x", c.init("pads", i64(pads))]
    if value is not None or axes is not None:
        ins.append(c.init("value", f32(value)) if value is not None else "")
    if axes is not None:
        ins.append(c.init("axes", i64(axes)))
    single(c, "Pad", ins, {} if mode is None else {"mode": mode})


def pad_cases():
    pad("pad_constant_value_opset11", 11, (1, 2, 4, 5), [0, 0, 1, 2, 0, 0, 2, 1], "constant", 0.5)
    pad("pad_constant_default_opset13", 13, (2, 2, 3, 3), [0, 0, 1, 1, 0, 0, 1, 1])
    pad("pad_constant_channels_opset13", 13, (1, 2, 3, 3), [0, 1, 0, 0, 0, 2, 0, 0], "constant", -1.5)
    pad("pad_constant_value_opset21", 21, (1, 2, 4, 4), [0, 0, 2, 0, 0, 0, 0, 3], "constant", 2.0)
    pad("pad_reflect_opset11", 11, (1, 2, 5, 6), [0, 0, 2, 1, 0, 0, 1, 2], "reflect")
    pad("pad_reflect_opset18", 18, (1, 3, 4, 4), [0, 0, 1, 1, 0, 0, 1, 1], "reflect")
    pad("pad_edge_opset13", 13, (1, 2, 4, 5), [0, 0, 2, 1, 0, 0, 1, 3], "edge")
    pad("pad_edge_opset21", 21, (2, 2, 3, 3), [0, 0, 1, 1, 0, 0, 1, 1], "edge")
    pad("pad_negative_opset13", 13, (1, 2, 6, 6), [0, 0, -1, 1, 0, 0, 2, -2], "constant", 0.25)
    pad("pad_negative_crop_opset11", 11, (1, 3, 5, 5), [0, 0, -1, -1, 0, 0, -1, -1])
    pad("pad_axes_opset18", 18, (1, 2, 4, 4), [1, 2, 2, 1], "constant", 0.0, axes=[2, 3])
    pad("pad_axes_negative_opset19", 19, (1, 2, 4, 4), [1, 0, 0, 1], "edge", axes=[-2, -1])
    pad("pad_wrap_opset19", 19, (1, 2, 4, 4), [0, 0, 1, 2, 0, 0, 2, 1], "wrap")


# --------------------------------------------------------------------------
# Dropout (inference: identity; ratio is an input since opset 12)
# --------------------------------------------------------------------------

def dropout_cases():
    c = Case("dropout_ratio_attr_opset11", 11)
    c.input("x", c.randn(2, 3, 4, 4))
    single(c, "Dropout", ["x"], {"ratio": 0.3})

    c = Case("dropout_ratio_input_opset12", 12)
    c.input("x", c.randn(2, 3, 4, 4))
    single(c, "Dropout", ["x", c.init("ratio", f32(0.5))])

    c = Case("dropout_noratio_opset13", 13)
    c.input("x", c.randn(2, 10))
    single(c, "Dropout", ["x"])

    c = Case("dropout_training_false_opset13", 13)
    c.input("x", c.randn(1, 4, 3, 3))
    single(c, "Dropout", ["x", c.init("ratio", f32(0.2)), c.init("training_mode", np.array(False))])

    c = Case("dropout_noratio_opset21", 21)
    c.input("x", c.randn(2, 3, 3))
    single(c, "Dropout", ["x"])


# --------------------------------------------------------------------------
# BatchNormalization (inference, single output)
# --------------------------------------------------------------------------

def batchnorm_cases():
    for name, opset, x, attrs in [
            ("batchnorm_opset11", 11, (2, 4, 5, 5), {}),
            ("batchnorm_eps1e-3_opset14", 14, (1, 6, 4, 4), {"epsilon": 1e-3}),
            ("batchnorm_opset14", 14, (2, 3, 3, 3), {}),
            ("batchnorm_opset15", 15, (2, 4, 3, 5), {}),
            ("batchnorm_momentum_attr_opset15", 15, (1, 4, 4, 4), {"momentum": 0.1, "epsilon": 1e-5}),
            ("batchnorm_2d_input_opset15", 15, (3, 6), {}),
            ("batchnorm_2d_input_opset11", 11, (3, 6), {})]:
        c = Case(name, opset)
        ch = x[1]
        c.input("x", c.randn(*x))
        ins = ["x",
               c.init("scale", c.uniform(0.5, 1.5, ch)),
               c.init("bias", c.randn(ch, scale=0.5)),
               c.init("mean", c.randn(ch, scale=0.5)),
               c.init("var", c.uniform(0.2, 2.0, ch))]
        single(c, "BatchNormalization", ins, attrs)


# --------------------------------------------------------------------------
# Gemm / MatMul
# --------------------------------------------------------------------------

def gemm(name, opset, m, k, n, c_shape=(), trans_a=0, trans_b=0, alpha=None, beta=None,
         b_input=False):
    c = Case(name, opset)
    c.input("a", c.randn(*((k, m) if trans_a else (m, k))))
    bt = c.randn(*((n, k) if trans_b else (k, n)), scale=1.0 / np.sqrt(k))
    if b_input:
        c.input("b", bt)
    else:
        c.init("b", bt)
    ins = ["a", "b"]
    if c_shape is not None:
        ins.append(c.init("c", c.randn(*c_shape)))
    attrs = {}
    if trans_a:
        attrs["transA"] = 1
    if trans_b:
        attrs["transB"] = 1
    if alpha is not None:
        attrs["alpha"] = alpha
    if beta is not None:
        attrs["beta"] = beta
    single(c, "Gemm", ins, attrs)


def gemm_cases():
    gemm("gemm_C_N_opset11", 11, 3, 5, 4, (4,))
    gemm("gemm_linear_transB_opset13", 13, 2, 16, 10, (10,), trans_b=1)
    gemm("gemm_transA_opset11", 11, 3, 5, 4, (4,), trans_a=1)
    gemm("gemm_transA_transB_opset13", 13, 3, 5, 4, (3, 4), trans_a=1, trans_b=1)
    gemm("gemm_alpha_beta_C_MN_opset11", 11, 3, 5, 4, (3, 4), alpha=0.5, beta=2.0)
    gemm("gemm_C_1N_opset13", 13, 3, 5, 4, (1, 4))
    gemm("gemm_C_1N_beta_opset11", 11, 2, 6, 3, (1, 3), beta=-0.5, trans_b=1)
    gemm("gemm_C_M1_opset13", 13, 3, 5, 4, (3, 1))
    gemm("gemm_C_scalar1_opset13", 13, 3, 5, 4, (1,))
    gemm("gemm_noC_opset11", 11, 3, 5, 4, None)
    gemm("gemm_noC_alpha_transB_opset13", 13, 2, 8, 5, None, trans_b=1, alpha=2.0)
    gemm("gemm_B_input_opset13", 13, 4, 3, 5, (5,), b_input=True)
    gemm("gemm_linear_transB_opset20", 20, 1, 12, 6, (6,), trans_b=1)


def matmul(name, opset, a, b, b_init=False):
    c = Case(name, opset)
    c.input("a", c.randn(*a))
    bt = c.randn(*b)
    if b_init:
        c.init("b", bt)
    else:
        c.input("b", bt)
    single(c, "MatMul", ["a", "b"])


def matmul_cases():
    matmul("matmul_2d_opset11", 11, (3, 4), (4, 5))
    matmul("matmul_2d_weight_init_opset13", 13, (2, 8), (8, 6), b_init=True)
    matmul("matmul_3d_batched_opset13", 13, (2, 3, 4), (2, 4, 5))
    matmul("matmul_3d_x_2d_init_opset11", 11, (2, 3, 4), (4, 5), b_init=True)
    matmul("matmul_2d_x_3d_opset13", 13, (3, 4), (2, 4, 5))
    matmul("matmul_4d_opset13", 13, (2, 2, 3, 4), (2, 2, 4, 2))
    matmul("matmul_4d_bcast_opset13", 13, (2, 1, 3, 4), (3, 4, 5))
    matmul("matmul_4d_bcast_both_opset21", 21, (2, 1, 3, 4), (1, 3, 4, 2))
    matmul("matmul_1d_2d_opset13", 13, (4,), (4, 5))
    matmul("matmul_2d_1d_opset11", 11, (3, 4), (4,))
    matmul("matmul_1d_3d_opset13", 13, (4,), (2, 4, 5))
    matmul("matmul_1d_1d_opset13", 13, (6,), (6,))
    matmul("matmul_3d_batched_opset15", 15, (2, 2, 3), (2, 3, 4))


# --------------------------------------------------------------------------
# Elementwise binary ops with numpy broadcasting
# --------------------------------------------------------------------------

BINARY_SHAPES = [  # tag, A shape, B shape
    ("same", (2, 3, 4, 5), (2, 3, 4, 5)),
    ("c11", (2, 3, 4, 5), (3, 1, 1)),
    ("scalar", (2, 3, 4, 5), ()),
    ("1c11", (2, 3, 4, 5), (1, 3, 1, 1)),
    ("n1hw", (2, 3, 4, 5), (2, 1, 4, 5)),
]


def binary(op, name, opset, a_shape, b_shape, b_init):
    c = Case(name, opset)
    c.input("a", c.randn(*a_shape))
    bt = c.nonzero(*b_shape) if op == "Div" else c.randn(*b_shape)
    if b_init:
        c.init("b", bt)
    else:
        c.input("b", bt)
    single(c, op, ["a", "b"])


def binary_cases():
    opsets = [11, 13, 14, 21]
    i = 0
    for op in ["Add", "Sub", "Mul", "Div"]:
        for tag, a, b in BINARY_SHAPES:
            for b_init in (False, True):
                opset = opsets[i % len(opsets)]
                i += 1
                name = "%s_%s_%s_opset%d" % (op.lower(), tag, "init" if b_init else "inputs", opset)
                binary(op, name, opset, a, b, b_init)
        # broadcast on the left operand, and both sides broadcasting
        opset = opsets[i % len(opsets)]
        i += 1
        c = Case("%s_lhs_c11_opset%d" % (op.lower(), opset), opset)
        c.input("a", c.nonzero(3, 1, 1) if op == "Div" else c.randn(3, 1, 1))
        c.input("b", c.nonzero(2, 3, 4, 5) if op == "Div" else c.randn(2, 3, 4, 5))
        single(c, op, ["a", "b"])
        opset = opsets[i % len(opsets)]
        i += 1
        c = Case("%s_bidir_opset%d" % (op.lower(), opset), opset)
        c.input("a", c.randn(2, 1, 4, 1))
        c.input("b", c.nonzero(1, 3, 1, 5) if op == "Div" else c.randn(1, 3, 1, 5))
        single(c, op, ["a", "b"])


# --------------------------------------------------------------------------
# Shape manipulation
# --------------------------------------------------------------------------

def flatten_cases():
    for name, opset, axis in [("flatten_axis0_opset11", 11, 0),
                              ("flatten_axis1_opset13", 13, 1),
                              ("flatten_axis2_opset11", 11, 2),
                              ("flatten_axisneg1_opset13", 13, -1),
                              ("flatten_axis4_opset13", 13, 4),
                              ("flatten_default_opset21", 21, None)]:
        c = Case(name, opset)
        c.input("x", c.randn(2, 3, 2, 4))
        single(c, "Flatten", ["x"], {} if axis is None else {"axis": axis})


def reshape_cases():
    for name, opset, shape in [("reshape_zero_neg1_opset11", 11, [0, -1]),
                               ("reshape_zero_zero_neg1_opset13", 13, [0, 0, -1]),
                               ("reshape_neg1_first_opset14", 14, [-1, 4, 5]),
                               ("reshape_expand_dims_opset13", 13, [2, 3, 1, 20]),
                               ("reshape_zero_middle_opset21", 21, [2, 0, -1, 2]),
                               ("reshape_flat_opset19", 19, [-1])]:
        c = Case(name, opset)
        c.input("x", c.randn(2, 3, 4, 5))
        single(c, "Reshape", ["x", c.init("shape", i64(shape))])


def concat_cases():
    for name, opset, shapes, axis, init_last in [
            ("concat_axis1_opset11", 11, [(1, 2, 3, 3), (1, 3, 3, 3)], 1, False),
            ("concat_axis1_3inputs_opset13", 13, [(2, 1, 2, 2), (2, 4, 2, 2), (2, 2, 2, 2)], 1, False),
            ("concat_axis0_opset11", 11, [(1, 3, 2, 2), (2, 3, 2, 2)], 0, False),
            ("concat_axisneg1_opset13", 13, [(2, 3, 2, 2), (2, 3, 2, 3)], -1, False),
            ("concat_axisneg3_3inputs_opset21", 21, [(1, 2, 3), (2, 2, 3), (3, 2, 3)], -3, False),
            ("concat_axis1_with_init_opset13", 13, [(1, 2, 3, 3), (1, 3, 3, 3)], 1, True)]:
        c = Case(name, opset)
        names = []
        for i, s in enumerate(shapes):
            nm = "x%d" % i
            if init_last and i == len(shapes) - 1:
                c.init(nm, c.randn(*s))
            else:
                c.input(nm, c.randn(*s))
            names.append(nm)
        single(c, "Concat", names, {"axis": axis})


def transpose_cases():
    # ViT's attention: [B, T, H, d] -> [B, H, T, d] and K^T as [B, H, d, T]; the default reverses the axes.
    for name, opset, x, perm in [("transpose_0213_opset13", 13, (2, 5, 3, 4), [0, 2, 1, 3]),
                                 ("transpose_0231_opset21", 21, (2, 5, 3, 4), [0, 2, 3, 1]),
                                 ("transpose_default_3d_opset11", 11, (2, 3, 4), None),
                                 ("transpose_2d_opset13", 13, (7, 9), [1, 0])]:
        c = Case(name, opset)
        c.input("x", c.randn(*x))
        single(c, "Transpose", ["x"], {} if perm is None else {"perm": perm})


def layernorm_cases():
    # ViT's LayerNorm over the embedding (axis -1, eps 1e-6 as timm exports it), an earlier axis, no bias; and the
    # Mean output present in the graph but unused.
    for name, opset, x, axis, eps, bias in [("layernorm_last_opset17", 17, (2, 5, 8), -1, 1e-6, True),
                                            ("layernorm_axis1_opset17", 17, (2, 3, 4, 2), 1, None, True),
                                            ("layernorm_nobias_opset21", 21, (3, 16), -1, 1e-5, False)]:
        c = Case(name, opset)
        c.input("x", c.randn(*x, scale=2.0) + 0.5)
        normalized = x[axis:] if axis >= 0 else x[axis:]
        ins = ["x", c.init("scale", c.randn(*normalized) + 1.0)]
        if bias:
            ins.append(c.init("bias", c.randn(*normalized, scale=0.5)))
        attrs = {"axis": axis}
        if eps is not None:
            attrs["epsilon"] = eps
        single(c, "LayerNormalization", ins, attrs)
    c = Case("layernorm_unused_mean_opset17", 17)
    c.input("x", c.randn(2, 4, 6))
    c.node("LayerNormalization", ["x", c.init("scale", c.randn(6) + 1.0)], ["y", "mean"], axis=-1)
    c.output("y")


def elementwise_cases():
    # The element-wise functions of ViT exports: Erf and Gelu (opset 20, exact and tanh), Sqrt, Pow with a constant
    # exponent; then the decomposed forms exporters write for LayerNorm and exact Gelu.
    unary("Erf", "erf_opset13", 13, scale=1.5)
    unary("Erf", "erf_opset11", 11, x=(3, 7))
    unary("Gelu", "gelu_none_opset20", 20, scale=2.0)
    unary("Gelu", "gelu_tanh_opset20", 20, scale=2.0, approximate="tanh")
    # Exp and Tanh (Swin V2's continuous position bias, MaxViT's tanh GELU written out, Softmax written out).
    unary("Exp", "exp_opset13", 13, scale=2.0)
    unary("Exp", "exp_opset11", 11, x=(3, 7), scale=3.0)
    unary("Tanh", "tanh_opset13", 13, scale=2.0)
    unary("Tanh", "tanh_opset11", 11, x=(3, 7), scale=3.0)
    c = Case("sqrt_opset13", 13)
    c.input("x", c.uniform(0.1, 4.0, 2, 3, 4))
    single(c, "Sqrt", ["x"])
    for name, opset, exponent, positive in [("pow_2_opset15", 15, 2.0, False), ("pow_3_opset13", 13, 3.0, False),
                                            ("pow_half_opset15", 15, 0.5, True)]:
        c = Case(name, opset)
        c.input("x", c.uniform(0.1, 3.0, 2, 3, 4) if positive else c.randn(2, 3, 4))
        single(c, "Pow", ["x", c.init("e", f32(exponent))])
    for opset in (13, 18):
        c = Case("layernorm_decomposed_opset%d" % opset, opset)
        c.input("x", c.randn(2, 5, 8, scale=2.0))

        def mean(src, dst):
            if opset >= 18:
                c.node("ReduceMean", [src, c.init(dst + "_axes", i64([-1]))], [dst])
            else:
                c.node("ReduceMean", [src], [dst], axes=[-1])
        mean("x", "mu")
        c.node("Sub", ["x", "mu"], ["d"])
        c.node("Pow", ["d", c.init("two", f32(2.0))], ["d2"])
        mean("d2", "var")
        c.node("Add", ["var", c.init("eps", f32(1e-6))], ["ve"])
        c.node("Sqrt", ["ve"], ["sd"])
        c.node("Div", ["d", "sd"], ["xhat"])
        c.node("Mul", ["xhat", c.init("scale", c.randn(8) + 1.0)], ["xs"])
        c.node("Add", ["xs", c.init("bias", c.randn(8, scale=0.5))], ["y"])
        c.output("y")
    c = Case("gelu_decomposed_opset13", 13)
    c.input("x", c.randn(2, 3, 8, scale=2.0))
    c.node("Div", ["x", c.init("sqrt2", f32(np.sqrt(2.0)))], ["s"])
    c.node("Erf", ["s"], ["e"])
    c.node("Add", ["e", c.init("one", f32(1.0))], ["e1"])
    c.node("Mul", ["x", "e1"], ["m"])
    c.node("Mul", ["m", c.init("half", f32(0.5))], ["y"])
    c.output("y")


def gather_slice_cases():
    # Gather and Slice on run-time data: the class token x[:, 0] (Gather axis 1, scalar index), evenly spaced and
    # negative indices; slices with steps, negative steps and indices, axes, and ends past the dimension.
    for name, opset, x, axis, idx in [("gather_cls_token_opset13", 13, (2, 5, 8), 1, i64(0)),
                                      ("gather_range_axis0_opset11", 11, (6, 3), 0, i64([1, 3, 5])),
                                      ("gather_negative_last_opset21", 21, (2, 3, 4), -1, i64([-1])),
                                      ("gather_descending_opset13", 13, (2, 7, 3), 1, i64([5, 3, 1]))]:
        c = Case(name, opset)
        c.input("x", c.randn(*x))
        single(c, "Gather", ["x", c.init("idx", idx)], {"axis": axis})
    for name, opset, x, starts, ends, axes, steps in [
            ("slice_cls_opset13", 13, (2, 5, 8), [0], [1], [1], None),
            ("slice_steps_negative_opset13", 13, (2, 6, 5), [1, -1], [6, -6], [1, 2], [2, -2]),
            ("slice_default_axes_opset11", 11, (4, 6), [1, 2], [100, -1], None, None),
            ("slice_negative_axis_opset21", 21, (2, 3, 8), [-3], [2**62], [-1], [1])]:
        c = Case(name, opset)
        c.input("x", c.randn(*x))
        ins = ["x", c.init("starts", i64(starts)), c.init("ends", i64(ends))]
        if axes is not None or steps is not None:
            ins.append(c.init("axes", i64(axes if axes is not None else list(range(len(starts))))))
        if steps is not None:
            ins.append(c.init("steps", i64(steps)))
        single(c, "Slice", ins)


def expand_cases():
    # The class token [1, 1, D] expanded to the batch, a trailing broadcast, a shape of lower rank than x, and a
    # constant expanded (folded at load time).
    for name, opset, x, shape in [("expand_cls_token_opset13", 13, (1, 1, 8), [3, 1, 8]),
                                  ("expand_inner_opset11", 11, (2, 3, 1), [2, 3, 5]),
                                  ("expand_lower_rank_shape_opset21", 21, (2, 1, 4), [3, 1])]:
        c = Case(name, opset)
        c.input("x", c.randn(*x))
        single(c, "Expand", ["x", c.init("shape", i64(shape))])
    c = Case("expand_constant_add_opset13", 13)
    c.input("x", c.randn(2, 3, 4))
    c.node("Expand", [c.init("k", c.randn(1, 3, 1)), c.init("shape", i64([2, 3, 4]))], ["e"])
    single(c, "Add", ["x", "e"])


def split_cases():
    # Split on run-time data: equal parts (opset 11 attribute-free, opset 18 num_outputs with a smaller last part),
    # given sizes (opset 11 attribute, opset 13 input), timm's qkv.unbind(0) (Split axis 0 + Squeeze), an unused
    # output, and a constant split (folded). Several outputs each reach the graph output, so the backward sums them.
    c = Case("split_equal_three_outputs_opset11", 11)
    c.input("x", c.randn(2, 3, 12))
    single(c, "Split", ["x"], {"axis": 2}, outs=("a", "b", "y"))
    c = Case("split_num_outputs_uneven_opset18", 18)
    c.input("x", c.randn(2, 7, 3))
    c.node("Split", ["x"], ["a", "b", "d"], axis=1, num_outputs=3)  # sizes 3, 3, 1
    c.node("Concat", ["d", "b", "a"], ["y"], axis=1)
    c.output("y")
    c = Case("split_sizes_attribute_opset11", 11)
    c.input("x", c.randn(4, 6))
    c.node("Split", ["x"], ["a", "b"], axis=-1, split=[2, 4])
    c.node("MatMul", ["a", c.init("w", c.randn(2, 4))], ["m"])
    single(c, "Mul", ["m", "b"])
    c = Case("split_qkv_unbind_opset13", 13)
    B, T, H, d = 2, 5, 2, 3
    c.input("x", c.randn(B, T, 3 * H * d))
    c.node("Reshape", ["x", c.init("shape5", i64([B, T, 3, H, d]))], ["x5"])
    c.node("Transpose", ["x5"], ["xt"], perm=[2, 0, 3, 1, 4])
    c.node("Split", ["xt", c.init("split", i64([1, 1, 1]))], ["q1", "k1", "v1"], axis=0)
    for n in "qkv":
        c.node("Squeeze", [n + "1", c.init("ax_" + n, i64([0]))], [n])
    c.node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2])
    c.node("MatMul", ["q", "kt"], ["s"])
    c.node("Softmax", ["s"], ["p"], axis=-1)
    single(c, "MatMul", ["p", "v"])
    c = Case("split_unused_output_opset13", 13)
    c.input("x", c.randn(3, 8))
    c.node("Split", ["x", c.init("split", i64([5, 3]))], ["a", "unused"], axis=1)
    single(c, "Relu", ["a"])
    c = Case("split_constant_opset13", 13)
    c.input("x", c.randn(2, 3))
    c.node("Split", [c.init("k", c.randn(2, 6)), c.init("split", i64([3, 3]))], ["k0", "k1"], axis=1)
    c.node("Add", ["x", "k0"], ["s"])
    single(c, "Mul", ["s", "k1"])


def batch_arithmetic_cases():
    # What exporters emit around a dynamic batch, folded at load time: PyTorch's expand(B, -1, -1) of the class
    # token (Shape, Gather, Concat, ConstantOfShape, Mul, Equal, Where, Expand) and a Mod in a reshape target
    # (fmod 0: the divisor's sign, as Python's %).
    c = Case("class_token_dynamic_batch_opset17", 17)
    D = 4
    c.input("x", c.randn(2, 3, D), dims=["N", 3, D])
    c.node("Shape", ["x"], ["sx"])
    c.node("Gather", ["sx", c.init("zero", i64(0))], ["n"], axis=0)
    c.node("Unsqueeze", ["n", c.init("ax0", i64([0]))], ["n1"])
    c.node("Concat", ["n1", c.init("m1", i64([-1])), c.init("m1b", i64([-1]))], ["target"], axis=0)
    c.node("ConstantOfShape", [c.init("three", i64([3]))], ["ones"],
           value=numpy_helper.from_array(i64([1]), "value"))
    c.node("Mul", ["ones", c.init("neg", i64(-1))], ["negs"])
    c.node("Equal", ["target", "negs"], ["is_neg"])
    c.node("Where", ["is_neg", "ones", "target"], ["shape"])
    c.node("Expand", [c.init("cls", c.randn(1, 1, D)), "shape"], ["cls_b"])
    c.node("Concat", ["cls_b", "x"], ["y"], axis=1)
    c.output("y", dims=["N", 4, D])
    c = Case("mod_reshape_target_opset13", 13)
    c.input("x", c.randn(2, 4, 6), dims=["N", 4, 6])
    c.node("Shape", ["x"], ["sx"])
    c.node("Gather", ["sx", c.init("two", i64([2]))], ["d"], axis=0)   # [6]
    c.node("Mod", ["d", c.init("four", i64([4]))], ["m"])             # [2]
    c.node("Mod", [c.init("neg7", i64([-7])), c.init("four_b", i64([4]))], ["one"])  # [1] (C's fmod: -3)
    c.node("Mul", ["m", "one"], ["last"])
    c.node("Concat", [c.init("lead", i64([0, -1])), "last"], ["target"], axis=0)
    c.node("Reshape", ["x", "target"], ["y"])
    c.output("y", dims=["N", 12, 2])


def vit_block_cases():
    """A tiny ViT: class token (Expand + Concat), position-embedding Add, pre-norm attention (fused QKV MatMul,
    Reshape, Transpose, Gather of q/k/v, batched MatMul [B,H,T,d] x [B,H,d,T], Softmax on the last axis), MLP with
    Gelu, residual Adds, the class token picked by Gather, and a linear head."""
    B, T, D, H = 2, 4, 16, 2
    d = D // H
    c = Case("vit_block_opset20", 20)
    c.input("x", c.randn(B, T, D))
    c.node("Expand", [c.init("cls", c.randn(1, 1, D)), c.init("cls_shape", i64([B, 1, D]))], ["cls_b"])
    c.node("Concat", ["cls_b", "x"], ["tok"], axis=1)
    c.node("Add", ["tok", c.init("pos", c.randn(1, T + 1, D, scale=0.5))], ["h0"])

    def layernorm(src, dst):
        c.node("LayerNormalization", [src, c.init(dst + "_g", c.randn(D, scale=0.2) + 1.0),
                                      c.init(dst + "_b", c.randn(D, scale=0.2))], [dst], axis=-1, epsilon=1e-6)
    layernorm("h0", "n1")
    c.node("MatMul", ["n1", c.init("w_qkv", c.randn(D, 3 * D, scale=D ** -0.5))], ["qkv"])
    c.node("Reshape", ["qkv", c.init("qkv_shape", i64([B, T + 1, 3, H, d]))], ["qkv5"])
    c.node("Transpose", ["qkv5"], ["qkv_t"], perm=[2, 0, 3, 1, 4])
    for i, n in enumerate("qkv"):
        c.node("Gather", ["qkv_t", c.init("i%d" % i, i64(i))], [n], axis=0)
    c.node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2])
    c.node("MatMul", ["q", "kt"], ["s"])
    c.node("Mul", ["s", c.init("scale", f32(d ** -0.5))], ["s2"])
    c.node("Softmax", ["s2"], ["p"], axis=-1)
    c.node("MatMul", ["p", "v"], ["o"])
    c.node("Transpose", ["o"], ["o_t"], perm=[0, 2, 1, 3])
    c.node("Reshape", ["o_t", c.init("o_shape", i64([B, T + 1, D]))], ["o3"])
    c.node("MatMul", ["o3", c.init("w_o", c.randn(D, D, scale=D ** -0.5))], ["proj"])
    c.node("Add", ["h0", "proj"], ["h1"])
    layernorm("h1", "n2")
    c.node("MatMul", ["n2", c.init("w1", c.randn(D, 2 * D, scale=D ** -0.5))], ["m1"])
    c.node("Gelu", ["m1"], ["g"])
    c.node("MatMul", ["g", c.init("w2", c.randn(2 * D, D, scale=(2 * D) ** -0.5))], ["m2"])
    c.node("Add", ["h1", "m2"], ["h2"])
    c.node("Gather", ["h2", c.init("cls_index", i64(0))], ["cls_out"], axis=1)
    c.node("MatMul", ["cls_out", c.init("head", c.randn(D, 3, scale=D ** -0.5))], ["y"])
    c.output("y")


def identity_constant_cases():
    for name, opset in [("identity_opset11", 11), ("identity_opset14", 14),
                        ("identity_opset19", 19), ("identity_opset21", 21)]:
        c = Case(name, opset)
        c.input("x", c.randn(2, 3, 3))
        single(c, "Identity", ["x"])

    for name, opset, shape in [("constant_add_opset11", 11, (3, 1, 1)),
                               ("constant_add_opset13", 13, (2, 3, 4, 4)),
                               ("constant_scalar_add_opset21", 21, ())]:
        c = Case(name, opset)
        c.input("x", c.randn(2, 3, 4, 4))
        c.node("Constant", [], ["k"], value=numpy_helper.from_array(c.randn(*shape), "k"))
        single(c, "Add", ["x", "k"])


def shape_pattern_cases():
    """x -> Shape -> Gather(0) -> Unsqueeze(0) -> Concat([-1]) -> Reshape(x):
    the flatten pattern PyTorch's exporter writes for x.view(x.size(0), -1)."""
    for opset in (11, 13, 21):
        c = Case("shape_gather_unsqueeze_concat_reshape_opset%d" % opset, opset)
        c.input("x", c.randn(2, 3, 4, 4), dims=["N", 3, 4, 4])
        c.node("Shape", ["x"], ["shape"])
        c.node("Constant", [], ["idx"], value=numpy_helper.from_array(i64(0), "idx"))
        c.node("Gather", ["shape", "idx"], ["n"], axis=0)
        if opset < 13:
            c.node("Unsqueeze", ["n"], ["n1"], axes=[0])
        else:
            c.node("Constant", [], ["ax"], value=numpy_helper.from_array(i64([0]), "ax"))
            c.node("Unsqueeze", ["n", "ax"], ["n1"])
        c.node("Constant", [], ["minus1"], value=numpy_helper.from_array(i64([-1]), "minus1"))
        c.node("Concat", ["n1", "minus1"], ["newshape"], axis=0)
        c.node("Reshape", ["x", "newshape"], ["y"])
        c.output("y", dims=["N", 48])


def tiny_graph_cases():
    # conv -> relu -> maxpool -> GAP -> flatten -> gemm -> softmax
    c = Case("tiny_convnet_opset13", 13)
    c.input("x", c.randn(2, 3, 8, 8), dims=["N", 3, 8, 8])
    c.init("w", c.randn(4, 3, 3, 3, scale=0.3))
    c.init("b", c.randn(4, scale=0.1))
    c.init("fw", c.randn(5, 4, scale=0.5))
    c.init("fb", c.randn(5, scale=0.1))
    c.node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1])
    c.node("Relu", ["c"], ["r"])
    c.node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2])
    c.node("GlobalAveragePool", ["p"], ["g"])
    c.node("Flatten", ["g"], ["f"], axis=1)
    c.node("Gemm", ["f", "fw", "fb"], ["l"], transB=1)
    c.node("Softmax", ["l"], ["y"], axis=1)
    c.output("y", dims=["N", 5])

    # basic residual block: conv-bn-relu-conv-bn + x -> relu
    c = Case("tiny_residual_opset17", 17)
    c.input("x", c.randn(1, 4, 6, 6))
    for i in (1, 2):
        c.init("w%d" % i, c.randn(4, 4, 3, 3, scale=0.2))
        c.init("s%d" % i, c.uniform(0.5, 1.5, 4))
        c.init("b%d" % i, c.randn(4, scale=0.2))
        c.init("m%d" % i, c.randn(4, scale=0.2))
        c.init("v%d" % i, c.uniform(0.5, 2.0, 4))
    c.node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1])
    c.node("BatchNormalization", ["c1", "s1", "b1", "m1", "v1"], ["n1"])
    c.node("Relu", ["n1"], ["r1"])
    c.node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1])
    c.node("BatchNormalization", ["c2", "s2", "b2", "m2", "v2"], ["n2"])
    c.node("Add", ["n2", "x"], ["a"])
    c.node("Relu", ["a"], ["y"])
    c.output("y")

    # squeeze-excitation gate as in MobileNetV3
    c = Case("tiny_squeeze_excite_opset14", 14)
    c.input("x", c.randn(2, 8, 4, 4))
    c.init("w1", c.randn(4, 8, 1, 1, scale=0.4))
    c.init("b1", c.randn(4, scale=0.1))
    c.init("w2", c.randn(8, 4, 1, 1, scale=0.5))
    c.init("b2", c.randn(8, scale=0.1))
    c.node("GlobalAveragePool", ["x"], ["g"])
    c.node("Conv", ["g", "w1", "b1"], ["c1"])
    c.node("Relu", ["c1"], ["r"])
    c.node("Conv", ["r", "w2", "b2"], ["c2"])
    c.node("HardSigmoid", ["c2"], ["s"], alpha=1.0 / 6.0, beta=0.5)
    c.node("Mul", ["x", "s"], ["m"])
    c.node("HardSwish", ["m"], ["y"])
    c.output("y")


# --------------------------------------------------------------------------
# Resize (H and W of NCHW; nearest and linear, every coordinate transform)
# --------------------------------------------------------------------------

RESIZE_COORDINATES = [("half_pixel", 11), ("pytorch_half_pixel", 13), ("align_corners", 18),
                      ("asymmetric", 13), ("half_pixel_symmetric", 19)]


def resize(name, opset, x, scales=None, sizes=None, dims=None, **attrs):
    """Resize(x, roi, scales, sizes) with scales or sizes as initializers. Opset 11 needs roi and scales
    present: the whole-image roi [0, 0, 0, 0, 1, 1, 1, 1], and an empty scales beside sizes (as exporters
    wrote it)."""
    c = Case(name, opset)
    c.input("x", c.randn(*x), dims=dims)
    roi = c.init("roi", f32([0, 0, 0, 0, 1, 1, 1, 1])) if opset < 13 else ""
    ins = ["x", roi]
    if scales is not None:
        ins.append(c.init("scales", f32(scales)))
    else:
        ins.append(c.init("scales", f32([])) if opset < 13 else "")
        ins.append(c.init("sizes", i64(sizes)))
    return single(c, "Resize", ins, attrs)


def torch_interpolate_scales(name, mode, coordinates):
    """torch 2.5's export of F.interpolate(x, scale_factor=2, mode=...) at opset 17: a Constant scales
    [1, 1, 2, 2], roi omitted, cubic_coeff_a=-0.75 and nearest_mode=floor written on every mode."""
    c = Case(name, 17)
    c.input("x", c.randn(2, 3, 5, 6), dims=["N", 3, "H", "W"])
    c.node("Constant", [], ["/Constant_output_0"],
           value=numpy_helper.from_array(f32([1, 1, 2, 2]), "/Constant_output_0"))
    c.node("Resize", ["x", "", "/Constant_output_0"], ["y"], coordinate_transformation_mode=coordinates,
           cubic_coeff_a=-0.75, mode=mode, nearest_mode="floor")
    c.output("y")


def torch_interpolate_size(name, mode, coordinates, size):
    """torch 2.5's export of F.interpolate(x, size=size, mode=...) at opset 17: sizes computed as
    Concat(Slice(Shape(x), 0, 2), size), which glassbox folds at plan time."""
    c = Case(name, 17)
    c.input("x", c.randn(2, 3, 5, 6), dims=["N", 3, "H", "W"])
    c.node("Shape", ["x"], ["/Shape_output_0"])
    for k, v in (("", 0), ("_1", 0), ("_2", 2)):
        c.node("Constant", [], ["/Constant%s_output_0" % k],
               value=numpy_helper.from_array(i64([v]), "/Constant%s_output_0" % k))
    c.node("Slice", ["/Shape_output_0", "/Constant_1_output_0", "/Constant_2_output_0", "/Constant_output_0"],
           ["/Slice_output_0"])
    c.node("Constant", [], ["/Constant_3_output_0"],
           value=numpy_helper.from_array(i64(size), "/Constant_3_output_0"))
    c.node("Concat", ["/Slice_output_0", "/Constant_3_output_0"], ["/Concat_output_0"], axis=0)
    c.node("Resize", ["x", "", "", "/Concat_output_0"], ["y"], coordinate_transformation_mode=coordinates,
           cubic_coeff_a=-0.75, mode=mode, nearest_mode="floor")
    c.output("y", dims=["N", 3] + list(size))


def resize_cases():
    # Every rounding under every transform: up by 2 in H (asymmetric: ties at odd rows), down by 0.4 in W (ties
    # at odd columns), then non-integer up and down.
    for coordinates, opset in RESIZE_COORDINATES:
        for rounding in ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil"):
            resize("resize_nearest_%s_%s_opset%d" % (rounding, coordinates, opset), opset, (1, 2, 5, 8),
                   scales=[1, 1, 2, 0.4], mode="nearest", coordinate_transformation_mode=coordinates,
                   nearest_mode=rounding)
        resize("resize_nearest_up_down_%s_opset%d" % (coordinates, opset), opset, (2, 2, 6, 7),
               scales=[1, 1, 1.7, 0.45], mode="nearest", coordinate_transformation_mode=coordinates)
        resize("resize_linear_up_%s_opset%d" % (coordinates, opset), opset, (1, 3, 5, 6),
               scales=[1, 1, 1.7, 2.3], mode="linear", coordinate_transformation_mode=coordinates)
        resize("resize_linear_down_%s_opset%d" % (coordinates, opset), opset, (2, 2, 11, 9),
               scales=[1, 1, 0.6, 0.45], mode="linear", coordinate_transformation_mode=coordinates)
        resize("resize_linear_sizes_%s_opset%d" % (coordinates, opset), opset, (1, 2, 5, 8),
               sizes=[1, 2, 7, 3], mode="linear", coordinate_transformation_mode=coordinates)
    # One output row: pytorch_half_pixel reads row 0, align_corners too; half_pixel the centre.
    for coordinates in ("pytorch_half_pixel", "align_corners", "half_pixel"):
        resize("resize_linear_one_row_%s_opset13" % coordinates, 13, (1, 2, 4, 5), sizes=[1, 2, 1, 3],
               mode="linear", coordinate_transformation_mode=coordinates)
    resize("resize_nearest_sizes_default_opset13", 13, (2, 3, 4, 5), sizes=[2, 3, 9, 3])
    # Opset 18: axes (in order and reversed; onnxruntime 1.20 fails on negative axes, so none here), the
    # aspect-ratio policies, antialias when upscaling.
    resize("resize_axes_scales_opset18", 18, (1, 2, 6, 6), scales=[1.5, 0.5], axes=[2, 3], mode="linear")
    resize("resize_axes_reversed_sizes_opset18", 18, (1, 2, 6, 5), sizes=[8, 4], axes=[3, 2], mode="nearest")
    for policy in ("not_larger", "not_smaller"):
        resize("resize_policy_%s_opset18" % policy, 18, (1, 2, 6, 8), sizes=[9, 10], axes=[2, 3], mode="linear",
               keep_aspect_ratio_policy=policy)
    resize("resize_policy_not_larger_all_axes_opset18", 18, (1, 2, 4, 6), sizes=[1, 2, 10, 9],
           mode="nearest", keep_aspect_ratio_policy="not_larger")
    resize("resize_linear_antialias_upscale_opset18", 18, (1, 2, 4, 5), scales=[1, 1, 2.5, 1.5], mode="linear",
           antialias=1)
    resize("resize_linear_sizes_opset19", 19, (1, 2, 7, 5), sizes=[1, 2, 3, 12], mode="linear",
           coordinate_transformation_mode="half_pixel_symmetric")
    # The forms torch 2.5 exports for F.interpolate at opset 17.
    torch_interpolate_scales("resize_torch_nearest_scale2_opset17", "nearest", "asymmetric")
    torch_interpolate_scales("resize_torch_bilinear_scale2_opset17", "linear", "half_pixel")
    torch_interpolate_scales("resize_torch_bilinear_align_corners_scale2_opset17", "linear", "align_corners")
    torch_interpolate_size("resize_torch_bilinear_size_opset17", "linear", "half_pixel", [7, 9])
    torch_interpolate_size("resize_torch_nearest_size_opset17", "nearest", "asymmetric", [10, 4])


def define_cases():
    conv_cases()
    maxpool_cases()
    avgpool_cases()
    global_avgpool_cases()
    activation_cases()
    clip_cases()
    reducemean_cases()
    reduce_cases()
    einsum_cases()
    softmax_cases()
    pad_cases()
    dropout_cases()
    batchnorm_cases()
    gemm_cases()
    matmul_cases()
    binary_cases()
    flatten_cases()
    reshape_cases()
    concat_cases()
    transpose_cases()
    layernorm_cases()
    elementwise_cases()
    gather_slice_cases()
    expand_cases()
    split_cases()
    batch_arithmetic_cases()
    vit_block_cases()
    identity_constant_cases()
    shape_pattern_cases()
    tiny_graph_cases()
    resize_cases()


# --------------------------------------------------------------------------
# Building, running, writing
# --------------------------------------------------------------------------

def np_to_onnx_type(dtype):
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def make_model(c, out_types):
    """out_types: list of (elem_type, shape) per output, or None for unknown."""
    ins = [helper.make_tensor_value_info(n, np_to_onnx_type(a.dtype), d if d is not None else a.shape)
           for n, a, d in c.inputs]
    outs = []
    for i, (n, d) in enumerate(c.outputs):
        if out_types is None:
            outs.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, None))
        else:
            et, shape = out_types[i]
            outs.append(helper.make_tensor_value_info(n, et, d if d is not None else shape))
    graph = helper.make_graph(c.nodes, c.name, ins, outs, initializer=c.inits)
    opsets = [helper.make_opsetid("", c.opset)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="glassbox make_op_goldens")
    model.ir_version = helper.find_min_ir_version_for(opsets)
    return model


def run_ort(model, feeds):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.log_severity_level = 3  # the known MaxPool ceil_mode shape warning (see fixup)
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def build_case(c):
    feeds = {n: a for n, a, _ in c.inputs}
    if c.reference is not None:
        results = c.reference(feeds)
    else:
        results = run_ort(make_model(c, None), feeds)
        if c.fixup is not None:
            results = c.fixup(results)
    model = make_model(c, [(np_to_onnx_type(r.dtype), r.shape) for r in results])
    # onnx 1.17's shape inference disagrees with the spec text on the fixed-up
    # case (it infers the dropped ceil_mode window), so those get the
    # structural check only.
    onnx.checker.check_model(model, full_check=c.fixup is None)
    return model, results


def write_case(out_dir, c, model, results):
    d = os.path.join(out_dir, c.name)
    ds = os.path.join(d, "test_data_set_0")
    os.makedirs(ds)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    for i, (n, a, _) in enumerate(c.inputs):
        with open(os.path.join(ds, "input_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(a, n).SerializeToString())
    for i, ((n, _), r) in enumerate(zip(c.outputs, results)):
        with open(os.path.join(ds, "output_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(np.asarray(r), n).SerializeToString())


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.normpath(os.path.join(here, "..", "..", "tests", "data", "ops"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=default_out, help="output folder (default: %(default)s)")
    ap.add_argument("--only", default=None, help="only cases whose name contains this")
    ap.add_argument("--list", action="store_true", help="print the case names and exit")
    args = ap.parse_args()

    define_cases()
    cases = [c for c in CASES if args.only is None or args.only in c.name]
    if args.list:
        for c in cases:
            print(c.name)
        return 0

    os.makedirs(args.out, exist_ok=True)
    for entry in sorted(os.listdir(args.out)):
        p = os.path.join(args.out, entry)
        if os.path.isdir(p) and os.path.exists(os.path.join(p, "model.onnx")):
            if args.only is None or args.only in entry:
                shutil.rmtree(p)

    opsets = {}
    for c in cases:
        try:
            model, results = build_case(c)
        except Exception:
            print("case %s failed" % c.name, file=sys.stderr)
            raise
        write_case(args.out, c, model, results)
        opsets[c.opset] = opsets.get(c.opset, 0) + 1
    print("wrote %d cases to %s" % (len(cases), args.out))
    print("cases per opset: " + ", ".join("%d:%d" % kv for kv in sorted(opsets.items())))
    print("numpy %s, onnx %s, onnxruntime %s" % (np.__version__, onnx.__version__, ort.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
