#!/usr/bin/env python3
"""Attention-explanation goldens for glassbox: raw attention, attention rollout, gradient-weighted rollout and
token Grad-CAM of small vision transformers, computed in float64 from an explicit re-implementation of each
model's forward pass.

    python make_attention_goldens.py [--out tests/data/attention] [--only NAME]
    python make_attention_goldens.py --full build/models/full     # full-size models, batch 1, 224x224

Models (random weights, torch.manual_seed(0); every nn.Linear re-initialized with its own default init as in
make_model_goldens.py, then LayerNorm weights ~ N(1, 0.5^2), LayerNorm and Linear biases ~ N(0, 0.1^2), class /
distillation tokens and position embeddings ~ N(0, 0.5^2), so that nothing is trivially 1 or 0), exported with
make_model_goldens.export (TorchScript exporter, dynamo=False, constant folding, opset 17, input "input"
[N,3,32,32], output "logits" [N,10], dynamic batch axis "N"):

    timm_vit             timm VisionTransformer(img_size=32, patch_size=8, embed_dim=48, depth=3, num_heads=3,
                         mlp_ratio=2, num_classes=10): 1 prefix (class) token, grid 4x4, T=17
    timm_deit_distilled  timm VisionTransformerDistilled(same, depth=2): class + distillation token, T=18;
                         eval logits = (head(x[:,0]) + head_dist(x[:,1])) / 2
    torchvision_vit      torchvision VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                         hidden_dim=32, mlp_dim=64, num_classes=10): nn.MultiheadAttention, T=17

The reference forward (explicit_forward) is written out from the module's weights in float64: patch Conv,
prefix tokens, position embedding, per block LN1 -> qkv -> softmax(q k^T d^-0.5) -> proj, residual, LN2 ->
MLP (erf GELU) -> residual, final LayerNorm, head(s) on the prefix token(s). The script fails unless its logits
match onnxruntime's (CPU, optimizations off, one thread) to 1e-4, and unless every Softmax output of the ONNX
graph and the Grad-CAM layer match the explicit tensors to 1e-4 (so the explicit attention is the model's).

Input x = torch.randn(2, 3, 32, 32) from a generator seeded 1. A_b = block b's attention probabilities
[2, H, T, T], P prefix tokens, grid h x w, patch token t = P + i*w + j is cell (i, j). Target
L = sum_n logits[n, c_n], c_n = (3n + 1) mod classes. fuse = mean / max / min over the head axis. Files in
OUT/<name>/ (float32 TensorProto .pb unless said):

    model.onnx
    input.pb                  [2,3,32,32]
    logits.pb                 [2,10] onnxruntime's
    layout.txt                "prefix P grid h w tokens T heads H blocks B"
    attention_<b>.pb          [2,H,T,T] A_b, every block b
    raw_<f>.pb                [2,h,w] fuse_f(A_last)[n, 0, P:] on the grid (f = mean, max, min)
    rollout_<f>_d<rrr>.pb     [2,h,w] attention rollout, discard ratio r = rrr/100 (d000, d050):
                              per block Abar = fuse_f(A_b) [T,T]; k = floor(r T^2) smallest of the T^2 - 1
                              entries other than (0,0) set to 0 (stable argsort, lower flat index first);
                              Ahat = (Abar + I)/2, rows normalized to sum 1; R = Ahat @ R (R0 = I); R[0, P:]
    grad_rollout.pb           [2,h,w] Chefer et al. 2021 (Eq. 5-6): G_b = dL/dA_b, Abar_b = mean over heads of
                              max(G_b * A_b, 0); R = I; R = R + Abar_b @ R per block; R[0, P:]
    grad_rollout_{max,min}.pb the same with max / min over heads
    gradcam.pb                [2,h,w] Grad-CAM on the token grid at the last block's first LayerNorm output X
                              [2,T,D]: A[n,d,i,j] = X[n,P+i*w+j,d], G likewise from dL/dX, w[n,d] = mean_ij G,
                              map = max(sum_d w[n,d] A[n,d], 0)
    gradcam_layer.txt         that LayerNormalization node's output name in model.onnx

No normalization and no upsampling anywhere. --full DIR reads DIR/<name>/model.onnx for vit_b_16,
vit_tiny_patch16_224 and deit_tiny_distilled_patch16_224 (where present), rebuilds the PyTorch module the way
make_model_goldens.make_case does (seed 0, nn.Linear re-initialized), checks it against the file and writes the
same reference files (batch 1, 224x224, DIR/<name>/test_data_set_0/input_0.pb when present) to
DIR/<name>/attention/.

Needs torch, torchvision and timm (see requirements-dev.txt).
"""

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
import timm
from onnx import helper, numpy_helper
from timm.models.deit import VisionTransformerDistilled
from timm.models.vision_transformer import VisionTransformer as TimmViT

