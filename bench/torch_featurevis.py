"""Feature visualisation in PyTorch for bench/torch_reference.py, written from src/engine/featureVis's definitions.

activation-maximization (the defaults of `saliency-lens filters`, one filter): filter 0 of the layer, 128 Adam
steps (lr 0.05) on a Fourier parameterisation of one image at the model's size: an orthonormal Fourier spectrum
scaled by 1 / max(f, 1 / max(H, W)), divided by 4, mixed by lucid's colour-decorrelation matrix, through a
sigmoid. By default the spectrum is complex, half-sized, and becomes the image through torch.fft.irfft2
(norm="ortho"), which is how a PyTorch user writes it (lucent does). With fourier="matmul" it is the engine's
own construction, coefficients [1, 3, H, W] of a real cos/sin basis and image = B_H (c * scale) B_W^T, which
renders the engine's images to float rounding (the engine uses matrices because wasm has no FFT). Both span the
same images with the same 1/f weighting; the complex form has 1 % more coefficients. Debian's torch is built with
BLAS_INFO=generic, so its matmuls run at about 1 GFLOP/s and "matmul" adds ~140 ms per step.
Each step: random pad (grey fill) + jitter +-8 px + scale 0.9-1.1 + rotation +-10 degrees (sizes scaled from
224) as one bilinear resampling, the model up to the layer with "redirected" ReLU gradients, objective = mean of
the filter minus 0.75 x the largest other channel mean. Around the loop, as the engine: one forward on zeros
(its layer check), the objective of the start image and of the final 8-bit image.

deep-dream (the defaults of `saliency-lens dream` without --filters): the mean squared activation of the whole
layer, 3 octaves (sizes H / 1.4^2, H / 1.4, H), 20 steps each, RMS-normalised step (lr 0.02) on RGB clipped to
[0, 1], pad + jitter only; the detail added is carried to the next octave by bilinear resizing.

The model input is the RGB image itself: every bench model uses the `unit` preprocessing (x in [0, 1]).
"""
import math
import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

FILTER_STEPS, FILTER_LR, CONTRAST = 128, 0.05, 0.75
DREAM_STEPS, DREAM_LR, OCTAVES, OCTAVE_SCALE = 20, 0.02, 3, 1.4
INIT_SD, DAMPING, RMS_EPS = 0.01, 4.0, 1e-5
WARMUP_STEPS = 2
# Un-normalised square root of ImageNet's colour covariance (rows R, G, B), as lucid and fourier.ts.
COLOR = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.0, -0.05], [0.27, -0.09, 0.03]])
COLOR = COLOR / COLOR.norm(dim=0).max()


