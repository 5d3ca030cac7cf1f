"""Trains the embedded demo classifier of Saliency Lens and writes it, its demo image and its sanity set.

What: a small CNN (conv-BN-ReLU blocks, a residual block, max pooling, global average pooling, dense; ~53k
parameters) trained from scratch on generated 64x64 RGB images that hold exactly one shape - circle, square,
triangle, cross, star or ring - at a random place on a textured background (scripts/demo/shapes.py). No
external data. Training takes about 3-4 minutes of CPU (1 thread).

Outputs (all committed; the product never runs Python):
  media/demo/model/model.json + group1-shard1of1.bin   TF.js Layers model (Keras 2 functional JSON, float32)
  media/demo/model/labels.txt                           the 6 class names, one per line, in output order
  media/demo/model/saliency-lens.json                   {"preprocess": "unit", "resize": "squash"}
  media/demo/demo.png                                   256x256 generated test image (a star), squash-resized
                                                        to 64x64 by the engine
  media/demo/TRAINING.md                                how it was made, held-out accuracy, seeds
  test/fixtures/demo-sanity/*.png + boxes.json          40 held-out 64x64 images with object boxes
  test/fixtures/demo-sanity/reference/                  torch references (input/logits/vanilla/guided) for
                                                        demo.png squashed to 64x64 with PIL bilinear

Run (dev machines; needs torch, numpy, PIL = Debian's python):
    /usr/bin/python3 scripts/demo/train_demo.py
Deterministic: numpy seeds 1 (train), 2 (held-out test), 3 (sanity set), torch seed 0, 1 thread.
"""
from __future__ import annotations

import json
import math
import pathlib
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "scripts" / "fixtures"))

from shapes import CLASSES, dataset, render  # noqa: E402
from common import check_manifest, compute_references, same_pads, write_reference  # noqa: E402
from keras_json import KerasBuilder, KerasTorch, load_keras_torch  # noqa: E402

SIZE = 64
N_TRAIN, N_TEST, N_SANITY = 18000, 3000, 40
EPOCHS, BATCH, LR = 6, 128, 5e-3
EPS = 1e-3  # BatchNorm epsilon (Keras default)

MEDIA = ROOT / "media" / "demo"
SANITY = ROOT / "test" / "fixtures" / "demo-sanity"


# ------------------------------------------------------------------------------------------------------
# Model
# ------------------------------------------------------------------------------------------------------

class ConvBN(nn.Module):
    def __init__(self, cin, cout, stride=1, relu=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=EPS, momentum=0.05)
        self.stride, self.relu = stride, relu

    def forward(self, x):
        # TF 'same' padding (asymmetric when stride 2 on an even size)
        t, b = same_pads(x.shape[2], 3, self.stride)
        l, r = same_pads(x.shape[3], 3, self.stride)
        x = self.bn(self.conv(F.pad(x, (l, r, t, b))))
        return F.relu(x) if self.relu else x


class DemoNet(nn.Module):
    def __init__(self, n=len(CLASSES)):
        super().__init__()
        self.stem = ConvBN(3, 16, stride=2)        # 64 -> 32
        self.block1 = ConvBN(16, 24)               # 32, then pool -> 16
        self.res1 = ConvBN(24, 24)
        self.res2 = ConvBN(24, 24, relu=False)     # + skip, ReLU; pool -> 8
        self.block2 = ConvBN(24, 48)
        self.block3 = ConvBN(48, 64)
        self.fc = nn.Linear(64, n)

    def forward(self, x):
        x = F.max_pool2d(self.block1(self.stem(x)), 2)
        x = F.max_pool2d(F.relu(x + self.res2(self.res1(x))), 2)
        x = self.block3(self.block2(x))
        return self.fc(x.mean(dim=(2, 3)))


