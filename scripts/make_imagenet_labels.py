"""Writes src/engine/data/imagenet-classes.json: the ImageNet-1k class names in torchvision's index order.

Run once with a Python that has torchvision (on the dev machines: Debian's /usr/bin/python3):
    /usr/bin/python3 scripts/make_imagenet_labels.py
The output is committed, so the product never needs Python or torchvision.
"""
import json
import pathlib

from torchvision.models._meta import _IMAGENET_CATEGORIES

names = list(_IMAGENET_CATEGORIES)
assert len(names) == 1000, len(names)
out = pathlib.Path(__file__).resolve().parent.parent / "src" / "engine" / "data" / "imagenet-classes.json"
# One name per line keeps diffs readable should the list ever change.
out.write_text("[\n" + ",\n".join(json.dumps(n) for n in names) + "\n]\n", encoding="utf-8")
print(f"wrote {len(names)} names to {out}")
