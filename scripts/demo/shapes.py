"""Synthetic "one shape on a textured background" images for the Saliency Lens demo classifier.

Not a script: imported by scripts/demo/train_demo.py. Needs numpy + PIL only.

Every image holds exactly ONE object - circle, square, triangle, cross, star or ring - in a random colour,
size, rotation and place, on a background made of a random base colour, a smooth low-frequency colour field,
a linear gradient, faint stripes and pixel noise (about 1 in 8 backgrounds are plain: one colour plus a
little noise). The class is decided by the object alone, so a faithful saliency map should peak on it.
Everything is drawn from a numpy Generator: same seed, same images.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES = ["circle", "square", "triangle", "cross", "star", "ring"]
SUPER = 4  # supersampling factor of the object mask (antialiased edges)


def _rot(points, angle, cx, cy):
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in points]


def shape_mask(cls: str, size: int, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """Antialiased coverage mask [size, size] in [0,1] of one shape of 'radius' r centred at (cx, cy)."""
    S = size * SUPER
    img = Image.new("L", (S, S), 0)
    d = ImageDraw.Draw(img)
    cx, cy, r = cx * SUPER, cy * SUPER, r * SUPER
    if cls == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    elif cls == "ring":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        ri = r * 0.55
        d.ellipse([cx - ri, cy - ri, cx + ri, cy + ri], fill=0)
    elif cls == "square":
        h = r * 0.82
        d.polygon(_rot([(-h, -h), (h, -h), (h, h), (-h, h)], angle, cx, cy), fill=255)
    elif cls == "triangle":
        R = r * 1.12
        pts = [(R * math.cos(a), R * math.sin(a)) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
        d.polygon(_rot(pts, angle, cx, cy), fill=255)
    elif cls == "cross":
        a, w = r, r * 0.36
        for pts in ([(-a, -w), (a, -w), (a, w), (-a, w)], [(-w, -a), (w, -a), (w, a), (-w, a)]):
            d.polygon(_rot(pts, angle, cx, cy), fill=255)
    elif cls == "star":
        R, ri = r * 1.12, r * 1.12 * 0.42
        pts = []
        for k in range(10):
            rad = R if k % 2 == 0 else ri
            t = -math.pi / 2 + k * math.pi / 5
            pts.append((rad * math.cos(t), rad * math.sin(t)))
        d.polygon(_rot(pts, angle, cx, cy), fill=255)
    else:
        raise ValueError(cls)
    img = img.resize((size, size), Image.BOX)
    return np.asarray(img, dtype=np.float32) / 255.0


def _lum(c):
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def background(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns (image [size,size,3] in [0,1], base colour)."""
    base = rng.uniform(0.05, 0.95, 3)
    img = np.broadcast_to(base, (size, size, 3)).astype(np.float32).copy()
    plain = rng.random() < 0.125
    if not plain:
        # smooth low-frequency colour field
        g = int(rng.integers(3, 9))
        field = rng.normal(0, rng.uniform(0.05, 0.2), (g, g, 3))
        fimg = np.stack([np.asarray(Image.fromarray(field[..., c].astype(np.float32), "F")
                                    .resize((size, size), Image.BICUBIC)) for c in range(3)], -1)
        img += fimg
        # linear gradient
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
        t = rng.uniform(0, 2 * math.pi)
        img += (rng.uniform(-0.15, 0.15, 3) * ((np.cos(t) * xx + np.sin(t) * yy) - 0.5)[..., None]).astype(np.float32)
        # faint stripes (texture) on some images
        if rng.random() < 0.4:
            k = rng.uniform(3, 12)  # cycles per image
            t2 = rng.uniform(0, math.pi)
            ph = rng.uniform(0, 2 * math.pi)
            stripes = np.sin(2 * math.pi * k * (np.cos(t2) * xx + np.sin(t2) * yy) + ph)
            img += (rng.uniform(0.02, 0.08) * stripes)[..., None].astype(np.float32)
        sigma = rng.uniform(0.0, 0.09)
    else:
        sigma = rng.uniform(0.0, 0.03)
    # pixel noise
    img += rng.normal(0, sigma, (size, size, 3)).astype(np.float32)
    return img, base


def render(rng: np.random.Generator, size: int = 64, cls: int | None = None, where: tuple | None = None,
           r_frac: tuple = (0.11, 0.22), blur: bool = True) -> tuple[np.ndarray, int, list[int]]:
    """One image. Returns (uint8 [size,size,3], class index, box [x0,y0,x1,y1] in pixels, x1/y1 exclusive)."""
    if cls is None:
        cls = int(rng.integers(len(CLASSES)))
    img, base = background(rng, size)
    r = rng.uniform(*r_frac) * size
    margin = r * 1.15 + 1
    if where is None:
        cx, cy = rng.uniform(margin, size - margin, 2)
    else:
        cx, cy = where[0] * size, where[1] * size
    angle = rng.uniform(0, 2 * math.pi)
    mask = shape_mask(CLASSES[cls], size, cx, cy, r, angle)
    # object colour: clearly different from the background base colour
    for _ in range(100):
        col = rng.uniform(0, 1, 3)
        if abs(_lum(col) - _lum(base)) > 0.28 and np.abs(col - base).max() > 0.35:
            break
    obj = col[None, None, :] + rng.normal(0, rng.uniform(0, 0.04), (size, size, 3))
    img = img * (1 - mask[..., None]) + obj * mask[..., None]
    out = np.clip(img, 0, 1)
    if blur and rng.random() < 0.3:
        pil = Image.fromarray((out * 255 + 0.5).astype(np.uint8))
        pil = pil.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.9) * size / 64))
        u8 = np.asarray(pil)
    else:
        u8 = (out * 255 + 0.5).astype(np.uint8)
    ys, xs = np.nonzero(mask > 0.5)
    box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
    return u8, cls, box


def dataset(seed: int, n: int, size: int = 64):
    """n images (uint8 [n,size,size,3]), labels [n], boxes [n,4]; classes balanced in order then shuffled."""
    rng = np.random.default_rng(seed)
    classes = np.arange(n) % len(CLASSES)
    rng.shuffle(classes)
    X = np.empty((n, size, size, 3), np.uint8)
    B = np.empty((n, 4), np.int32)
    for i in range(n):
        X[i], _, B[i] = render(rng, size, int(classes[i]))
    return X, classes.astype(np.int64), B
