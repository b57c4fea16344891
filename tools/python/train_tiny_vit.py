#!/usr/bin/env python3
"""Train a tiny vision transformer on a synthetic task whose evidence sits at a
known place, for a pointing-game check of attention explanations.

    python train_tiny_vit.py [--out tests/data/vit_pointing] [--steps 900]

The task: 64x64 RGB images with a smooth random background (two octaves of
bilinearly upsampled uniform noise), 2-3 distractor blobs (soft isotropic
Gaussians of random color) and exactly one evidence object, 12x12 px, at a
uniformly random position (any pixel offset, so it straddles patch borders),
in a saturated random color, drawn last (on top). The class is the object's
SHAPE:

    0 plus     1 hollow square     2 x (diagonal cross)     3 disc

so the class can only be told from the object, whose bounding box is known.

The model: timm's VisionTransformer(img_size=64, patch_size=8, embed_dim=64,
depth=4, num_heads=4, mlp_ratio=2, num_classes=4) (class token, 8x8 grid),
trained from scratch with AdamW (warmup, cosine decay) on batches generated
on the fly (fixed seeds, 1 CPU thread by default, deterministic; about 5-6 min
on an idle core). Validation: 1000 images of seed 1; evaluation: 64 of seed 2;
training batches: seed 3. Input: pixel/255 normalized with mean 0.5 and
std 0.5 per channel, i.e. (pixel - 127.5) / 127.5, RGB, NCHW.

Outputs in OUT:

    model.onnx      opset 17, TorchScript exporter (dynamo=False), constant
                    folding, input "input" [N,3,64,64], output "logits" [N,4],
                    dynamic batch axis "N"; attention not fused (explicit
                    MatMul / Softmax). Metadata: "glassbox.preprocess" =
                    "resize=64;crop=64;mean=127.5,127.5,127.5;std=127.5,127.5,127.5;interp=bilinear"
                    and "glassbox.labels" = "labels.txt". The script fails
                    unless onnxruntime's logits match PyTorch's to 1e-4.
    labels.txt      the 4 class names, one a line
    images/img_XX.png  64 evaluation images (their own seed)
    boxes.json      per image: {"file", "label", "box": [x0, y0, x1, y1]
                    (pixels, x1/y1 exclusive), "pred", "correct"}
    README.md       the command, the accuracies and the Python reference
                    pointing game (raw attention, attention rollout,
                    gradient rollout, Grad-CAM) on the 64 images

Pointing game: each map (8x8 over the patch grid) is upsampled bilinearly to
64x64 (align_corners=False); a hit when its argmax pixel lies inside the
object's box grown by 4 px on every side (Zhang et al.'s 15 px at 224
scaled to 64).

Needs torch, timm, numpy, onnx, onnxruntime and Pillow (requirements-dev.txt).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from onnx import helper
from PIL import Image
from timm.models.vision_transformer import VisionTransformer

CLASSES = ["plus", "hollow_square", "x", "disc"]
SIZE = 64
PATCH = 8
GROW = 4  # pointing-game tolerance in pixels
TOLERANCE = 1e-4
PREPROCESS = "resize=64;crop=64;mean=127.5,127.5,127.5;std=127.5,127.5,127.5;interp=bilinear"
SIZES = [12]  # object side(s) in pixels


def shape_mask(cls, s):
    """Binary s x s mask of class `cls` (bool numpy array)."""
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float64) + 0.5
    c = s / 2.0
    t = max(2.0, s / 4.0)  # stroke width
    if cls == 0:  # plus
        m = (np.abs(xx - c) < t / 2 + 0.5) | (np.abs(yy - c) < t / 2 + 0.5)
    elif cls == 1:  # hollow square
        b = 2 if s < 13 else 3
        m = np.ones((s, s), bool)
        m[b:s - b, b:s - b] = False
    elif cls == 2:  # x
        m = (np.abs(xx - yy) < t / 2 + 0.3) | (np.abs(xx + yy - s) < t / 2 + 0.3)
    else:  # disc
        m = (xx - c) ** 2 + (yy - c) ** 2 <= c * c
    return m


MAX_SIZE = max(SIZES)
# [4 * len(SIZES), MAX_SIZE, MAX_SIZE]: class k, size SIZES[j] at row k * len(SIZES) + j, top-left aligned.
MASK_TABLE = torch.stack([F.pad(torch.from_numpy(shape_mask(k, s)).float(), (0, MAX_SIZE - s, 0, MAX_SIZE - s))
                          for k in range(4) for s in SIZES])


def make_batch(n, gen):
    """n images (uint8 [n,64,64,3] as float 0..255 tensor [n,3,64,64]), labels [n], boxes [n,4]."""
    r = lambda *shape: torch.rand(*shape, generator=gen)
    # Background: coarse 4x4 + finer 16x16 noise, upsampled, in about [0.3, 0.7].
    coarse = F.interpolate(r(n, 3, 4, 4), size=SIZE, mode="bilinear", align_corners=False)
    fine = F.interpolate(r(n, 3, 16, 16), size=SIZE, mode="bilinear", align_corners=False)
    img = 0.3 + 0.3 * coarse + 0.1 * fine
    # Distractors: 2-3 soft Gaussian blobs of random color, centers anywhere.
    yy, xx = torch.meshgrid(torch.arange(SIZE) + 0.5, torch.arange(SIZE) + 0.5, indexing="ij")
    count = 2 + (r(n) < 0.5).long()
    for j in range(3):
        cx, cy = r(n) * SIZE, r(n) * SIZE
        sigma = 2.5 + 3.0 * r(n)
        alpha = (0.6 + 0.35 * r(n)) * (j < count).float()
        color = r(n, 3)
        g = torch.exp(-((xx - cx[:, None, None]) ** 2 + (yy - cy[:, None, None]) ** 2)
                      / (2 * sigma[:, None, None] ** 2))
        a = (alpha[:, None, None] * g)[:, None]
        img = img * (1 - a) + color[:, :, None, None] * a
    # The evidence object: saturated color (each channel in [0,0.15] or [0.85,1]), drawn on top.
    labels = torch.randint(0, 4, (n,), generator=gen)
    sizes = torch.randint(0, len(SIZES), (n,), generator=gen)
    hi = r(n, 3) < 0.5
    color = torch.where(hi, 0.85 + 0.15 * r(n, 3), 0.15 * r(n, 3))
    side = torch.tensor(SIZES)[sizes]
    x0 = (r(n) * (SIZE - side + 1)).long()
    y0 = (r(n) * (SIZE - side + 1)).long()
    grid = torch.arange(SIZE)
    u = grid[None, None, :] - x0[:, None, None]  # [n, 1, 64]
    v = grid[None, :, None] - y0[:, None, None]  # [n, 64, 1]
    inside = (u >= 0) & (u < MAX_SIZE) & (v >= 0) & (v < MAX_SIZE)
    m = MASK_TABLE[(labels * len(SIZES) + sizes)[:, None, None], v.clamp(0, MAX_SIZE - 1),
                   u.clamp(0, MAX_SIZE - 1)] * inside
    m = m[:, None]
    img = img * (1 - m) + color[:, :, None, None] * m
    boxes = torch.stack([x0, y0, x0 + side, y0 + side], 1)
    pixels = (img.clamp(0, 1) * 255).round()
    return pixels, labels, boxes


def normalize(pixels):
    return (pixels / 255.0 - 0.5) / 0.5


def build_model():
    return VisionTransformer(img_size=SIZE, patch_size=PATCH, embed_dim=64, depth=4, num_heads=4,
                             mlp_ratio=2, num_classes=4)


def accuracy(model, x, y, batch=256):
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])
    return (pred == y).float().mean().item(), pred


def train(model, steps, batch, lr, gen, val_x, val_y, budget_s):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(k, steps) / steps)))
    t0 = time.time()
    hits = seen = 0
    for step in range(1, steps + 1):
        model.train()
        x, y, _ = make_batch(batch, gen)
        logits = model(normalize(x))
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        hits += (logits.argmax(1) == y).sum().item()
        seen += len(y)
        if step % 100 == 0 or step == steps:
            va, _ = accuracy(model, val_x, val_y)
            print("step %5d  loss %.4f  train acc %.3f  val acc %.3f  %.0fs"
                  % (step, loss.item(), hits / seen, va, time.time() - t0), flush=True)
            hits = seen = 0
        if budget_s > 0 and time.time() - t0 > budget_s:
            print("stopping at step %d: time budget %.0fs reached" % (step, budget_s))
            break
    return time.time() - t0


# ---------------------------------------------------------------------------------------------- explanations

class AttentionTap:
    """Records each block's attention probabilities (and their gradients) through the attn_drop module."""

    def __init__(self, model):
        self.attn, self.grad = [], []
        self.handles = []
        for b in model.blocks:
            b.attn.fused_attn = False
            self.handles.append(b.attn.attn_drop.register_forward_hook(self._hook))

    def _hook(self, module, inputs, output):
        self.attn.append(output)
        if output.requires_grad:
            i = len(self.attn) - 1
            self.grad.append(None)

            def save(g, i=i):
                self.grad[i] = g
            output.register_hook(save)

    def remove(self):
        for h in self.handles:
            h.remove()


