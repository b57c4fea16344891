"""Writes the seeds of the tools' fuzz targets (tests/fuzz/seeds/<target>/): preprocessing specs, tiny images
(PNG of every colour type, interlaced and filtered; BMP 8/24/32-bit; baseline JPEG grey, 4:4:4 and 4:2:0 with
restart markers -- written here byte by byte, no imaging library), dataset.json texts and command lines (words
separated by NUL). Run from anywhere with a Python that has numpy (e.g. build/venv/bin/python
tests/fuzz/make_seeds_tools.py); the output is deterministic."""
import os
import struct
import zlib

import numpy as np

SEEDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def write(target, name, data):
    os.makedirs(os.path.join(SEEDS, target), exist_ok=True)
    with open(os.path.join(SEEDS, target, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def picture(w, h, channels=3, seed=0):
    """A smooth gradient with a little noise: compresses like a photo, small."""
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    planes = [(x * 255 // max(1, w - 1)), (y * 255 // max(1, h - 1)), ((x + y) * 127 // max(1, w + h - 2))]
    planes.append(255 - planes[0])
    a = np.stack(planes[:channels], axis=-1) + rng.integers(0, 8, (h, w, channels))
    return np.clip(a, 0, 255).astype(np.uint8)


# ---- PNG --------------------------------------------------------------------------------------------------------

def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filter_rows(rows, bpp, kinds):
    """rows: list of bytes objects; each row filtered with kinds[i % len(kinds)] (0 none .. 4 Paeth)."""
    out = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for i, row in enumerate(rows):
        k = kinds[i % len(kinds)]
        f = bytearray(len(row))
        for j, v in enumerate(row):
            a = row[j - bpp] if j >= bpp else 0
            b = prev[j]
            c = prev[j - bpp] if j >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][k]
            f[j] = (v - pred) & 0xFF
        out += bytes([k]) + f
        prev = row
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png(a, color_type, depth=8, palette=None, trns=None, interlace=False, kinds=(0,)):
    h, w = a.shape[:2]
    samples = a if a.ndim == 3 else a[:, :, None]
    bpp = max(1, samples.shape[2] * depth // 8)

    def raw(img):
        if depth == 16:
            img = (img.astype(">u2") * 257)
        return [img[r].tobytes() for r in range(img.shape[0])]

    if interlace:
        data = b""
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.size:
                data += filter_rows(raw(sub), bpp, kinds)
    else:
        data = filter_rows(raw(samples), bpp, kinds)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0,
                                                                  1 if interlace else 0))
    if palette is not None:
        out += png_chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    half = len(data) // 2  # two IDAT chunks: the decoder must join them
    z = zlib.compress(data, 9)
    return out + png_chunk(b"IDAT", z[:half]) + png_chunk(b"IDAT", z[half:]) + png_chunk(b"IEND", b"")


# ---- BMP --------------------------------------------------------------------------------------------------------

def bmp(a, bits, top_down=False):
    h, w = a.shape[:2]
    palette = b""
    if bits == 8:
        idx = (a[:, :, 0] // 16).astype(np.uint8)
        palette = b"".join(bytes([i * 16, 255 - i * 16, i * 8, 0]) for i in range(16))
        rows = [idx[r].tobytes() for r in range(h)]
        colors = 16
    else:
        px = a[:, :, ::-1]  # BGR
        if bits == 32:
            px = np.concatenate([px, np.full((h, w, 1), 255, np.uint8)], axis=2)
        rows = [px[r].tobytes() for r in range(h)]
        colors = 0
    stride = (len(rows[0]) + 3) // 4 * 4
    if not top_down:
        rows = rows[::-1]
    pixels = b"".join(r + bytes(stride - len(r)) for r in rows)
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, bits, 0, len(pixels), 2835, 2835, colors, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels


# ---- baseline JPEG ----------------------------------------------------------------------------------------------

ZIGZAG = sorted(((y, x) for y in range(8) for x in range(8)),
                key=lambda p: (p[0] + p[1], p[0] if (p[0] + p[1]) % 2 else p[1]))
DCT = np.array([[np.sqrt((1 if k == 0 else 2) / 8) * np.cos((2 * n + 1) * k * np.pi / 16) for n in range(8)]
                for k in range(8)])
# Huffman tables that are simple rather than small: every DC category a 4-bit code, every AC symbol an 8-bit one.
DC_SYMBOLS = list(range(12))
AC_SYMBOLS = [0x00, 0xF0] + [(r << 4) | s for r in range(16) for s in range(1, 11)]


def huffman(symbols, length):
    return {s: (i, length) for i, s in enumerate(symbols)}


DC_CODES, AC_CODES = huffman(DC_SYMBOLS, 4), huffman(AC_SYMBOLS, 8)
QUANT = 6


class Bits:
    def __init__(self):
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, value, length):
        for i in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)
                self.acc, self.n = 0, 0

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)