from make_gradient_goldens import classes_for
from make_model_goldens import export, run_ort

TOLERANCE = 1e-4
OPSET = 17
FUSES = ("mean", "max", "min")
DISCARDS = (0.0, 0.5)

# name, constructor (small models)
MODELS = [
    ("timm_vit", lambda: TimmViT(img_size=32, patch_size=8, embed_dim=48, depth=3, num_heads=3, mlp_ratio=2,
                                 num_classes=10)),
    ("timm_deit_distilled", lambda: VisionTransformerDistilled(img_size=32, patch_size=8, embed_dim=48, depth=2,
                                                               num_heads=3, mlp_ratio=2, num_classes=10)),
    ("torchvision_vit", lambda: torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2,
                                                                     num_heads=2, hidden_dim=32, mlp_dim=64,
                                                                     num_classes=10)),
]

# name, constructor (--full; the same modules export_full_models.py builds)
FULL_MODELS = [
    ("vit_b_16", lambda: torchvision.models.vit_b_16(weights=None)),
    ("vit_tiny_patch16_224", lambda: timm.create_model("vit_tiny_patch16_224", pretrained=False)),
    ("deit_tiny_distilled_patch16_224",
     lambda: timm.create_model("deit_tiny_distilled_patch16_224", pretrained=False)),
]


# ---------------------------------------------------------------------------------------------------------
# The model's weights, family by family, in one layout


def _ln(m):
    return (m.weight, m.bias, m.eps)


def _lin(m):
    return (m.weight, m.bias)


def vit_spec(model):
    """A family-independent description of a ViT's weights (timm VisionTransformer[Distilled] or torchvision
    VisionTransformer); fails on any feature the explicit forward does not implement."""
    if isinstance(model, torchvision.models.VisionTransformer):
        conv = model.conv_proj
        blocks = []
        for layer in model.encoder.layers:
            mha = layer.self_attention
            assert mha.batch_first and mha._qkv_same_embed_dim and mha.in_proj_bias is not None
            assert isinstance(layer.mlp[1], nn.GELU) and layer.mlp[1].approximate == "none"
            blocks.append(dict(ln1=_ln(layer.ln_1), qkv=(mha.in_proj_weight, mha.in_proj_bias),
                               heads=mha.num_heads, proj=_lin(mha.out_proj), ln2=_ln(layer.ln_2),
                               fc1=_lin(layer.mlp[0]), fc2=_lin(layer.mlp[3])))
        return dict(conv=(conv.weight, conv.bias, conv.stride[0]), prefix=[model.class_token],
                    pos=model.encoder.pos_embedding, blocks=blocks, norm=_ln(model.encoder.ln),
                    heads=[(_lin(model.heads.head), 0)])
    assert isinstance(model, TimmViT), type(model)
    assert model.global_pool == "token" and not model.no_embed_class and model.num_reg_tokens == 0
    for m in (model.norm_pre, model.fc_norm, model.patch_embed.norm):
        assert isinstance(m, nn.Identity)
    blocks = []
    for blk in model.blocks:
        for m in (blk.ls1, blk.ls2, blk.attn.q_norm, blk.attn.k_norm, blk.mlp.norm):
            assert isinstance(m, nn.Identity)
        assert isinstance(blk.mlp.act, nn.GELU) and blk.mlp.act.approximate == "none"
        blocks.append(dict(ln1=_ln(blk.norm1), qkv=_lin(blk.attn.qkv), heads=blk.attn.num_heads,
                           proj=_lin(blk.attn.proj), ln2=_ln(blk.norm2), fc1=_lin(blk.mlp.fc1),
                           fc2=_lin(blk.mlp.fc2)))
    prefix, heads = [model.cls_token], [(_lin(model.head), 0)]
    if isinstance(model, VisionTransformerDistilled):
        prefix.append(model.dist_token)
        heads.append((_lin(model.head_dist), 1))
    conv = model.patch_embed.proj
    return dict(conv=(conv.weight, conv.bias, conv.stride[0]), prefix=prefix, pos=model.pos_embed,
                blocks=blocks, norm=_ln(model.norm), heads=heads)