def explain(model, x):
    """Maps [B, 8, 8] for raw attention, rollout, gradient rollout, Grad-CAM; and the predictions."""
    model.eval()
    tap = AttentionTap(model)
    acts = {}

    def keep(module, inputs, output):
        output.retain_grad()
        acts["a"] = output
    h = model.blocks[-1].norm1.register_forward_hook(keep)
    logits = model(x)
    pred = logits.argmax(1)
    model.zero_grad()
    logits.gather(1, pred[:, None]).sum().backward()
    h.remove()
    tap.remove()
    B = x.shape[0]
    g = SIZE // PATCH
    T = g * g + 1
    eye = torch.eye(T).expand(B, T, T)
    with torch.no_grad():
        raw = tap.attn[-1].mean(1)[:, 0, 1:]
        R = eye.clone()
        for A in tap.attn:
            Ah = (A.mean(1) + eye) / 2
            Ah = Ah / Ah.sum(-1, keepdim=True)
            R = Ah @ R
        rollout = R[:, 0, 1:]
        R = eye.clone()
        for A, G in zip(tap.attn, tap.grad):
            Abar = (G * A).clamp(min=0).mean(1)
            R = R + Abar @ R
        grad_rollout = R[:, 0, 1:]
        a, ga = acts["a"][:, 1:], acts["a"].grad[:, 1:]
        w = ga.mean(1, keepdim=True)  # [B, 1, C]
        gradcam = (a * w).sum(-1).clamp(min=0)
    maps = {"raw_attention": raw, "attention_rollout": rollout, "gradient_rollout": grad_rollout,
            "gradcam": gradcam}
    return {k: v.reshape(B, g, g).detach() for k, v in maps.items()}, pred.detach()