def export_keras(net: DemoNet, out_dir: pathlib.Path) -> dict:
    b = KerasBuilder("saliency_lens_demo", style="keras2.x")

    def np_(t):
        return t.detach().cpu().numpy().astype(np.float32)

    def convbn(x, m: ConvBN, name, relu=True):
        k = np_(m.conv.weight).transpose(2, 3, 1, 0)  # [out,in,kh,kw] -> [kh,kw,in,out]
        h = b.conv2d(x, k, None, strides=(m.stride, m.stride), padding="same", name=f"{name}_conv")
        h = b.batchnorm(h, np_(m.bn.weight), np_(m.bn.bias), np_(m.bn.running_mean), np_(m.bn.running_var),
                        eps=EPS, name=f"{name}_bn")
        return b.relu(h, name=f"{name}_relu") if relu else h

    x = b.input((SIZE, SIZE, 3), name="image")
    h = convbn(x, net.stem, "stem")
    h = convbn(h, net.block1, "block1")
    skip = b.maxpool(h, (2, 2), padding="valid", name="pool1")
    h = convbn(skip, net.res1, "res_a")
    h = convbn(h, net.res2, "res_b", relu=False)
    h = b.add([skip, h], name="res_add")
    h = b.relu(h, name="res_relu")
    h = b.maxpool(h, (2, 2), padding="valid", name="pool2")
    h = convbn(h, net.block2, "block2")
    h = convbn(h, net.block3, "block3")
    h = b.gap(h, name="global_pool")
    out = b.dense(h, np_(net.fc.weight).T, np_(net.fc.bias), name="logits")
    return b.save(out_dir, out)


# ------------------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------------------

