#!/usr/bin/env python3
"""Reads a TensorBoard log folder with TensorBoard's own reader (EventAccumulator) and checks it.

Prints every scalar and image it finds. With expectations it also asserts them: the scalar tags and the image
tags must be exactly those named, each tag's steps exactly those given (in order), scalar values equal within
--tolerance (relative), image sizes equal both in the Summary and in the PNG's own header.

    read_tensorboard.py LOGDIR                                    # list only
    read_tensorboard.py LOGDIR --scalar loss 0 1.5 --scalar loss 1 0.75 --image gradcam/cat 0 7x5
    read_tensorboard.py LOGDIR --expect-json '{"scalars": {"loss": [[0, 1.5], [1, 0.75]]},
                                               "images": {"gradcam/cat": [[0, 7, 5]]}}'
    (--expect-json also takes a file name; images are [step, width, height])

Exit status: 0 when everything matches, 1 on a mismatch or an unreadable folder, 2 on bad arguments.
Needs the tensorboard package (tools/python/requirements.txt).
"""
import argparse
import json
import os
import struct
import sys


def png_size(data):
    """(width, height) from a PNG's IHDR chunk, or None when the bytes are not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def parse_size(text):
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}")


def load_expectations(args):
    """{'scalars': {tag: [(step, value)]}, 'images': {tag: [(step, width, height)]}} or None when none given."""
    scalars, images = {}, {}
    given = False
    if args.expect_json:
        given = True
        text = args.expect_json
        if os.path.isfile(text):
            with open(text) as f:
                text = f.read()
        spec = json.loads(text)
        for tag, points in spec.get("scalars", {}).items():
            scalars.setdefault(tag, []).extend((int(s), float(v)) for s, v in points)
        for tag, points in spec.get("images", {}).items():
            images.setdefault(tag, []).extend((int(s), int(w), int(h)) for s, w, h in points)
    for tag, step, value in args.scalar or []:
        given = True
        scalars.setdefault(tag, []).append((int(step), float(value)))
    for tag, step, size in args.image or []:
        given = True
        w, h = parse_size(size)
        images.setdefault(tag, []).append((int(step), w, h))
    return {"scalars": scalars, "images": images} if given else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("logdir", help="a folder holding events.out.tfevents.* files")
    ap.add_argument("--scalar", nargs=3, action="append", metavar=("TAG", "STEP", "VALUE"),
                    help="expect this scalar point (repeat for each point)")
    ap.add_argument("--image", nargs=3, action="append", metavar=("TAG", "STEP", "WxH"),
                    help="expect an image of this size at this step (repeat for each)")
    ap.add_argument("--expect-json", metavar="JSON_OR_FILE", help="expectations as JSON (see above)")
    ap.add_argument("--tolerance", type=float, default=1e-6, help="relative tolerance of scalar values")
    args = ap.parse_args()
    try:
        expect = load_expectations(args)
    except (ValueError, TypeError, argparse.ArgumentTypeError) as e:
        ap.error(f"bad expectation: {e}")

    try:
        from tensorboard.backend.event_processing import event_accumulator as ea
    except ImportError as e:
        print(f"FAIL: tensorboard is not importable by {sys.executable} ({e}); "
              "install tools/python/requirements.txt", file=sys.stderr)
        return 1

    if not os.path.isdir(args.logdir):
        print(f"FAIL: {args.logdir}: not a folder", file=sys.stderr)
        return 1
    files = sorted(f for f in os.listdir(args.logdir) if "tfevents" in f)
    if not files:
        print(f"FAIL: {args.logdir}: no events.out.tfevents.* file", file=sys.stderr)
        return 1
    for f in files:
        print(f"file {os.path.join(args.logdir, f)}")

    # size_guidance 0 keeps every event (the default samples images down to 4 per tag).
    acc = ea.EventAccumulator(args.logdir, size_guidance={ea.SCALARS: 0, ea.IMAGES: 0})
    acc.Reload()
    tags = acc.Tags()
    got_scalars = {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in sorted(tags.get(ea.SCALARS, []))}
    got_images = {}
    for t in sorted(tags.get(ea.IMAGES, [])):
        got_images[t] = [(e.step, e.width, e.height, png_size(e.encoded_image_string), len(e.encoded_image_string))
                         for e in acc.Images(t)]
    for t, points in got_scalars.items():
        for step, value in points:
            print(f"scalar {t} step={step} value={value!r}")
    for t, points in got_images.items():
        for step, w, h, png, nbytes in points:
            kind = f"PNG {png[0]}x{png[1]}" if png else "not a PNG"
            print(f"image  {t} step={step} {w}x{h} ({kind}, {nbytes} bytes)")

    if expect is None:
        return 0
    errors = []
    if sorted(got_scalars) != sorted(expect["scalars"]):
        errors.append(f"scalar tags {sorted(got_scalars)}, expected {sorted(expect['scalars'])}")
    if sorted(got_images) != sorted(expect["images"]):
        errors.append(f"image tags {sorted(got_images)}, expected {sorted(expect['images'])}")
    for t, want in expect["scalars"].items():
        got = got_scalars.get(t, [])
        if [s for s, _ in got] != [s for s, _ in want]:
            errors.append(f"scalar {t}: steps {[s for s, _ in got]}, expected {[s for s, _ in want]}")
            continue
        for (step, v), (_, w) in zip(got, want):
            if abs(v - w) > args.tolerance * max(abs(w), 1e-30):
                errors.append(f"scalar {t} step {step}: value {v!r}, expected {w!r}")
    for t, want in expect["images"].items():
        got = got_images.get(t, [])
        if [g[0] for g in got] != [s for s, _, _ in want]:
            errors.append(f"image {t}: steps {[g[0] for g in got]}, expected {[s for s, _, _ in want]}")
            continue
        for (step, w, h, png, _), (_, ew, eh) in zip(got, want):
            if (w, h) != (ew, eh):
                errors.append(f"image {t} step {step}: {w}x{h} in the summary, expected {ew}x{eh}")
            if png != (ew, eh):
                errors.append(f"image {t} step {step}: PNG header says {png}, expected {ew}x{eh}")
    for e in errors:
        print(f"FAIL: {e}")
    if errors:
        return 1
    n_scalars = sum(len(v) for v in expect["scalars"].values())
    n_images = sum(len(v) for v in expect["images"].values())
    print(f"OK: {n_scalars} scalar points in {len(expect['scalars'])} tags and {n_images} images in "
          f"{len(expect['images'])} tags, read by TensorBoard's EventAccumulator, as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
