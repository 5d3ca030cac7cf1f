/**
 * Exact input gradients of the resize ops. tfjs's ResizeBilinearGrad / ResizeNearestNeighborGrad take no
 * halfPixelCenters attribute, so their gradients are wrong for half-pixel resizes (the executor's default),
 * and the cpu bilinear one swaps H and W of non-square inputs. These JS adjoints replay the forward
 * kernels' own sampling formulas; the adjoint's gradient is the forward resize, so nested tf.grad works.
 */
import * as tf from '@tensorflow/tfjs-core';
import { defineJsKernel, jsKernelsAvailable, runJsKernel } from './js_kernel';

const BILINEAR_BACKPROP = 'SaliencyLensResizeBilinearBackprop';
const NEAREST_BACKPROP = 'SaliencyLensResizeNearestBackprop';

interface ResizeAttrs {
  alignCorners: boolean;
  halfPixelCenters: boolean;
}

/** The ratio tfjs uses between input and output coordinates along one axis. */
function ratio(inSize: number, outSize: number, align: boolean): number {
  return align && outSize > 1 ? (inSize - 1) / (outSize - 1) : inSize / outSize;
}

/** For each output index: the two source indices and the weight of the second (tfjs's bilinear rule). */
function bilinearTaps(inSize: number, outSize: number, a: ResizeAttrs): { lo: Int32Array; hi: Int32Array; frac: Float64Array } {
  const r = ratio(inSize, outSize, a.alignCorners);
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const src = a.halfPixelCenters ? r * (o + 0.5) - 0.5 : r * o;
    lo[o] = Math.max(0, Math.floor(src));
    hi[o] = Math.min(inSize - 1, Math.ceil(src));
    frac[o] = src - lo[o];
  }
  return { lo, hi, frac };
}

/** For each output index: the nearest source index (tfjs's nearest-neighbour rule). */
function nearestTaps(inSize: number, outSize: number, a: ResizeAttrs): Int32Array {
  const r = ratio(inSize, outSize, a.alignCorners);
  const idx = new Int32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const src = a.halfPixelCenters ? r * (o + 0.5) : r * o;
    let s = Math.min(inSize - 1, a.alignCorners ? Math.round(src) : Math.floor(src));
    if (a.halfPixelCenters) s = Math.max(0, s);
    idx[o] = s;
  }
  return idx;
}

defineJsKernel({
  name: BILINEAR_BACKPROP,
  inputNames: ['images', 'dy'],
  outShapes: ([images]) => [images],
  body: ([, dy], [[n, h, w, c], [, oh, ow]], [dx], attrs) => {
    const a = attrs as unknown as ResizeAttrs;
    const rows = bilinearTaps(h, oh, a);
    const cols = bilinearTaps(w, ow, a);
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < oh; y++) {
        const rf = rows.frac[y];
        const top = (b * h + rows.lo[y]) * w;
        const bot = (b * h + rows.hi[y]) * w;
        for (let x = 0; x < ow; x++) {
          const cf = cols.frac[x];
          const src = ((b * oh + y) * ow + x) * c;
          const tl = (top + cols.lo[x]) * c;
          const tr = (top + cols.hi[x]) * c;
          const bl = (bot + cols.lo[x]) * c;
          const br = (bot + cols.hi[x]) * c;
          const [wtl, wtr, wbl, wbr] = [(1 - cf) * (1 - rf), cf * (1 - rf), (1 - cf) * rf, cf * rf];
          for (let ch = 0; ch < c; ch++) {
            const g = dy[src + ch];
            dx[tl + ch] += g * wtl;
            dx[tr + ch] += g * wtr;
            dx[bl + ch] += g * wbl;
            dx[br + ch] += g * wbr;
          }
        }
      }
    }
  },
});

defineJsKernel({
  name: NEAREST_BACKPROP,
  inputNames: ['images', 'dy'],
  outShapes: ([images]) => [images],
  body: ([, dy], [[n, h, w, c], [, oh, ow]], [dx], attrs) => {
    const a = attrs as unknown as ResizeAttrs;
    const rows = nearestTaps(h, oh, a);
    const cols = nearestTaps(w, ow, a);
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          const src = ((b * oh + y) * ow + x) * c;
          const dst = ((b * h + rows[y]) * w + cols[x]) * c;
          for (let ch = 0; ch < c; ch++) dx[dst + ch] += dy[src + ch];
        }
      }
    }
  },
});

// The adjoint of a backprop is the forward resize (to dy's size); images only lends its shape.
for (const kernel of [BILINEAR_BACKPROP, NEAREST_BACKPROP]) {
  tf.registerGradient({
    kernelName: kernel,
    gradFunc: (ddx, _saved, attrs) => {
      const a = attrs as unknown as ResizeAttrs & { outH: number; outW: number };
      const g = ddx as tf.Tensor4D;
      const size: [number, number] = [a.outH, a.outW];
      return {
        images: () => tf.zerosLike(g),
        dy: () => (kernel === BILINEAR_BACKPROP
          ? tf.image.resizeBilinear(g, size, a.alignCorners, a.halfPixelCenters)
          : tf.image.resizeNearestNeighbor(g, size, a.alignCorners, a.halfPixelCenters)),
      };
    },
  });
}

/** Replaces the stock resize gradients with exact ones where our JS kernels run (idempotent). */
export function registerResizeGradients(): void {
  for (const [name, kernel] of [[tf.ResizeBilinear, BILINEAR_BACKPROP], [tf.ResizeNearestNeighbor, NEAREST_BACKPROP]] as const) {
    const stock = tf.getGradient(name);
    if (!stock || (stock as { saliencyLens?: boolean }).saliencyLens) continue;
    const config = {
      kernelName: name,
      inputsToSave: ['images'],
      saliencyLens: true,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
        if (!jsKernelsAvailable()) return stock.gradFunc(dy, saved, attrs);
        const g = dy as tf.Tensor;
        const a = { alignCorners: !!attrs.alignCorners, halfPixelCenters: !!attrs.halfPixelCenters, outH: g.shape[1], outW: g.shape[2] };
        return { images: () => runJsKernel(kernel, [saved[0], g], a as unknown as tf.NamedAttrMap) };
      },
    };
    tf.registerGradient(config as tf.GradConfig);
  }
}