def real_fourier_basis(n):
    """[n positions, n basis functions] (constant, cos/sin pairs, alternating) and each function's frequency."""
    pos = torch.arange(n, dtype=torch.float64)
    cols, freqs = [], []

    def put(v, k):
        cols.append(v / v.norm())
        freqs.append(k / n)
    put(torch.ones(n, dtype=torch.float64), 0)
    for k in range(1, (n + 1) // 2):
        put(torch.cos(2 * math.pi * k * pos / n), k)
        put(torch.sin(2 * math.pi * k * pos / n), k)
    if n % 2 == 0:
        put(1 - 2 * (pos % 2), n / 2)
    return torch.stack(cols, 1).float(), torch.tensor(freqs)


class FourierImage:
    """The engine's Fourier parameterisation of n images of h x w ("fft": torch.fft; "matmul": the engine's basis)."""

    def __init__(self, n, h, w, gen, mode="fft"):
        self.mode, self.size = mode, (h, w)
        if mode == "matmul":
            self.by, fy = real_fourier_basis(h)
            bx, fx = real_fourier_basis(w)
            self.bxt = bx.t().contiguous()
            shape = (n, 3, h, w)
        else:
            fy, fx = torch.fft.fftfreq(h).abs(), torch.fft.rfftfreq(w)
            shape = (n, 3, h, w // 2 + 1, 2)
        f = torch.sqrt(fy.view(-1, 1) ** 2 + fx.view(1, -1) ** 2)
        self.scale = (1 / torch.clamp(f, min=1 / max(h, w))).float()
        self.coef = (torch.randn(shape, generator=gen) * INIT_SD).requires_grad_(True)

    def render(self):
        if self.mode == "matmul":
            spatial = self.by @ (self.coef * self.scale) @ self.bxt
        else:
            spatial = torch.fft.irfft2(torch.view_as_complex(self.coef) * self.scale, s=self.size, norm="ortho")
        return torch.sigmoid(torch.einsum("ij,njhw->nihw", COLOR, spatial / DAMPING))


class _Redirected(torch.autograd.Function):
    """clamp(x, lo, hi) whose gradient is redirected where the true one is zero for a whole image channel."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.bounds = (lo, hi)
        return torch.clamp(x, lo, hi)

    @staticmethod
    def backward(ctx, dy):
        (z,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        below, above = z <= lo, z >= hi
        active = ~(below | above)
        zero = torch.zeros_like(dy)
        true = torch.where(active, dy, zero)
        redirected = torch.where(active | (below & (dy > 0)) | (above & (dy < 0)), dy, zero)
        dims = (2, 3) if dy.dim() == 4 else tuple(range(1, dy.dim()))
        passes = true.abs().amax(dim=dims, keepdim=True) > 0
        return torch.where(passes, true, redirected), None, None


class RedirectedReLU(nn.Module):
    def __init__(self, lo, hi):
        super().__init__()
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return _Redirected.apply(x, self.lo, self.hi)


def redirect_relus(model):
    """Replaces ReLU and ReLU6 modules by redirected ones (the engine hooks relu, relu6 and clip nodes)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU6):
                setattr(parent, name, RedirectedReLU(0.0, 6.0))
            elif isinstance(child, nn.ReLU):
                setattr(parent, name, RedirectedReLU(0.0, math.inf))


def _prefix(module, path):
    """The modules of a sequential-by-children network up to the dotted child `path` (resnet: layer2)."""
    head, _, rest = path.partition(".")
    mods = []
    for name, child in module.named_children():
        if name == head:
            mods.append(_prefix(child, rest) if rest else child)
            return nn.Sequential(*mods)
        mods.append(child)
    raise SystemExit(f"torch_featurevis: no module {path!r}")


class KerasUpTo(nn.Module):
    """A KerasNative network run up to (and including) the layer named `layer`."""

    def __init__(self, native, layer):
        super().__init__()
        idx = [i for i, step in enumerate(native.plan) if step[3] == layer]
        if not idx:
            raise SystemExit(f"torch_featurevis: no layer {layer!r} in the model")
        self.native, self.plan, self.out = native, native.plan[: idx[-1] + 1], native.plan[idx[-1]][1]

    def forward(self, x):
        n = self.native
        saved = n.plan, n.out_key
        n.plan, n.out_key = self.plan, self.out
        try:
            return n(x)
        finally:
            n.plan, n.out_key = saved


def truncated(net, layer):
    if net.arch == "keras":
        if not hasattr(net.model, "plan"):
            raise SystemExit("torch_featurevis: needs the native rebuild of the Keras model, not the interpreter")
        body = KerasUpTo(net.model, layer)
    else:
        body = _prefix(net.model, layer)
    redirect_relus(body)
    return body


def random_grid(n, h, w, pad, jitter, scale, rotate, rng):
    """affine_grid of the engine's randomAffines (output offset -> input offset R(theta)/s plus a shift)."""
    thetas = []
    cy, cx = (h - 1) / 2, (w - 1) / 2
    for _ in range(n):
        s = scale[0] + (scale[1] - scale[0]) * rng.random()
        t = (2 * rng.random() - 1) * rotate * math.pi / 180
        ty, tx = (2 * rng.random() - 1) * jitter, (2 * rng.random() - 1) * jitter
        a, b, c, d = math.cos(t) / s, -math.sin(t) / s, math.sin(t) / s, math.cos(t) / s
        thetas.append([[d, c * cy / cx, tx / cx], [b * cx / cy, a, ty / cy]])
    return torch.nn.functional.affine_grid(torch.tensor(thetas), (n, 3, h, w), align_corners=True)


def transform(img, grid, fill=0.5):
    """Bilinear resampling; samples outside the image read `fill` (the engine's grey padding)."""
    return F.grid_sample(img - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=True) + fill


def transforms_for(size, full):
    pad, jitter = max(1, round(size * 12 / 224)), max(1, round(size * 8 / 224))
    return (pad, jitter, (0.9, 1.1), 10.0) if full else (pad, jitter, (1.0, 1.0), 0.0)


def channel_objective(act, index, contrast):
    means = act.mean(dim=(2, 3)) if act.dim() == 4 else act
    mask = torch.zeros_like(means)
    mask[:, index] = 1
    own = (means * mask).sum(1)
    if not contrast:
        return own
    return own - contrast * (means - mask * 1e9).amax(1)


def layer_objective(act):
    return act.pow(2).flatten(1).mean(1)


def as_8bit(img):
    return torch.round(img.clamp(0, 1) * 255) / 255


def activation_maximization(body, hwc, steps, seed=0, fourier="fft"):
    """One filter picture; returns the end time of every step."""
    h, w, _ = hwc
    gen, rng = torch.Generator().manual_seed(seed), random.Random(seed)
    with torch.inference_mode():
        body(torch.zeros(1, 3, h, w))  # the engine's layer check
    param = FourierImage(1, h, w, gen, fourier)
    with torch.no_grad():
        channel_objective(body(as_8bit(param.render())), 0, 0)  # "before"
    opt = torch.optim.Adam([param.coef], lr=FILTER_LR, maximize=True)
    pad, jitter, scale, rotate = transforms_for(min(h, w), full=True)
    stamps = []
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        seen = transform(param.render(), random_grid(1, h, w, pad, jitter, scale, rotate, rng))
        channel_objective(body(seen), 0, CONTRAST).sum().backward()
        opt.step()
        stamps.append(time.perf_counter())
    with torch.no_grad():
        channel_objective(body(as_8bit(param.render())), 0, 0)  # "after", on the saved 8-bit picture
    return stamps


def deep_dream(body, hwc, steps, seed=0, fourier=None):
    """A whole-layer dream on seeded noise; returns the end time of every step."""
    h, w, _ = hwc
    gen, rng = torch.Generator().manual_seed(seed), random.Random(seed)
    original = torch.randint(0, 256, (1, 3, h, w), generator=gen).float() / 255
    with torch.inference_mode():
        body(torch.zeros(1, 3, h, w))
        layer_objective(body(original))  # "before"
    sizes = [(round(h / OCTAVE_SCALE ** o), round(w / OCTAVE_SCALE ** o)) for o in range(OCTAVES - 1, 0, -1)]
    with torch.inference_mode():
        for size in sizes:
            body(torch.zeros(1, 3, *size))  # the engine checks each octave's size
    sizes.append((h, w))
    detail, stamps = None, []
    for oh, ow in sizes:
        base = original if (oh, ow) == (h, w) else F.interpolate(original, (oh, ow), mode="bilinear", align_corners=False)
        x = base.clone() if detail is None else (base + F.interpolate(detail, (oh, ow), mode="bilinear", align_corners=False)).clamp(0, 1)
        pad, jitter, scale, rotate = transforms_for(min(oh, ow), full=False)
        for _ in range(steps):
            x.requires_grad_(True)
            seen = transform(x, random_grid(1, oh, ow, pad, jitter, scale, rotate, rng))
            (g,) = torch.autograd.grad(layer_objective(body(seen)).sum(), x)
            with torch.no_grad():
                rms = g.pow(2).flatten(1).mean(1).sqrt().view(-1, 1, 1, 1)
                x = (x + g / (rms + RMS_EPS) * DREAM_LR).clamp(0, 1)
            stamps.append(time.perf_counter())
        detail = (x - base).detach()
    with torch.inference_mode():
        layer_objective(body(as_8bit(x)))  # "after"
    return stamps


def make_featurevis(net, method, layer, steps, fourier="fft"):
    """(run, info): run() does one visualisation with `steps` (None: the default) and returns per-step ms."""
    if not layer:
        raise SystemExit(f"torch_reference: --layer is required for {method}")
    body = truncated(net, layer).eval()
    for p in body.parameters():
        p.requires_grad_(False)
    fn, default = (activation_maximization, FILTER_STEPS) if method == "activation-maximization" else (deep_dream, DREAM_STEPS)
    info = {"layer": layer, "stepsPerRun": steps or default}
    if method == "activation-maximization":
        info["fourier"] = fourier

    def run(n=None):
        stamps = fn(body, net.input_hwc, n or steps or default, fourier=fourier)
        info["steps"] = len(stamps)
        return (stamps[-1] - stamps[0]) * 1000 / max(1, len(stamps) - 1)
    return run, info
