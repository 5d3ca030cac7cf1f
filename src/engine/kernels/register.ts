/**
 * Registers what some backends lack but input gradients need: tfjs-core's gradient table (its node
 * bundle ships none), our JS kernels, a wasm DepthwiseConv2dNativeBackpropInput, a StridedSlice gradient
 * and zero gradients for comparisons (tfjs has none on any backend), exact resize gradients, and a
 * zero-copy Identity on wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
// Loaded before the overrides below so that its stock kernels are the ones replaced.
import '@tensorflow/tfjs-backend-wasm';
import { defineJsKernel, runJsBody, type JsKernelSpec } from './js_kernel';
import './layout';
import './pooling';
import { registerResizeGradients } from './resize';

const pairOf = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : [v as number, v as number]);

/** dx of a depthwise conv by direct accumulation (a fallback: the executor's own path never calls it). */
const depthwiseBackpropInput: JsKernelSpec = {
  name: 'SaliencyLensDepthwiseBackpropInput',
  inputNames: ['dy', 'filter'],
  outShapes: (_s, attrs) => [attrs.inputShape as number[]],
  body: ([dy, w], [dyShape, wShape], [dx], attrs) => {
    const xShape = attrs.inputShape as [number, number, number, number];
    const info = tf.backend_util.computeConv2DInfo(xShape, wShape as [number, number, number, number], pairOf(attrs.strides),
      pairOf(attrs.dilations), attrs.pad as 'same', attrs.dimRoundingMode as 'floor' | undefined, true);
    const [n, h, wd, c] = xShape;
    const [kh, kw, , m] = wShape;
    const [, oh, ow, cm] = dyShape;
    const { top, left } = info.padInfo;
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          const dyBase = ((b * oh + y) * ow + x) * cm;
          for (let i = 0; i < kh; i++) {
            const ih = y * info.strideHeight - top + i * info.dilationHeight;
            if (ih < 0 || ih >= h) continue;
            for (let j = 0; j < kw; j++) {
              const iw = x * info.strideWidth - left + j * info.dilationWidth;
              if (iw < 0 || iw >= wd) continue;
              const dxBase = ((b * h + ih) * wd + iw) * c;
              const wBase = (i * kw + j) * c * m;
              for (let ch = 0; ch < c; ch++) {
                let s = 0;
                for (let k = 0; k < m; k++) s += dy[dyBase + ch * m + k] * w[wBase + ch * m + k];
                dx[dxBase + ch] += s;
              }
            }
          }
        }
      }
    }
  },
};

/** Zero-inserts `g` along each strided axis and pads it back to x's shape: the adjoint of a strided slice. */
function stridedSliceGrad(dy: tf.Tensor, x: tf.Tensor, attrs: tf.NamedAttrMap): tf.Tensor {
  const info = tf.slice_util.sliceInfo(x.shape, attrs.begin as number[], attrs.end as number[], attrs.strides as number[],
    attrs.beginMask as number, attrs.endMask as number, attrs.ellipsisMask as number, attrs.newAxisMask as number,
    attrs.shrinkAxisMask as number);
  if (info.strides.some((s) => s < 1) || info.finalShapeSparse.length !== x.rank) {
    throw new Error('gradient of stridedSlice: only positive strides without new axes are supported');
  }
  return tf.tidy(() => {
    let g = tf.reshape(dy, info.finalShapeSparse);
    const paddings: Array<[number, number]> = [];
    for (let axis = 0; axis < x.rank; axis++) {
      const s = info.strides[axis];
      const len = g.shape[axis];
      let span = len;
      if (s > 1 && len > 0) {
        const zeros = tf.zerosLike(g);
        const parts = [g, ...Array.from({ length: s - 1 }, () => zeros)];
        const shape = [...g.shape];
        shape[axis] = len * s;
        span = (len - 1) * s + 1;
        g = tf.slice(tf.reshape(tf.stack(parts, axis + 1), shape), 0, shape.map((d, i) => (i === axis ? span : d)));
      }
      const before = len > 0 ? info.begin[axis] : 0;
      paddings.push([before, x.shape[axis] - before - span]);
    }
    return tf.pad(g, paddings);
  });
}

/**
 * wasm's Identity copies the tensor, and the engine clones every tensor a gradient saves: a full copy of
 * each saved activation and weight per forward pass, which also gave saved conv weights a new identity
 * on every pass (defeating the sub-kernel cache). Share the data instead, as the cpu backend does.
 */
function registerSharedIdentity(): void {
  const stock = tf.getKernel(tf.Identity, 'wasm');
  if (!stock || (stock as { saliencyLens?: boolean }).saliencyLens) return;
  tf.unregisterKernel(tf.Identity, 'wasm');
  const config = {
    kernelName: tf.Identity,
    backendName: 'wasm',
    saliencyLens: true,
    kernelFunc: ((args: { inputs: tf.NamedTensorInfoMap; backend: { incRef(dataId: object): void } }) => {
      const x = args.inputs.x!;
      if (x.dtype === 'string') return stock.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]);
      args.backend.incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    }) as unknown as tf.KernelFunc,
  };
  tf.registerKernel(config as tf.KernelConfig);
}

let registered = false;

/** Idempotently registers the missing kernels and gradients for every backend. */
export function registerMissingKernels(): void {
  registerSharedIdentity();
  if (registered) return;
  registered = true;
  defineJsKernel(depthwiseBackpropInput);
  if (!tf.getKernel(tf.DepthwiseConv2dNativeBackpropInput, 'wasm')) {
    tf.registerKernel({
      kernelName: tf.DepthwiseConv2dNativeBackpropInput,
      backendName: 'wasm',
      kernelFunc: (({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap }) =>
        runJsBody(depthwiseBackpropInput, [inputs.dy!, inputs.filter!], backend, attrs)[0]) as unknown as tf.KernelFunc,
    });
  }
  // Comparisons feed tf.where masks on the tape (e.g. ELU with alpha != 1); their gradient is zero.
  for (const name of [tf.Greater, tf.Less, tf.LessEqual, tf.Equal, tf.NotEqual, tf.LogicalAnd, tf.LogicalOr, tf.LogicalNot]) {
    if (tf.getGradient(name)) continue;
    tf.registerGradient({
      kernelName: name,
      inputsToSave: name === tf.LogicalNot ? ['x'] : ['a', 'b'],
      gradFunc: (_dy, saved) => Object.fromEntries(
        (name === tf.LogicalNot ? ['x'] : ['a', 'b']).map((k, i) => [k, () => tf.zerosLike(saved[i])])),
    });
  }
  registerResizeGradients();
  if (!tf.getGradient(tf.StridedSlice)) {
    tf.registerGradient({
      kernelName: tf.StridedSlice,
      inputsToSave: ['x'],
      gradFunc: (dy, [x], attrs) => ({ x: () => stridedSliceGrad(dy as tf.Tensor, x, attrs) }),
    });
  }
}

registerMissingKernels();
