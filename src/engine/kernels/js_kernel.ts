/** Plain-JS kernels that read and write tensor memory directly on the cpu and wasm backends. */
import * as tf from '@tensorflow/tfjs-core';

/** Backends whose tensor memory our JS kernels can address. */
export const JS_KERNEL_BACKENDS = ['cpu', 'wasm'] as const;

/** The body of a JS kernel: fills `outs` (zero-initialised) from `ins`; shapes are NHWC etc. as given. */
export type JsKernelBody = (
  ins: Float32Array[], inShapes: number[][], outs: Float32Array[], attrs: tf.NamedAttrMap,
) => void;

/** A JS kernel: the output shapes it makes, and how it computes them. Inputs are named in `inputNames` order. */
export interface JsKernelSpec {
  name: string;
  inputNames: string[];
  outShapes: (inShapes: number[][], attrs: tf.NamedAttrMap) => number[][];
  body: JsKernelBody;
  /** The body writes every output element, so the outputs need not be zeroed first. */
  writesAllOutputs?: boolean;
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}
interface CpuBackendLike {
  readSync(dataId: object): ArrayLike<number>;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

let enabled = true;
let fast = true;

/** Switches the fast custom gradients off (stock tfjs ops and gradients): references for tests, "before" in benchmarks. */
export function setFastGradientsEnabled(on: boolean): void {
  fast = on;
}

/** Whether the kernels' primitives use their fast custom gradients. */
export function fastGradientsEnabled(): boolean {
  return fast;
}

/** Tests switch the JS kernels off to exercise the pure tf-op fallbacks that other backends use. */
export function setJsKernelsEnabled(on: boolean): void {
  enabled = on;
}

/** Whether JS kernels can run on the current backend. */
export function jsKernelsAvailable(): boolean {
  return enabled && (JS_KERNEL_BACKENDS as readonly string[]).includes(tf.getBackend());
}

function run(spec: JsKernelSpec, args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo[] {
  // Trailing inputs are optional (variadic kernels declare the most they take).
  const infos = spec.inputNames.map((n) => args.inputs[n] as tf.TensorInfo | undefined).filter((t): t is tf.TensorInfo => t != null);
  for (const info of infos) {
    if (info.dtype !== 'float32') throw new Error(`${spec.name}: input must be float32, got ${info.dtype}`);
  }
  const attrs = args.attrs ?? {};
  const inShapes = infos.map((t) => t.shape);
  const outShapes = spec.outShapes(inShapes, attrs);
  const sizes = outShapes.map((s) => s.reduce((a, b) => a * b, 1));
  const backend = args.backend;
  if (typeof (backend as Partial<WasmBackendLike>).typedArrayFromHeap === 'function') {
    const wasm = backend as WasmBackendLike;
    // Allocate first: growing the wasm heap detaches views taken before.
    const outInfos = outShapes.map((s) => wasm.makeOutput(s, 'float32'));
    const outs = outInfos.map((o) => wasm.typedArrayFromHeap(o));
    if (!spec.writesAllOutputs) for (const o of outs) o.fill(0);
    const ins = infos.map((t) => wasm.typedArrayFromHeap(t));
    spec.body(ins, inShapes, outs, attrs);
    return outInfos;
  }
  const cpu = backend as CpuBackendLike;
  const ins = infos.map((t) => {
    const v = cpu.readSync(t.dataId);
    return v instanceof Float32Array ? v : Float32Array.from(v);
  });
  const outs = sizes.map((n) => new Float32Array(n));
  spec.body(ins, inShapes, outs, attrs);
  return outs.map((o, i) => cpu.makeTensorInfo(outShapes[i], 'float32', o));
}

const specs = new Map<string, JsKernelSpec>();

/** Declares a JS kernel and registers it for the cpu and wasm backends (idempotent). */
export function defineJsKernel(spec: JsKernelSpec): void {
  specs.set(spec.name, spec);
  for (const backendName of JS_KERNEL_BACKENDS) {
    if (tf.getKernel(spec.name, backendName)) continue;
    tf.registerKernel({
      kernelName: spec.name,
      backendName,
      kernelFunc: ((args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
        const outs = run(spec, args);
        return outs.length === 1 ? outs[0] : outs;
      }) as unknown as tf.KernelFunc,
    });
  }
}

/** Runs a declared JS kernel on tensors; the result is recorded on the tape like any kernel. */
export function runJsKernel(name: string, inputs: tf.Tensor[], attrs: tf.NamedAttrMap = {}): tf.Tensor {
  const spec = specs.get(name);
  if (!spec) throw new Error(`internal: JS kernel ${name} not declared`);
  if (inputs.length > spec.inputNames.length) throw new Error(`internal: too many inputs for ${name}`);
  const named: tf.NamedTensorMap = {};
  inputs.forEach((t, i) => (named[spec.inputNames[i]] = t));
  return tf.engine().runKernel(name, named, attrs) as tf.Tensor;
}

/** Runs a raw JS body on the current backend's memory outside any kernel (for kernels of other names). */
export function runJsBody(spec: JsKernelSpec, inputs: tf.TensorInfo[], backend: unknown, attrs: tf.NamedAttrMap): tf.TensorInfo[] {
  const named: tf.NamedTensorInfoMap = {};
  spec.inputNames.forEach((n, i) => (named[n] = inputs[i]));
  return run(spec, { inputs: named, backend, attrs });
}

/** Copies n floats; short runs by loop (a subarray view per call costs more than the copy itself). */
export function copyRun(dst: Float32Array, dOff: number, src: Float32Array, sOff: number, n: number): void {
  if (n >= 64) {
    dst.set(src.subarray(sOff, sOff + n), dOff);
    return;
  }
  for (let k = 0; k < n; k++) dst[dOff + k] = src[sOff + k];
}
