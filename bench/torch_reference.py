#!/usr/bin/python3
"""PyTorch reference timings for `npm run bench`: the same models and methods as Saliency Lens, on this machine.

Usage (Debian's python3 with python3-torch / python3-torchvision):
    /usr/bin/python3 bench/torch_reference.py --arch keras|resnet18|mobilenet_v2 [--model PATH]
        --method predict|vanilla|guided|smoothgrad|integrated-gradients|gradcam|activation-maximization|deep-dream
        [--runs N] [--warmup W] [--threads 2] [--batch 16] [--samples 25] [--steps 50] [--cold]
        [--layer NAME] [--fv-steps N] [--fourier fft|matmul]
    /usr/bin/python3 bench/torch_reference.py --probe      # prints {"torch": version} (is torch usable?)

Prints one JSON object: {arch, impl, method, threads, runs, importMs, loadMs, medianMs, minMs, maxMs,
peakRssMb, layer?, checkMaxAbsDiff?, steps?, perStepMs?}. The input is seeded uniform noise in [0, 1) of the model's size
(the image content does not change the work), the target is class 0, the model is in eval mode and no
parameter requires a gradient (so autograd never computes weight gradients, like Saliency Lens).

Models
- keras: a TF.js Layers model.json (darknet-tiny, the demo model). scripts/fixtures/keras_json.py (another
  helper's float64 interpreter, used here in float32) reads the topology and the weights; this file then
  rebuilds the network from native torch modules (nn.Conv2d, nn.BatchNorm2d, nn.LeakyReLU, ...), which is
  what a PyTorch user would run, and checks it against the interpreter once. Layers it does not know make
  it fall back to the interpreter itself (impl = "keras_json interpreter").
- resnet18 / mobilenet_v2: torchvision 0.14 constructors with random weights (what
  scripts/fixtures/make_onnx_fixtures.py exports to ONNX; weights do not change the timing).

Methods (targets and sizes as Saliency Lens's defaults)
- predict: one forward pass under inference_mode.
- vanilla: d logit[target] / d input, batch 1.   guided: the same through guided ReLUs
  (make_onnx_fixtures.guided_copy for module networks; the interpreter's guided mode otherwise).
- smoothgrad: 25 noisy copies, sigma = 0.15 * (max - min) of the input, in batches of --batch (16).
- integrated-gradients: 50 points, trapezoid rule from the zero baseline, batched, plus the two forward
  passes f(x), f(baseline) of the completeness check that Saliency Lens reports with every result.
- gradcam: at the last layer with a spatial output (darknet-tiny: the last conv; resnet18: layer4;
  mobilenet_v2: features), gradient of the target logit w.r.t. that layer's activation, channel weights =
  spatial mean, ReLU(sum_k w_k A_k).
- activation-maximization / deep-dream: bench/torch_featurevis.py, at --layer (a Keras layer name, or a
  torchvision module path: layer2, features.9), with the engine's default steps (or --fv-steps). Warm-up runs
  take 2 steps (as `saliency-lens bench`); perStepMs is the time from the end of the first step to the end
  of the last, per step.
Every method first runs one forward pass (as Saliency Lens's load probe / predict does), then --warmup
untimed runs, then --runs timed ones. --cold skips the interpreter check (for process-start timings).
"""
import time

T_START = time.perf_counter()
import argparse  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

IMPORT_MS = (time.perf_counter() - T_START) * 1000
ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts" / "fixtures"))

FEATURE_VIS = ("activation-maximization", "deep-dream")
METHODS = ("predict", "vanilla", "guided", "smoothgrad", "integrated-gradients", "gradcam", *FEATURE_VIS)
GRADCAM_MODULE = {"resnet18": "layer4", "mobilenet_v2": "features"}


# ------------------------------------------------------------------------------------------------------
# Keras model.json -> native torch modules (weights and topology read by keras_json.KerasTorch)
# ------------------------------------------------------------------------------------------------------

def _pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