def to_tensor(u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(u8).permute(0, 3, 1, 2).float().div_(255.0)


def evaluate(net, X, y, bs=500):
    net.eval()
    preds, probs = [], []
    with torch.no_grad():
        for i in range(0, len(X), bs):
            lg = net(to_tensor(X[i:i + bs]))
            p = lg.softmax(1)
            preds.append(p.argmax(1).numpy())
            probs.append(p.numpy())
    preds = np.concatenate(preds)
    return float((preds == y).mean()), preds, np.concatenate(probs)


def train(Xtr, ytr, Xte, yte):
    torch.manual_seed(0)
    net = DemoNet()
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=1e-4)
    steps = EPOCHS * math.ceil(len(Xtr) / BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps, pct_start=0.2)
    g = np.random.default_rng(0)
    log = []
    for ep in range(EPOCHS):
        net.train()
        order = g.permutation(len(Xtr))
        t0, tl, n = time.process_time(), 0.0, 0
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            x = to_tensor(Xtr[idx])
            # the classes are invariant to flips and 90-degree turns: free augmentation
            if g.random() < 0.5:
                x = x.flip(3)
            x = torch.rot90(x, int(g.integers(4)), dims=(2, 3))
            loss = F.cross_entropy(net(x), torch.from_numpy(ytr[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tl += float(loss) * len(idx)
            n += len(idx)
        acc, _, _ = evaluate(net, Xte, yte)
        log.append({"epoch": ep + 1, "loss": tl / n, "heldOutAccuracy": acc, "cpuSeconds": time.process_time() - t0})
        print(f"epoch {ep + 1}: loss {tl / n:.4f}  held-out acc {acc:.4f}  ({time.process_time() - t0:.0f} s CPU)",
              flush=True)
    return net, log


# ------------------------------------------------------------------------------------------------------
# Demo image + sanity set
# ------------------------------------------------------------------------------------------------------

RESAMPLERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS,
              "box": Image.BOX, "nearest": Image.NEAREST}


def squash(img: Image.Image, method=Image.BILINEAR) -> np.ndarray:
    return np.asarray(img.convert("RGB").resize((SIZE, SIZE), method), dtype=np.uint8)


def make_demo_image(net):
    """Searches seeds for a 256x256 star-in-a-corner image on a textured background that every common resizer
    keeps recognisable (star probability > 0.98 after bilinear, bicubic, lanczos, box and nearest squashing)."""
    star = CLASSES.index("star")
    net.eval()
    for seed in range(100, 400):
        rng = np.random.default_rng(seed)
        u8, cls, box = render(rng, 256, cls=star, where=(0.72, 0.28), r_frac=(0.15, 0.17), blur=False)
        # want a textured background (the point of the demo: the map ignores it) - not one of the plain ones
        outside = np.ones(u8.shape[:2], bool)
        outside[box[1]:box[3], box[0]:box[2]] = False
        bg = u8[outside].astype(np.float32) / 255.0
        coarse = np.asarray(Image.fromarray(u8).resize((16, 16), Image.BOX), np.float32) / 255.0
        if coarse.std(axis=(0, 1)).mean() < 0.06 or bg.std(axis=0).mean() < 0.08:
            continue
        img = Image.fromarray(u8)
        X = np.stack([squash(img, m) for m in RESAMPLERS.values()])
        with torch.no_grad():
            p = net(to_tensor(X)).softmax(1).numpy()
        if (p.argmax(1) == star).all() and p[:, star].min() > 0.98:
            return img, seed, box, {k: float(p[i, star]) for i, k in enumerate(RESAMPLERS)}
    raise RuntimeError("no demo image found")


def main():
    torch.set_num_threads(1)  # one thread: faster per CPU-second on a shared machine
    t_all = time.time()
    t0 = time.process_time()
    Xtr, ytr, _ = dataset(1, N_TRAIN, SIZE)
    Xte, yte, _ = dataset(2, N_TEST, SIZE)
    Xsa, ysa, Bsa = dataset(3, N_SANITY, SIZE)
    t_gen = time.process_time() - t0
    print(f"generated {N_TRAIN}+{N_TEST}+{N_SANITY} images in {t_gen:.0f} s CPU", flush=True)

    net, log = train(Xtr, ytr, Xte, yte)
    t_train = sum(e["cpuSeconds"] for e in log)
    acc, preds, _ = evaluate(net, Xte, yte)
    conf = np.zeros((len(CLASSES), len(CLASSES)), int)
    for a, p in zip(yte, preds):
        conf[a, p] += 1
    n_params = sum(p.numel() for p in net.parameters())
    print(f"held-out accuracy {acc:.4f} on {N_TEST} images; {n_params} parameters")
    assert acc >= 0.95, acc

    # -- export + check against the torch module ------------------------------------------------------
    model_dir = MEDIA / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    for f in model_dir.glob("*"):
        f.unlink()
    export_keras(net, model_dir)
    check_manifest(model_dir)
    (model_dir / "labels.txt").write_text("\n".join(CLASSES) + "\n", encoding="utf-8")
    (model_dir / "saliency-lens.json").write_text(json.dumps({"preprocess": "unit", "resize": "squash"}, indent=2)
                                                  + "\n", encoding="utf-8")
    kt, _ = load_keras_torch(model_dir, dtype=torch.float32)
    net.eval()
    with torch.no_grad():
        xs = to_tensor(Xte[:200])
        d = (kt.forward(xs) - net(xs)).abs().max().item()
    print(f"exported model vs torch module: max |logit diff| {d:.2e}")
    assert d < 1e-3, d

    # -- demo image ----------------------------------------------------------------------------------
    img, demo_seed, demo_box, demo_probs = make_demo_image(net)
    img.save(MEDIA / "demo.png", optimize=True)
    print(f"demo.png: seed {demo_seed}, star probability per resizer {demo_probs}")

    # -- sanity set ----------------------------------------------------------------------------------
    SANITY.mkdir(parents=True, exist_ok=True)
    for f in SANITY.glob("*.png"):
        f.unlink()
    sacc, spred, sprob = evaluate(net, Xsa, ysa)
    entries = []
    for i in range(N_SANITY):
        fn = f"{i:02d}_{CLASSES[ysa[i]]}.png"
        Image.fromarray(Xsa[i]).save(SANITY / fn, optimize=True)
        entries.append({"file": fn, "label": CLASSES[ysa[i]], "index": int(ysa[i]),
                        "box": [int(v) for v in Bsa[i]],
                        "predicted": int(spred[i]), "probability": round(float(sprob[i, spred[i]]), 4)})
    (SANITY / "boxes.json").write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
    (SANITY / "README.md").write_text(SANITY_README.format(n=N_SANITY, acc=sacc, size=SIZE), encoding="utf-8")

    # -- torch references for demo.png (squashed with PIL bilinear) ----------------------------------------
    x = squash(img).astype(np.float32) / 255.0
    kt64, _ = load_keras_torch(model_dir)
    logits, target, van, gui = compute_references(kt64.forward, x)
    write_reference(SANITY / "reference", x, logits, target, van, gui, CLASSES,
                    notes=("media/demo/demo.png (256x256) squashed to 64x64 with PIL Image.resize(BILINEAR), RGB/255 "
                           "('unit'), run through media/demo/model by the torch interpreter in float64."),
                    extra={"model": "media/demo/model", "image": "media/demo/demo.png", "preprocess": "unit",
                           "resize": "squash (PIL bilinear)",
                           "objectBox256": demo_box})

    # -- TRAINING.md ---------------------------------------------------------------------------------
    rows = "\n".join(f"| {e['epoch']} | {e['loss']:.4f} | {e['heldOutAccuracy'] * 100:.2f}% | {e['cpuSeconds']:.0f} |"
                     for e in log)
    conf_md = "| true \\ predicted | " + " | ".join(CLASSES) + " |\n|" + "---|" * (len(CLASSES) + 1) + "\n"
    conf_md += "\n".join(f"| {CLASSES[i]} | " + " | ".join(str(v) for v in conf[i]) + " |" for i in range(len(CLASSES)))
    (MEDIA / "TRAINING.md").write_text(TRAINING_MD.format(
        acc=acc * 100, n_test=N_TEST, n_train=N_TRAIN, n_params=n_params, epochs=EPOCHS, batch=BATCH, lr=LR,
        t_gen=t_gen, t_train=t_train, rows=rows, conf=conf_md, demo_seed=demo_seed,
        demo_probs=", ".join(f"{k} {v:.4f}" for k, v in demo_probs.items()), sacc=sacc * 100, n_sanity=N_SANITY,
        size=SIZE, export_diff=d), encoding="utf-8")
    print(f"done in {time.time() - t_all:.0f} s wall")


SANITY_README = """# demo-sanity

{n} held-out images ({size}x{size} RGB PNG) generated by `scripts/demo/train_demo.py` (numpy seed 3, never seen in
training) for the "saliency map peaks on the object" test of the demo model in `media/demo/model`.

`boxes.json`: one entry per image:
- `file`, `label` (class name), `index` (class index = line in `media/demo/model/labels.txt`, 0-based)
- `box`: `[x0, y0, x1, y1]` in image pixels, x1/y1 exclusive: the bounding box of the object's pixels
  (coverage > 50%); the object is the only thing in the image that decides the class
- `predicted`, `probability`: the demo model's top-1 and its softmax probability (torch, float32).
The model gets {acc:.1%} of these right.

`reference/`: torch references for `media/demo/demo.png` squashed to 64x64 with PIL bilinear (`input.npy`,
`logits.npy`, `vanilla.npy`, `guided.npy`, `reference.json`), same conventions as the other reference fixtures.
"""

TRAINING_MD = """# The demo classifier

`media/demo/model` is a small image classifier that Saliency Lens ships so that the CLI and the extension work
with no model given. It was trained from scratch by `scripts/demo/train_demo.py` on images generated by
`scripts/demo/shapes.py`; no external data, nothing from outside this repository.

- **Task**: 64x64 RGB images holding exactly one shape - circle, square, triangle, cross, star or ring
  (`labels.txt`, in output order) - in a random colour, size (radius 11-22% of the image), rotation and place, on
  a background of a random colour with a smooth colour field, a gradient, faint stripes and pixel noise (1 in 8
  plain). Some images are slightly blurred. The class depends on the object only.
- **Model**: {n_params} parameters, Keras 2 functional TF.js Layers model, float32:
  stem Conv 3x3/2 (16) - BN - ReLU, Conv 3x3 (24) - BN - ReLU, MaxPool 2, residual block (Conv-BN-ReLU-Conv-BN
  + skip, ReLU), MaxPool 2, Conv 3x3 (48) - BN - ReLU, Conv 3x3 (64) - BN - ReLU (`block3_relu`, 8x8, the last
  spatial layer), global average pooling, Dense 6 (`logits`, no softmax). All convolutions use TF 'same' padding
  (the stride-2 stem pads 0 top/left and 1 bottom/right), batch norm epsilon 1e-3.
- **Input**: `[1, 64, 64, 3]`, RGB scaled to [0, 1] (`saliency-lens.json`: `preprocess: unit`, `resize: squash`).
- **Training**: {n_train} generated images (numpy seed 1), {epochs} epochs, batch {batch}, AdamW (weight decay 1e-4),
  one-cycle learning rate up to {lr}, random flips and 90-degree turns; torch seed 0, 1 CPU thread. Image
  generation took {t_gen:.0f} s and training {t_train:.0f} s of CPU.
- **Held-out accuracy: {acc:.2f}%** on {n_test} freshly generated images (numpy seed 2).
  The sanity set (`test/fixtures/demo-sanity`, {n_sanity} images, seed 3): {sacc:.1f}%.
- The exported model.json reproduces the torch module's logits within {export_diff:.1e}.

| epoch | training loss | held-out accuracy | CPU s |
|---|---|---|---|
{rows}

Confusion matrix on the held-out set:

{conf}

## demo.png

A 256x256 image made by the same generator at 4x the size (numpy seed {demo_seed}): a star in the upper right part
of a textured background.
Squashed to 64x64 it is classified as "star" with probability (by resizer) {demo_probs}.

## Re-making it

    /usr/bin/python3 scripts/demo/train_demo.py     # needs torch, numpy, PIL (Debian's python on dev machines)

It rewrites `media/demo/model/*`, `media/demo/demo.png`, this file and `test/fixtures/demo-sanity/`.
"""

if __name__ == "__main__":
    main()
