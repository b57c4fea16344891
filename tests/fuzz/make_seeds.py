"""Writes the extra fuzzing seeds in tests/fuzz/seeds: small graphs with the operators the op goldens
(tests/data/ops) do not cover in combination -- shape arithmetic (Shape, Gather, Slice, Cast, Squeeze, Unsqueeze,
Concat, integer Mul/Div), BatchNormalization folding and Dropout's optional outputs. Run from the repository root
with any Python that has the onnx package (e.g. build/venv/bin/python tests/fuzz/make_seeds.py)."""
import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def model(name, nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, name, inputs, outputs, [numpy_helper.from_array(a, n) for n, a in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="glassbox seeds")
    m.ir_version = 7
    save(m, os.path.join(OUT, name + ".onnx"))


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


rng = np.random.default_rng(0)
f32 = lambda *s: rng.standard_normal(s).astype(np.float32)
i64 = lambda *v: np.array(v, dtype=np.int64)

# x [N,3,4,5] -> Shape -> Slice(1:) -> Cast(float) -> Cast(int) -> Gather(0) / ReduceProd by Mul -> Concat -> Reshape
model("shape_slice_cast_reshape", [
    helper.make_node("Shape", ["x"], ["s"]),
    helper.make_node("Slice", ["s", "starts", "ends", "axes", "steps"], ["hw"]),
    helper.make_node("Cast", ["hw"], ["hwf"], to=TensorProto.FLOAT),
    helper.make_node("Cast", ["hwf"], ["hwi"], to=TensorProto.INT64),
    helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
    helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
    helper.make_node("Gather", ["hwi", "idx"], ["parts"], axis=0),
    helper.make_node("Mul", ["parts", "one"], ["parts1"]),
    helper.make_node("Div", ["parts1", "one"], ["parts2"]),
    helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
    helper.make_node("Reshape", ["x", "target"], ["y"]),
], [vi("x", ["N", 3, 4, 5])], [vi("y", None)],
    [("starts", i64(1)), ("ends", i64(4)), ("axes", i64(0)), ("steps", i64(1)), ("zero", np.array(0, np.int64)),
     ("axes0", i64(0)), ("idx", i64(0, 1, 2)), ("one", i64(1)), ("minus1", i64(-1))])

# Squeeze / Unsqueeze (inputs, opset 13) around a GlobalAveragePool, then Gemm
model("gap_squeeze_gemm", [
    helper.make_node("GlobalAveragePool", ["x"], ["p"]),
    helper.make_node("Squeeze", ["p", "axes23"], ["v"]),
    helper.make_node("Unsqueeze", ["v", "axes2"], ["v3"]),
    helper.make_node("Squeeze", ["v3", "axes2"], ["v2"]),
    helper.make_node("Gemm", ["v2", "w", "b"], ["y"], transB=1, alpha=0.5, beta=2.0),
], [vi("x", [1, 4, 3, 3])], [vi("y", [1, 2])],
    [("axes23", i64(2, 3)), ("axes2", i64(2)), ("w", f32(2, 4)), ("b", f32(2))])

# Conv -> BatchNormalization (folded at import) -> LeakyRelu -> Dropout (mask omitted) -> MaxPool -> HardSigmoid
model("conv_bn_dropout", [
    helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
    helper.make_node("BatchNormalization", ["c", "g", "be", "m", "v"], ["bn"], epsilon=1e-3),
    helper.make_node("LeakyRelu", ["bn"], ["r"], alpha=0.1),
    helper.make_node("Dropout", ["r"], ["d", ""]),
    helper.make_node("MaxPool", ["d"], ["mp"], kernel_shape=[2, 2], ceil_mode=1),
    helper.make_node("HardSigmoid", ["mp"], ["y"]),
], [vi("x", [1, 3, 7, 7])], [vi("y", None)],
    [("w", f32(4, 3, 3, 3)), ("g", f32(4)), ("be", f32(4)), ("m", f32(4)), ("v", np.abs(f32(4)) + 0.5)])

# Grouped, dilated convolution with a Constant node bias and Sub / Div / Softmax (opset 11 rules)
model("group_conv_softmax_opset11", [
    helper.make_node("Constant", [], ["b"], value=numpy_helper.from_array(f32(4), "b")),
    helper.make_node("Conv", ["x", "w", "b"], ["c"], group=2, dilations=[2, 2], auto_pad="SAME_UPPER"),
    helper.make_node("Sub", ["c", "shift"], ["s"]),
    helper.make_node("Div", ["s", "scale"], ["d"]),
    helper.make_node("Flatten", ["d"], ["f"], axis=2),
    helper.make_node("Softmax", ["f"], ["y"], axis=1),
], [vi("x", [1, 4, 6, 6])], [vi("y", None)],
    [("w", f32(4, 2, 3, 3)), ("shift", f32(4, 1, 1)), ("scale", np.full((1,), 2.0, np.float32))], opset=11)