class TfPad(nn.Module):
    """TF 'same' padding (extra pixel at the bottom/right), applied only where it is not zero."""

    def __init__(self, kernel, strides, dilation, value=0.0):
        super().__init__()
        self.kernel, self.strides, self.dilation, self.value = kernel, strides, dilation, value

    def forward(self, x):
        from common import same_pads
        t, b = same_pads(x.shape[2], self.kernel[0], self.strides[0], self.dilation[0])
        l, r = same_pads(x.shape[3], self.kernel[1], self.strides[1], self.dilation[1])
        return F.pad(x, (l, r, t, b), value=self.value) if (t or b or l or r) else x


def _conv_module(kt, name, c):
    kernel = kt.w[f"{name}/kernel"]
    bias = kt.w.get(f"{name}/bias")
    kh, kw, cin, cout = kernel.shape
    strides, dil = _pair(c["strides"]), _pair(c.get("dilation_rate", 1))
    same = c["padding"] == "same"
    symmetric = same and strides == (1, 1) and kh % 2 == 1 and kw % 2 == 1
    pad = ((kh // 2) * dil[0], (kw // 2) * dil[1]) if symmetric else 0
    conv = nn.Conv2d(cin, cout, (kh, kw), stride=strides, padding=pad, dilation=dil, bias=bias is not None)
    conv.weight.data = kernel.permute(3, 2, 0, 1).contiguous()
    if bias is not None:
        conv.bias.data = bias.clone()
    return nn.Sequential(TfPad((kh, kw), strides, dil), conv) if same and not symmetric else conv


def _activation_module(act):
    if act in (None, "linear"):
        return None
    if act == "relu":
        return nn.ReLU()
    raise NotImplementedError(f"fused activation {act}")


class KerasNative(nn.Module):
    """A Keras Sequential/functional CNN classifier as native torch modules; returns pre-softmax logits."""

    def __init__(self, kt):
        super().__init__()
        self.mods = nn.ModuleDict()
        self.plan = []  # (kind, key, input keys)
        self.keys = {kt.input_name: "__input__"}
        for cls, name, c, ins in kt.layers:
            if cls == "InputLayer":
                continue
            key = f"l{len(self.plan)}"
            self.keys[name] = key
            inputs = [self.keys[i] for i in ins]
            act = c.get("activation", "linear")
            if name == kt.output_name and act == "softmax":
                act = "linear"
            kind, mod = "module", None
            if cls == "Conv2D":
                mod = _conv_module(kt, name, c)
            elif cls == "BatchNormalization":
                mean, var = kt.w[f"{name}/moving_mean"], kt.w[f"{name}/moving_variance"]
                mod = nn.BatchNorm2d(mean.shape[0], eps=c["epsilon"], affine=True)
                mod.running_mean.data, mod.running_var.data = mean.clone(), var.clone()
                mod.weight.data = kt.w[f"{name}/gamma"].clone() if c.get("scale", True) else torch.ones_like(mean)
                mod.bias.data = kt.w[f"{name}/beta"].clone() if c.get("center", True) else torch.zeros_like(mean)
            elif cls == "ReLU" and c.get("max_value") is None and not c.get("negative_slope"):
                mod = nn.ReLU()
            elif cls == "LeakyReLU":
                mod = nn.LeakyReLU(c.get("alpha", 0.3))
            elif cls == "Activation":
                mod = _activation_module(act)
                act = "linear"
                kind = "module" if mod is not None else "identity"
            elif cls == "MaxPooling2D":
                pool = _pair(c["pool_size"])
                strides = _pair(c["strides"] or c["pool_size"])
                mp = nn.MaxPool2d(pool, strides)
                mod = nn.Sequential(TfPad(pool, strides, (1, 1), -float("inf")), mp) if c["padding"] == "same" else mp
            elif cls == "GlobalAveragePooling2D":
                kind = "gap"
            elif cls == "Dense":
                kernel, bias = kt.w[f"{name}/kernel"], kt.w.get(f"{name}/bias")
                mod = nn.Linear(kernel.shape[0], kernel.shape[1], bias=bias is not None)
                mod.weight.data = kernel.t().contiguous()
                if bias is not None:
                    mod.bias.data = bias.clone()
            elif cls == "Add":
                kind = "add"
            elif cls == "Dropout":
                kind = "identity"
            else:
                raise NotImplementedError(f"layer {cls}")
            if mod is not None:
                self.mods[key] = mod
            self.plan.append((kind, key, inputs, name))
            post = _activation_module(act) if cls not in ("Activation",) else None
            if post is not None:
                self.mods[key + "_act"] = post
                self.plan.append(("module", key + "_act", [key], name))
                self.keys[name] = key + "_act"
        self.out_key = self.keys[kt.output_name]

    def forward(self, x, taps=None):
        values = {"__input__": x}
        for kind, key, inputs, name in self.plan:
            a = [values[i] for i in inputs]
            if kind == "module":
                y = self.mods[key](a[0])
            elif kind == "gap":
                y = a[0].mean(dim=(2, 3))
            elif kind == "add":
                y = a[0]
                for o in a[1:]:
                    y = y + o
            else:
                y = a[0]
            values[key] = y
            if taps is not None:
                taps[name] = y
        return values[self.out_key]


class KerasInterp(nn.Module):
    """Fallback: keras_json.KerasTorch itself (TF padding by F.pad, unfused batch norm)."""

    def __init__(self, kt, mode="vanilla"):
        super().__init__()
        self.kt, self.mode = kt, mode

    def forward(self, x, taps=None):
        return self.kt.forward(x, mode=self.mode, taps=taps)


# ------------------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------------------

class Net:
    """A model ready for the methods: forward, guided forward, forward returning the Grad-CAM activation."""

    def __init__(self, arch, model_path, method, check):
        self.arch, self.check_diff, self.layer = arch, None, None
        if arch == "keras":
            from keras_json import load_keras_torch
            path = pathlib.Path(model_path)
            kt, mj = load_keras_torch(path.parent if path.suffix == ".json" else path, torch.float32)
            self.input_hwc = _keras_input(mj)
            try:
                self.model, self.impl = KerasNative(kt).eval(), "torch modules (from keras_json)"
                if check:
                    x = torch.rand(1, self.input_hwc[2], self.input_hwc[0], self.input_hwc[1])
                    with torch.inference_mode():
                        self.check_diff = float((self.model(x) - kt.forward(x)).abs().max())
            except NotImplementedError:
                self.model, self.impl = KerasInterp(kt), "keras_json interpreter"
            self.guided = (lambda: KerasInterp(kt, "guided")) if isinstance(self.model, KerasInterp) else None
        else:
            import torchvision
            self.model = getattr(torchvision.models, arch)(weights=None).eval()
            self.impl, self.input_hwc, self.guided = f"torchvision {torchvision.__version__}", (224, 224, 3), None
        for p in self.model.parameters():
            p.requires_grad_(False)
        if method == "guided":
            if self.guided is None:
                from make_onnx_fixtures import guided_copy
                self.guided_model = guided_copy(self.model).eval()
            else:
                self.guided_model = self.guided()
        if method == "gradcam":
            self._prepare_cam()

    def _prepare_cam(self):
        if self.arch in GRADCAM_MODULE:
            self.layer = GRADCAM_MODULE[self.arch]
            store = {}
            getattr(self.model, self.layer).register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
            self.cam_forward = lambda x: (self.model(x), store.pop("a"))
            return
        taps = {}
        h, w, c = self.input_hwc
        with torch.inference_mode():
            self.model(torch.zeros(1, c, h, w), taps=taps)
        spatial = [n for n, t in taps.items() if t.dim() == 4 and t.shape[2] > 1 and t.shape[3] > 1]
        self.layer = spatial[-1]

        def cam_forward(x):
            t = {}
            out = self.model(x, taps=t)
            return out, t[self.layer]
        self.cam_forward = cam_forward


def _keras_input(mj):
    topo = mj["modelTopology"]
    topo = topo.get("model_config", topo)
    cfg = topo["config"]
    layers = cfg["layers"] if isinstance(cfg, dict) else cfg
    for l in layers:
        c = l["config"]
        shape = c.get("batch_input_shape") or c.get("batch_shape")
        if shape:
            return tuple(shape[1:4])
    raise ValueError("no input shape in model.json")


# ------------------------------------------------------------------------------------------------------
# Methods
# ------------------------------------------------------------------------------------------------------

def _grad(model, x, target):
    x = x.detach().requires_grad_(True)
    out = model(x)
    (g,) = torch.autograd.grad(out[:, target].sum(), x)
    return g


def _batches(n, batch):
    for start in range(0, n, batch):
        yield start, min(batch, n - start)


def make_method(net, method, args, target=0):
    """A zero-argument function running one attribution on the fixed input."""
    h, w, c = net.input_hwc
    x = torch.rand(1, c, h, w, generator=torch.Generator().manual_seed(1))
    model = net.model
    if method == "predict":
        def run():
            with torch.inference_mode():
                return model(x)
    elif method == "vanilla":
        def run():
            return _grad(model, x, target)
    elif method == "guided":
        def run():
            return _grad(net.guided_model, x, target)
    elif method == "smoothgrad":
        gen = torch.Generator().manual_seed(0)

        def run():
            sigma = 0.15 * float(x.max() - x.min())
            total = torch.zeros_like(x)
            for _, k in _batches(args.samples, args.batch):
                noisy = x + sigma * torch.randn((k, c, h, w), generator=gen)
                total += _grad(model, noisy, target).sum(0, keepdim=True)
            return total / args.samples
    elif method == "integrated-gradients":
        def run():
            n = args.steps
            base = torch.zeros_like(x)
            alphas = torch.linspace(0.0, 1.0, n)
            weights = torch.full((n,), 1.0 / (n - 1))
            weights[0] = weights[-1] = 0.5 / (n - 1)
            total = torch.zeros_like(x)
            for start, k in _batches(n, args.batch):
                a = alphas[start:start + k].view(k, 1, 1, 1)
                g = _grad(model, base + a * (x - base), target)
                total += (g * weights[start:start + k].view(k, 1, 1, 1)).sum(0, keepdim=True)
            attribution = (x - base) * total
            with torch.inference_mode():
                delta = float(model(x)[0, target] - model(base)[0, target])
            return attribution, float(attribution.sum()) - delta
    elif method == "gradcam":
        def run():
            xr = x.detach().requires_grad_(True)
            out, a = net.cam_forward(xr)
            (g,) = torch.autograd.grad(out[0, target], a)
            return F.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(1))
    elif method in FEATURE_VIS:
        from torch_featurevis import WARMUP_STEPS, make_featurevis
        run, net.fv = make_featurevis(net, method, args.layer, args.fv_steps, args.fourier)
        net.layer = args.layer
        run.warm = lambda: run(WARMUP_STEPS)
    else:
        raise SystemExit(f"torch_reference: unknown method {method}")
    return x, run


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--probe", action="store_true")
    p.add_argument("--arch", choices=["keras", *GRADCAM_MODULE])
    p.add_argument("--model", default="")
    p.add_argument("--method", choices=METHODS, default="vanilla")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--samples", type=int, default=25)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--cold", action="store_true")
    p.add_argument("--layer", default="")
    p.add_argument("--fv-steps", type=int, default=None)
    p.add_argument("--fourier", choices=["fft", "matmul"], default="fft")
    args = p.parse_args()
    if args.probe:
        print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}))
        return 0
    if not args.arch:
        p.error("--arch is required")
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    net = Net(args.arch, args.model, args.method, check=not args.cold)
    load_ms = (time.perf_counter() - t0) * 1000
    x, run = make_method(net, args.method, args)
    with torch.inference_mode():
        net.model(x)  # the load probe / prediction Saliency Lens runs before any method
    for _ in range(args.warmup):
        getattr(run, "warm", run)()
    times, outs = [], []
    for _ in range(args.runs):
        t = time.perf_counter()
        outs.append(run())
        times.append((time.perf_counter() - t) * 1000)
    result = {
        "arch": args.arch, "impl": net.impl, "method": args.method, "backend": f"pytorch {torch.__version__}",
        "threads": torch.get_num_threads(), "runs": args.runs, "warmup": args.warmup, "batch": args.batch,
        "importMs": IMPORT_MS, "loadMs": load_ms, "medianMs": statistics.median(times), "minMs": min(times),
        "maxMs": max(times), "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "inputShape": list(net.input_hwc),
    }
    if net.layer:
        result["layer"] = net.layer
    if getattr(net, "fv", None):
        result.update({k: v for k, v in net.fv.items() if k != "stepsPerRun"}, perStepMs=statistics.median(outs))
    if net.check_diff is not None:
        result["checkMaxAbsDiff"] = net.check_diff
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