def pointing_hits(maps, boxes):
    up = F.interpolate(maps[:, None], size=(SIZE, SIZE), mode="bilinear", align_corners=False)[:, 0]
    flat = up.reshape(len(up), -1).argmax(1)
    py, px = flat // SIZE, flat % SIZE
    x0, y0, x1, y1 = (boxes[:, k] for k in range(4))
    hit = (px >= x0 - GROW) & (px < x1 + GROW) & (py >= y0 - GROW) & (py < y1 + GROW)
    return hit


# ---------------------------------------------------------------------------------------------- export

def export(model, path, example):
    model.eval()
    for b in model.blocks:
        b.attn.fused_attn = False
    torch.onnx.export(model, (example,), path, opset_version=17, dynamo=False, do_constant_folding=True,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    m = onnx.load(path)
    helper.set_model_props(m, {"glassbox.preprocess": PREPROCESS, "glassbox.labels": "labels.txt"})
    onnx.checker.check_model(m)
    onnx.save(m, path)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        want = model(example).numpy()
    got = sess.run(["logits"], {"input": example.numpy()})[0]
    diff = float(np.abs(got - want).max())
    if not diff < TOLERANCE:
        raise SystemExit("onnxruntime differs from PyTorch by %.3e" % diff)
    counts = {}
    for node in m.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return diff, counts


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.normpath(os.path.join(here, "..", "..", "tests", "data", "vit_pointing"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=default_out, help="output folder (default: %(default)s)")
    ap.add_argument("--steps", type=int, default=900, help="training steps (default: %(default)s)")
    ap.add_argument("--batch", type=int, default=128, help="training batch (default: %(default)s)")
    ap.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate (default: %(default)s)")
    ap.add_argument("--budget", type=float, default=0,
                    help="training time limit in seconds, 0: none (default: %(default)s); a limit that cuts training "
                         "short makes the result depend on the machine's speed")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default: %(default)s; on a 2-core machine shared with builds, 2 threads "
                         "ran 4x slower than 1)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    np.random.seed(0)
    torch.use_deterministic_algorithms(True)
    os.makedirs(os.path.join(args.out, "images"), exist_ok=True)

    val_x, val_y, _ = make_batch(1000, torch.Generator().manual_seed(1))
    eval_pix, eval_y, eval_boxes = make_batch(64, torch.Generator().manual_seed(2))
    model = build_model()
    train_s = train(model, args.steps, args.batch, args.lr, torch.Generator().manual_seed(3),
                    normalize(val_x), val_y, args.budget)
    val_acc, _ = accuracy(model, normalize(val_x), val_y)
    eval_acc, eval_pred = accuracy(model, normalize(eval_pix), eval_y)
    _, val_pred = accuracy(model, normalize(val_x), val_y)
    confusion = torch.zeros(4, 4, dtype=torch.long)
    confusion.index_put_((val_y, val_pred), torch.ones_like(val_y), accumulate=True)
    print("validation confusion (rows: true %s):\n%s" % (", ".join(CLASSES), confusion.numpy()))
    print("training %.0fs; validation accuracy %.4f (1000 images), %.4f (the 64 evaluation images)"
          % (train_s, val_acc, eval_acc))

    maps, pred = explain(model, normalize(eval_pix))
    assert torch.equal(pred, eval_pred)
    rates = {}
    ok = eval_pred == eval_y
    for name, m in maps.items():
        hit = pointing_hits(m, eval_boxes)
        flat = int((m.reshape(len(m), -1).amax(1) <= 0).sum())  # all-zero maps: argmax is pixel (0, 0)
        rates[name] = (int(hit.sum()), hit.float().mean().item(), int(hit[ok].sum()), int(ok.sum()), flat)
        print("pointing game %-18s %2d/64 = %.3f  (correct predictions only: %d/%d; all-zero maps: %d)"
              % ((name,) + rates[name]))

    # Export (attention unfused) and the evaluation files.
    model_path = os.path.join(args.out, "model.onnx")
    diff, counts = export(model, model_path, normalize(eval_pix[:8]))
    print("model.onnx: max |ort - torch| = %.2e; ops: %s"
          % (diff, " ".join("%s:%d" % kv for kv in sorted(counts.items()))))
    with open(os.path.join(args.out, "labels.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    records = []
    for i in range(len(eval_pix)):
        name = "img_%02d.png" % i
        arr = eval_pix[i].permute(1, 2, 0).to(torch.uint8).numpy()
        Image.fromarray(arr, "RGB").save(os.path.join(args.out, "images", name), optimize=True)
        assert np.array_equal(np.asarray(Image.open(os.path.join(args.out, "images", name)).convert("RGB")), arr)
        records.append({"file": "images/" + name, "label": int(eval_y[i]),
                        "box": [int(v) for v in eval_boxes[i]], "pred": int(eval_pred[i]),
                        "correct": bool(eval_pred[i] == eval_y[i])})
    with open(os.path.join(args.out, "boxes.json"), "w") as f:
        f.write("[\n" + ",\n".join("  " + json.dumps(r) for r in records) + "\n]\n")

    cmd = "python tools/python/train_tiny_vit.py" + "".join(
        " --%s %s" % (k, getattr(args, k)) for k in ("steps", "batch", "lr", "budget", "threads"))
    lines = [
        "# vit_pointing: a tiny ViT for the pointing game",
        "",
        "Made by `tools/python/train_tiny_vit.py` (see its docstring for the task and each file):",
        "",
        "    " + cmd,
        "",
        "(torch %s, timm %s, onnx %s, onnxruntime %s; torch threads: %d; training took %.0f s here.)"
        % (torch.__version__, __import__("timm").__version__, onnx.__version__, ort.__version__,
           args.threads, train_s),
        "",
        "- `model.onnx`: timm VisionTransformer(img_size=64, patch_size=8, embed_dim=64, depth=4, num_heads=4,",
        "  mlp_ratio=2, num_classes=4), class token, 8x8 patch grid; opset 17, input `input` [N,3,64,64],",
        "  output `logits` [N,4]; attention unfused (MatMul, Softmax). onnxruntime vs PyTorch: %.1e." % diff,
        "- Preprocessing: pixel/255, then mean 0.5 / std 0.5 per channel, i.e. (pixel - 127.5) / 127.5, RGB;",
        "  in the metadata as `glassbox.preprocess` = `%s`;" % PREPROCESS,
        "  `glassbox.labels` = `labels.txt` (%s)." % ", ".join("%d %s" % kv for kv in enumerate(CLASSES)),
        "- `images/img_XX.png`: 64 evaluation images (seed 2); `boxes.json`: label, box [x0, y0, x1, y1]",
        "  (pixels, x1/y1 exclusive), the model's prediction and whether it is correct.",
        "",
        "Accuracy: %.1f%% on 1000 validation images (seed 1), %.1f%% (%d/64) on the 64 evaluation images."
        % (100 * val_acc, 100 * eval_acc, int((eval_pred == eval_y).sum())),
        "Validation confusion (rows: true class, columns: predicted, order %s):" % ", ".join(CLASSES),
        "",
    ] + ["    " + " ".join("%4d" % v for v in row) for row in confusion.tolist()] + [
        "",
        "## Python reference pointing game (the 64 evaluation images)",
        "",
        "Maps for the predicted class on the 8x8 grid, upsampled bilinearly to 64x64 (align_corners=False);",
        "a hit when the argmax pixel lies in the box grown by %d px on every side." % GROW,
        "",
        "| method | hits | rate | hits, correct predictions only | all-zero maps |",
        "|---|---|---|---|---|",
    ]
    what = {"raw_attention": "raw attention, last block, class-token row, mean over heads",
            "attention_rollout": "attention rollout (Abnar & Zuidema 2020), (A + I)/2 rows normalized",
            "gradient_rollout": "gradient rollout (Chefer et al. 2021), R += mean_h relu(dA * A) @ R",
            "gradcam": "Grad-CAM at blocks[-1].norm1 output, patch tokens on the grid"}
    for name, (h, rate, hc, nc, flat) in rates.items():
        lines.append("| %s | %d/64 | %.1f%% | %d/%d | %d |" % (what[name], h, 100 * rate, hc, nc, flat))
    lines += ["", "An all-zero map (Grad-CAM's ReLU leaves nothing) has its argmax at pixel (0, 0): a miss unless the",
              "box is within 4 px of the corner. The maps are for the model's predicted class."]
    lines += ["", "ONNX operators: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())) + "."]
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