def explicit_forward(spec, x):
    """float64 forward written out from the weights. Returns logits, the attention probabilities per block
    (with retained gradients) and X, the last block's LN1 output (with retained gradient)."""
    d = lambda t: t.detach().double()
    lin = lambda t, wb: t @ d(wb[0]).t() + d(wb[1])
    ln = lambda t, p: F.layer_norm(t, t.shape[-1:], d(p[0]), d(p[1]), p[2])
    w, b, stride = spec["conv"]
    t = F.conv2d(x, d(w), d(b), stride=stride)  # [N, D, h, w]
    n, dim = t.shape[0], t.shape[1]
    t = t.flatten(2).transpose(1, 2)  # [N, h*w, D], token P + i*w + j = cell (i, j)
    t = torch.cat([d(p).expand(n, -1, -1) for p in spec["prefix"]] + [t], dim=1) + d(spec["pos"])
    T = t.shape[1]
    attns, X = [], None
    for blk in spec["blocks"]:
        H = blk["heads"]
        y = ln(t, blk["ln1"])
        if blk is spec["blocks"][-1]:
            X = y
            X.retain_grad()
        qkv = lin(y, blk["qkv"]).reshape(n, T, 3, H, dim // H).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = torch.softmax(q @ k.transpose(-2, -1) * (dim // H) ** -0.5, dim=-1)  # [N, H, T, T]
        a.retain_grad()
        attns.append(a)
        t = t + lin((a @ v).transpose(1, 2).reshape(n, T, dim), blk["proj"])
        t = t + lin(F.gelu(lin(ln(t, blk["ln2"]), blk["fc1"])), blk["fc2"])
    t = ln(t, spec["norm"])
    logits = sum(lin(t[:, tok], wb) for wb, tok in spec["heads"]) / len(spec["heads"])
    return logits, attns, X


# ---------------------------------------------------------------------------------------------------------
# Explanations (float64 numpy, one image at a time)

FUSE = {"mean": lambda a: a.mean(axis=0), "max": lambda a: a.max(axis=0), "min": lambda a: a.min(axis=0)}


def discard(abar, ratio):
    """Set the floor(ratio T^2) smallest entries other than (0,0) to 0 (ties: lower flat index first)."""
    T = abar.shape[0]
    k = int(math.floor(ratio * T * T))
    flat = abar.reshape(-1).copy()
    if k > 0:
        order = np.argsort(flat[1:], kind="stable")
        flat[1 + order[:k]] = 0.0
    return flat.reshape(T, T)


def rollout(attns, fuse, ratio):
    """attns: list over blocks of [H,T,T] (one image). Returns R[0, :]."""
    T = attns[0].shape[-1]
    R = np.eye(T)
    for a in attns:
        ahat = (discard(FUSE[fuse](a), ratio) + np.eye(T)) / 2
        ahat /= ahat.sum(axis=1, keepdims=True)
        R = ahat @ R
    return R[0]


def grad_rollout(attns, grads, fuse):
    T = attns[0].shape[-1]
    R = np.eye(T)
    for a, g in zip(attns, grads):
        R = R + FUSE[fuse](np.maximum(g * a, 0.0)) @ R
    return R[0]


def gradcam(X, G, P, h, w):
    """X, G: [T, D] (one image). Returns [h, w]."""
    D = X.shape[1]
    A = np.empty((D, h, w))
    Gg = np.empty((D, h, w))
    for i in range(h):
        for j in range(w):
            A[:, i, j] = X[P + i * w + j]
            Gg[:, i, j] = G[P + i * w + j]
    weights = Gg.mean(axis=(1, 2))
    return np.maximum((weights[:, None, None] * A).sum(axis=0), 0.0)


# ---------------------------------------------------------------------------------------------------------


def randomize(model, gen):
    """make_case's nn.Linear re-initialization, then random LayerNorm affine parameters, Linear biases, prefix
    tokens and position embeddings (drawn from gen)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.reset_parameters()
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1 + 0.5 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))
            elif isinstance(m, nn.MultiheadAttention):
                m.in_proj_bias.copy_(0.1 * torch.randn(m.in_proj_bias.shape, generator=gen))
            if isinstance(m, nn.Linear) and m.bias is not None:  # incl. MultiheadAttention.out_proj
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))
        spec = vit_spec(model)
        for p in spec["prefix"] + [spec["pos"]]:
            p.copy_(0.5 * torch.randn(p.shape, generator=gen))


def ort_values(path, x, names):
    """onnxruntime's values of the named intermediate tensors (added as graph outputs in a temporary copy)."""
    m = onnx.load(path)
    del m.graph.output[:]
    for nm in names:
        m.graph.output.append(helper.make_tensor_value_info(nm, onnx.TensorProto.FLOAT, None))
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "m.onnx")
        onnx.save(m, p)
        return run_ort(p, x)


