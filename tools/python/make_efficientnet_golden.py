#!/usr/bin/env python3
"""Write an ONNX backend-test style golden case for EfficientNet-Lite0.

    python make_efficientnet_golden.py --model DIR/models/efficientnet_lite0.onnx \
                                       --out DIR/models/efficientnet_lite0_test

Produces OUT/test_data_set_0/input_0.pb (TensorProto "input", float32
[2,3,224,224], numpy default_rng(0) uniform in [-1, 1)) and
OUT/test_data_set_0/output_0.pb (TensorProto "logits", onnxruntime CPU output,
float32 [2,1000]). The input bytes are the same on every machine; the output
is onnxruntime's, so compare against it with a tolerance (about 1e-4 abs).
"""

import argparse
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

SHAPE = (2, 3, 224, 224)
SEED = 0


def make_input():
    rng = np.random.default_rng(SEED)
    return rng.uniform(-1.0, 1.0, size=SHAPE).astype(np.float32)


def run_model(model_path, x):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # one thread: the same summation order on every run
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model_path, sess_options=opts, providers=["CPUExecutionProvider"])
    (y,) = sess.run(["logits"], {"input": x})
    return y


def write_tensor(path, array, name):
    data = numpy_helper.from_array(array, name=name).SerializeToString()
    if os.path.isfile(path) and os.path.getsize(path) == len(data):
        with open(path, "rb") as f:
            if f.read() == data:
                return  # leave an identical file (and its mtime) alone
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Golden input/output for efficientnet_lite0.onnx")
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True, help="test case folder (holds test_data_set_0/)")
    args = ap.parse_args(argv)

    model = onnx.load(args.model, load_external_data=False)
    in_names = [i.name for i in model.graph.input]
    out_names = [o.name for o in model.graph.output]
    if in_names != ["input"] or out_names != ["logits"]:
        raise SystemExit("unexpected model signature: %s -> %s" % (in_names, out_names))

    x = make_input()
    y = run_model(args.model, x)
    if y.shape != (SHAPE[0], 1000) or y.dtype != np.float32 or not np.isfinite(y).all():
        raise SystemExit("unexpected output %s %s" % (y.shape, y.dtype))

    case = os.path.join(args.out, "test_data_set_0")
    os.makedirs(case, exist_ok=True)
    write_tensor(os.path.join(case, "input_0.pb"), x, "input")
    write_tensor(os.path.join(case, "output_0.pb"), y, "logits")
    print("wrote %s: input %s, logits %s, top-1 %s" % (case, list(x.shape), list(y.shape), y.argmax(1).tolist()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