def category(v):
    v = abs(int(v))
    return v.bit_length()


def magnitude(v):
    c = category(v)
    return (int(v) if v >= 0 else int(v) + (1 << c) - 1), c


def encode_block(bits, block, pred):
    coef = np.round(DCT @ (block.astype(float) - 128) @ DCT.T / QUANT).astype(int)
    zz = [coef[y, x] for y, x in ZIGZAG]
    diff = zz[0] - pred
    m, c = magnitude(diff)
    bits.put(*DC_CODES[c])
    bits.put(m, c)
    run = 0
    for v in zz[1:]:
        if v == 0:
            run += 1
            continue
        while run > 15:
            bits.put(*AC_CODES[0xF0])
            run -= 16
        m, c = magnitude(v)
        bits.put(*AC_CODES[(run << 4) | c])
        bits.put(m, c)
        run = 0
    if run:
        bits.put(*AC_CODES[0x00])
    return zz[0]


def jpeg(a, subsample=False, restart=0):
    h, w = a.shape[:2]
    if a.ndim == 2:
        planes, sampling = [a.astype(float)], [(1, 1)]
    else:
        r, g, b = (a[:, :, i].astype(float) for i in range(3))
        planes = [0.299 * r + 0.587 * g + 0.114 * b, 128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
                  128 + 0.5 * r - 0.418688 * g - 0.081312 * b]
        sampling = [(2, 2) if subsample else (1, 1), (1, 1), (1, 1)]
    hmax, vmax = max(s[0] for s in sampling), max(s[1] for s in sampling)
    mw, mh = -(-w // (8 * hmax)), -(-h // (8 * vmax))
    comps = []
    for p, (hs, vs) in zip(planes, sampling):
        p = np.pad(p, ((0, mh * 8 * vmax - h), (0, mw * 8 * hmax - w)), mode="edge")
        if (hs, vs) != (hmax, vmax):
            p = p.reshape(p.shape[0] // 2, 2, p.shape[1] // 2, 2).mean(axis=(1, 3))
        comps.append(np.clip(np.round(p), 0, 255))
    bits, preds = Bits(), [0] * len(comps)
    out = bytearray()
    for mcu in range(mw * mh):
        if restart and mcu and mcu % restart == 0:
            bits.flush()
            out += bits.out + bytes([0xFF, 0xD0 + (mcu // restart - 1) % 8])
            bits, preds = Bits(), [0] * len(comps)
        my, mx = divmod(mcu, mw)
        for ci, (p, (hs, vs)) in enumerate(zip(comps, sampling)):
            for by in range(vs):
                for bx in range(hs):
                    y0, x0 = (my * vs + by) * 8, (mx * hs + bx) * 8
                    preds[ci] = encode_block(bits, p[y0:y0 + 8, x0:x0 + 8], preds[ci])
    bits.flush()
    out += bits.out

    def segment(marker, body):
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    def dht(cls_id, symbols, length):
        counts = [0] * 16
        counts[length - 1] = len(symbols)
        return bytes([cls_id]) + bytes(counts) + bytes(symbols)

    n = len(comps)
    head = b"\xff\xd8" + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    head += segment(0xDB, b"\x00" + bytes([QUANT] * 64))
    head += segment(0xC0, struct.pack(">BHHB", 8, h, w, n) +
                    b"".join(bytes([i + 1, (s[0] << 4) | s[1], 0]) for i, s in enumerate(sampling)))
    head += segment(0xC4, dht(0x00, DC_SYMBOLS, 4) + dht(0x10, AC_SYMBOLS, 8))
    if restart:
        head += segment(0xDD, struct.pack(">H", restart))
    head += segment(0xDA, bytes([n]) + b"".join(bytes([i + 1, 0x00]) for i in range(n)) + b"\x00\x3f\x00")
    return head + bytes(out) + b"\xff\xd9"


# ---- the seeds --------------------------------------------------------------------------------------------------

def main():
    # fuzz_preprocess: spec strings as the metadata and --preprocess carry them
    for i, spec in enumerate([
            "resize=256;crop=224;mean=123.675,116.28,103.53;std=58.395,57.12,57.375;interp=bilinear",
            "resize=40;crop=32", "resize=37;crop=32;interp=nearest", "resize=0;crop=0", "crop=7",
            "resize=16384;crop=16384", "mean=0;std=1", "mean=0.5,0.5,0.5;std=0.25,1e-3,3e4", ";;resize=8;;crop=8;",
            "resize=9;crop=10", "std=0", "mean=nan", "interp=bicubic", "resize=00012;crop=0011;mean=-1e30"]):
        write("fuzz_preprocess", "spec%02d.txt" % i, spec)

    # fuzz_image
    im = "fuzz_image"
    write(im, "rgb_9x7.png", png(picture(9, 7), 2))
    write(im, "gray_5x11.png", png(picture(5, 11, 1)[:, :, 0], 0))
    write(im, "gray_alpha_6x4.png", png(picture(6, 4, 2), 4))
    write(im, "rgba_8x8_filters.png", png(picture(8, 8, 4), 6, kinds=(0, 1, 2, 3, 4)))
    write(im, "rgb16_4x3.png", png(picture(4, 3), 2, depth=16, kinds=(1, 4)))
    write(im, "rgb_13x10_interlaced.png", png(picture(13, 10), 2, interlace=True, kinds=(4, 2)))
    pal = picture(16, 1)[0]
    write(im, "palette_7x5_trns.png",
          png((picture(7, 5, 1)[:, :, 0] // 16).astype(np.uint8), 3, palette=pal, trns=bytes(range(0, 256, 32))))
    write(im, "rgb_1x40.png", png(picture(1, 40), 2))
    write(im, "rgb24_7x5.bmp", bmp(picture(7, 5), 24))
    write(im, "rgb32_6x3_topdown.bmp", bmp(picture(6, 3), 32, top_down=True))
    write(im, "pal8_5x4.bmp", bmp(picture(5, 4), 8))
    write(im, "gray_9x9.jpg", jpeg(picture(9, 9, 1)[:, :, 0]))
    write(im, "ycc444_12x7.jpg", jpeg(picture(12, 7)))
    write(im, "ycc420_19x17_restart.jpg", jpeg(picture(19, 17), subsample=True, restart=1))
    write(im, "ycc420_40x3.jpg", jpeg(picture(40, 3), subsample=True))

    # fuzz_dataset_json
    for i, text in enumerate([
            '{"images": [{"file": "a.jpg", "label": 3, "boxes": [[0, 0, 10, 10], [2.5, 3, 7, 8.25]]},'
            ' {"file": "sub/b.png", "box": [1, 2, 3, 4]}, {"file": "c.bmp", "extra": {"x": [1, 2]}}]}',
            '[{"file": "x.png"}, {"file": "./y/../y/z.jpeg", "label": 0}]',
            '{"images": []}', '[]',
            '{"images": [{"file": "big.jpg", "label": 18446744073709551615}, {"file": "neg.jpg", "label": -4}]}',
            '{"images": [{"file": "a.jpg", "label": 1.5}]}',
            '{"images": [{"file": "../etc/passwd"}]}', '{"images": [{"file": "/abs.png"}]}',
            '{"images": [{"file": "tab\\there.png"}]}', '{"images": [{"file": "a.png"}, {"file": "a.png"}]}',
            '{"images": [{"file": "a.png", "boxes": [[1, 2, 3]]}]}',
            '{"images": [{"file": "\\u00e9t\\u00e9/\\ud83d\\ude00.jpg", "boxes": [[1e308, -1e308, 0, 5e-324]]}]}']):
        write("fuzz_dataset_json", "dataset%02d.json" % i, text)

    # fuzz_args: words as argv after "glassbox run", NUL-separated
    for i, words in enumerate([
            ["model.onnx", "cat.jpg", "--top", "5", "--json"],
            ["m.onnx", "a.png", "b.png", "--batch=2", "--resize", "256", "--crop", "224", "--probability"],
            ["--mean", "0.5,0.5,0.5", "--std=0.25", "--method", "gradcam,layercam", "--class", "281", "m.onnx"],
            ["--preprocess", "resize=40;crop=32", "--max-pixels", "1048576", "--threads", "2", "--device", "cpu"],
            ["--device", "cuda:1", "--memory-limit", "0.5", "--conv-variant", "im2col", "--out", "o", "x"],
            ["--", "--top", "-3", "--top"], ["--tpo", "1"], ["--json=1"], ["--batch", "--json"],
            ["--class", "99999999999999999999", "--noise-std", "1e400", "--samples", "-0"],
            ["--layer", "", "--labels", "a,,b", "--save-raw", "--quiet", "--logits", "--probability"]]):
        write("fuzz_args", "args%02d.bin" % i, b"\x00".join(w.encode() for w in words))


if __name__ == "__main__":
    main()