def save_pb(path, arr, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.ascontiguousarray(arr, dtype=np.float32), name).SerializeToString())


def make_goldens(model, onnx_path, x, out_dir, keep_dir=False):
    """Checks the explicit forward against onnxruntime on onnx_path and writes the reference files."""
    spec = vit_spec(model)
    graph = onnx.load(onnx_path).graph
    ops = Counter(n.op_type for n in graph.node)
    logits_ort = run_ort(onnx_path, x)[0]

    xt = torch.from_numpy(x).double().requires_grad_(True)  # so that the graph is recorded
    logits, attns, X = explicit_forward(spec, xt)
    cls = classes_for(logits.shape[0], logits.shape[1])
    sum(logits[n, c] for n, c in enumerate(cls)).backward()
    diff = float(np.abs(logits.detach().numpy() - logits_ort).max())
    assert diff < TOLERANCE, "explicit float64 forward vs onnxruntime logits: %g" % diff

    N, H, T, _ = attns[0].shape
    B, P = len(attns), len(spec["prefix"])
    h = w = int(round(math.sqrt(T - P)))
    assert h * w == T - P

    # The ONNX graph's attention (its Softmax outputs) and the Grad-CAM layer against the explicit tensors.
    softmax = [n for n in graph.node if n.op_type == "Softmax"]
    lns = [(i, n) for i, n in enumerate(graph.node) if n.op_type == "LayerNormalization"]
    assert len(softmax) == B, "%d Softmax nodes, %d blocks" % (len(softmax), B)
    assert len(lns) == 2 * B + 1, "%d LayerNormalization nodes, %d blocks" % (len(lns), B)
    last_sm = list(graph.node).index(softmax[-1])
    before = [(i, n) for i, n in lns if i < last_sm]
    layer = before[-1][1].output[0]  # the last LayerNormalization before the last Softmax: last block's LN1
    assert len(before) == 2 * B - 1 and lns[2 * (B - 1)][1].output[0] == layer
    vals = ort_values(onnx_path, x, [n.output[0] for n in softmax] + [layer])
    att_diff = max(float(np.abs(v - a.detach().numpy()).max()) for v, a in zip(vals[:B], attns))
    x_diff = float(np.abs(vals[B] - X.detach().numpy()).max())
    assert att_diff < TOLERANCE and x_diff < TOLERANCE, (att_diff, x_diff)

    if os.path.isdir(out_dir) and not keep_dir:
        shutil.rmtree(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    save_pb(os.path.join(out_dir, "input.pb"), x, "input")
    save_pb(os.path.join(out_dir, "logits.pb"), logits_ort, "logits")
    with open(os.path.join(out_dir, "layout.txt"), "w") as f:
        f.write("prefix %d grid %d %d tokens %d heads %d blocks %d\n" % (P, h, w, T, H, B))
    with open(os.path.join(out_dir, "gradcam_layer.txt"), "w") as f:
        f.write(layer + "\n")
    A = [a.detach().numpy() for a in attns]
    G = [a.grad.numpy() for a in attns]
    for b in range(B):
        save_pb(os.path.join(out_dir, "attention_%d.pb" % b), A[b], "attention_%d" % b)
    grid = lambda rows: np.stack([r[P:].reshape(h, w) for r in rows])
    for f in FUSES:
        save_pb(os.path.join(out_dir, "raw_%s.pb" % f), grid([FUSE[f](A[-1][n])[0] for n in range(N)]), "raw_" + f)
        for r in DISCARDS:
            nm = "rollout_%s_d%03d" % (f, int(round(r * 100)))
            save_pb(os.path.join(out_dir, nm + ".pb"),
                    grid([rollout([a[n] for a in A], f, r) for n in range(N)]), nm)
        nm = "grad_rollout" if f == "mean" else "grad_rollout_" + f
        save_pb(os.path.join(out_dir, nm + ".pb"),
                grid([grad_rollout([a[n] for a in A], [g[n] for g in G], f) for n in range(N)]), nm)
    Xn, Gx = X.detach().numpy(), X.grad.numpy()
    save_pb(os.path.join(out_dir, "gradcam.pb"), np.stack([gradcam(Xn[n], Gx[n], P, h, w) for n in range(N)]),
            "gradcam")
    amax = float(A[-1].max())
    return dict(diff=diff, att_diff=att_diff, x_diff=x_diff, ops=ops, layer=layer, P=P, h=h, w=w, T=T, H=H, B=B,
                amax=amax)


def report(name, r, t0):
    print("%s: prefix %d grid %dx%d T %d heads %d blocks %d; max|explicit - ORT| logits %.2e, softmax %.2e, "
          "gradcam layer %.2e; last-block max attention %.3f; %.1fs"
          % (name, r["P"], r["h"], r["w"], r["T"], r["H"], r["B"], r["diff"], r["att_diff"], r["x_diff"],
             r["amax"], time.time() - t0), flush=True)
    print("  gradcam layer: %s" % r["layer"])
    print("  ops: " + " ".join("%s:%d" % kv for kv in sorted(r["ops"].items())), flush=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.normpath(os.path.join(here, "..", "..", "tests", "data", "attention"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=default_out, help="output folder (default: %(default)s)")
    ap.add_argument("--only", default=None, help="only this model")
    ap.add_argument("--full", default=None, metavar="DIR",
                    help="full-size models: read DIR/<name>/model.onnx, write DIR/<name>/attention/")
    args = ap.parse_args()
    torch.set_num_threads(1)

    if args.full:
        for name, build in FULL_MODELS:
            path = os.path.join(args.full, name, "model.onnx")
            if (args.only and args.only != name) or not os.path.exists(path):
                continue
            t0 = time.time()
            torch.manual_seed(0)  # as make_model_goldens.make_case
            model = build()
            for m in model.modules():
                if isinstance(m, nn.Linear):
                    m.reset_parameters()
            model.eval()
            inp = os.path.join(args.full, name, "test_data_set_0", "input_0.pb")
            if os.path.exists(inp):
                tp = onnx.TensorProto()
                with open(inp, "rb") as f:
                    tp.ParseFromString(f.read())
                x = numpy_helper.to_array(tp).copy()
            else:
                x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
            r = make_goldens(model, path, x, os.path.join(args.full, name, "attention"))
            report(name, r, t0)
        return 0

    os.makedirs(args.out, exist_ok=True)
    for name, build in MODELS:
        if args.only is not None and args.only != name:
            continue
        t0 = time.time()
        torch.manual_seed(0)
        model = build()
        randomize(model, torch.Generator().manual_seed(0))
        model.eval()
        case_dir = os.path.join(args.out, name)
        if os.path.isdir(case_dir):
            shutil.rmtree(case_dir)
        os.makedirs(case_dir)
        path = os.path.join(case_dir, "model.onnx")
        export(model, path, 32, OPSET, True, batch=2)
        x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)).numpy()
        with torch.no_grad():
            torch_diff = float(np.abs(model(torch.from_numpy(x)).numpy() - run_ort(path, x)[0]).max())
        assert torch_diff < TOLERANCE, "%s: PyTorch vs onnxruntime %g" % (name, torch_diff)
        r = make_goldens(model, path, x, case_dir, keep_dir=True)
        report(name, r, t0)
        print("  PyTorch float32 module vs ORT logits %.2e" % torch_diff)
    print("torch %s, torchvision %s, timm %s, onnx %s, onnxruntime %s"
          % (torch.__version__, torchvision.__version__, timm.__version__, onnx.__version__, ort.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
