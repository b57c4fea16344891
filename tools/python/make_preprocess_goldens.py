#!/usr/bin/env python3
"""torchvision's preprocessing of a few synthetic photos, the reference for glassbox's (tests/tools/test_image.cpp,
Preprocess.EqualsTorchvision):

    tools/python/.venv/bin/python tools/python/make_preprocess_goldens.py --out tests/data/preprocess

For each case, <name>.png (a deterministic RGB picture: smooth gradients plus noise, so that resampling and
rounding show) and <name>.pb (onnx.TensorProto, float32 [3, crop, crop]): the tensor of
    transforms.Compose([Resize(resize), CenterCrop(crop), ToTensor(), Normalize(mean / 255, std / 255)])
on the PIL image (bilinear Resize on PIL images is PIL's antialiased resampling). spec.txt holds the glassbox
preprocess spec of each case. Sizes are chosen so that (resized - crop) is odd on one side or both, where
CenterCrop's offset int(round(d / 2)) rounds half to even, and so that some cases shrink and some enlarge.
"""
import argparse
import os

import numpy as np
import torch
from onnx import numpy_helper
from PIL import Image
from torchvision import transforms

MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
# name, width, height, resize, crop
CASES = [
    ("wide_53x40", 53, 40, 40, 32),       # resized 53x40: x offset round(10.5) = 10, y offset 4
    ("tall_40x67", 40, 67, 40, 32),       # resized 40x67: y offset round(17.5) = 18
    ("shrink_171x128", 171, 128, 40, 32),  # shrinks by 3.2 (antialiased), resized 53x40
    ("enlarge_30x45", 30, 45, 40, 33),    # enlarges, resized 40x60: offsets round(3.5) = 4, round(13.5) = 14
    ("square_64x64", 64, 64, 37, 32),     # offsets round(2.5) = 2 on both sides
    ("extreme_201x50", 201, 50, 40, 32),  # resized 160x40: x offset 64
]


def picture(w: int, h: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([255 * x / max(1, w - 1), 255 * y / max(1, h - 1), 127.5 + 127.5 * np.sin((x + y) / 5.0)], -1)
    return np.clip(base + rng.normal(0, 25, base.shape), 0, 255).round().astype(np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/data/preprocess")
    out = ap.parse_args().out
    os.makedirs(out, exist_ok=True)
    specs = []
    for i, (name, w, h, resize, crop) in enumerate(CASES):
        img = Image.fromarray(picture(w, h, i), "RGB")
        img.save(os.path.join(out, name + ".png"))
        t = transforms.Compose([transforms.Resize(resize), transforms.CenterCrop(crop), transforms.ToTensor(),
                                transforms.Normalize([m / 255 for m in MEAN], [s / 255 for s in STD])])
        x = t(Image.open(os.path.join(out, name + ".png")).convert("RGB"))
        assert x.shape == (3, crop, crop) and x.dtype == torch.float32
        with open(os.path.join(out, name + ".pb"), "wb") as f:
            f.write(numpy_helper.from_array(x.numpy(), name).SerializeToString())
        specs.append(f"{name} resize={resize};crop={crop}")
    with open(os.path.join(out, "spec.txt"), "w") as f:
        f.write("\n".join(specs) + "\n")
    print("wrote", len(CASES), "cases to", out)


if __name__ == "__main__":
    main()
