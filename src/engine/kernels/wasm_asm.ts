/**
 * A minimal WebAssembly assembler: enough to write the few data-movement kernels that JS runs 10–20×
 * slower than wasm SIMD (per-element bounds checks, no vectors) as small modules that import the wasm
 * backend's own memory. Only i32 locals and parameters, structured loops, f32/v128 loads and stores and
 * the handful of SIMD operations the kernels use.
 */

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/** Signed LEB128 (32-bit). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const bytesOf = (s: string): number[] => [...Buffer.from(s, 'utf8')];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

const I32 = 0x7f;
const V128 = 0x7b;

/** SIMD opcodes (after the 0xfd prefix) that the kernels use. */
export const SIMD = {
  load: 0x00, store: 0x0b, i32x4Splat: 0x11, f32x4Splat: 0x13, f32x4Eq: 0x41, f32x4Ne: 0x42, f32x4Gt: 0x44,
  f32x4Le: 0x45, f32x4Ge: 0x46, and: 0x4e, andNot: 0x4f, or: 0x50, bitselect: 0x52, anyTrue: 0x53, f32x4Neg: 0xe1,
  f32x4Add: 0xe4, f32x4Sub: 0xe5, f32x4Mul: 0xe6,
} as const;

/** Builds one function body. Locals are numbered after the parameters, in the order they are made. */
export class FnBuilder {
  readonly code: number[] = [];
  private readonly localTypes: number[] = [];
  private scratch?: [number, number];

  /** `returnsI32`: the function leaves one i32 on the stack at its end. */
  constructor(readonly name: string, readonly params: number, readonly returnsI32 = false) {}

  /** A new i32 local (its index). */
  i32(): number {
    this.localTypes.push(I32);
    return this.params + this.localTypes.length - 1;
  }

  /** A new v128 local (its index). */
  v128(): number {
    this.localTypes.push(V128);
    return this.params + this.localTypes.length - 1;
  }

  // Instructions: each appends its opcode; operands are taken from the stack, as in the text format.
  get(l: number): this { this.code.push(0x20, ...uleb(l)); return this; }
  set(l: number): this { this.code.push(0x21, ...uleb(l)); return this; }
  const(n: number): this { this.code.push(0x41, ...sleb(n)); return this; }
  add(): this { this.code.push(0x6a); return this; }
  sub(): this { this.code.push(0x6b); return this; }
  mul(): this { this.code.push(0x6c); return this; }
  shl(): this { this.code.push(0x74); return this; }
  and(): this { this.code.push(0x71); return this; }
  or(): this { this.code.push(0x72); return this; }
  ltS(): this { this.code.push(0x48); return this; }
  geS(): this { this.code.push(0x4e); return this; }
  select(): this { this.code.push(0x1b); return this; }
  f32Load(): this { this.code.push(0x2a, 2, 0); return this; }
  f32Store(): this { this.code.push(0x38, 2, 0); return this; }
  f32Add(): this { this.code.push(0x92); return this; }
  f32Ne(): this { this.code.push(0x5c); return this; }
  f32Const(v: number): this { this.code.push(0x43, ...new Uint8Array(new Float32Array([v]).buffer)); return this; }
  simd(op: number): this {
    this.code.push(0xfd, ...uleb(op));
    // Loads and stores take a memarg: alignment hint 0 (any address), offset 0.
    if (op === SIMD.load || op === SIMD.store) this.code.push(0, 0);
    return this;
  }
  /** v128.load / v128.store with a constant byte offset folded into the instruction. */
  loadAt(offset: number): this { this.code.push(0xfd, SIMD.load, 0, ...uleb(offset)); return this; }
  storeAt(offset: number): this { this.code.push(0xfd, SIMD.store, 0, ...uleb(offset)); return this; }
  /** v128.load32_splat: one float from memory into all four lanes. */
  load32Splat(offset = 0): this { this.code.push(0xfd, 0x09, 0, ...uleb(offset)); return this; }

  /** i32 max/min of the two values on the stack. */
  max(): this { return this.minMax(0x4a); }
  min(): this { return this.minMax(0x48); }
  private minMax(cmp: number): this {
    this.scratch ??= [this.i32(), this.i32()];
    const [a, b] = this.scratch;
    this.set(b).set(a).get(a).get(b).get(a).get(b);
    this.code.push(cmp);
    return this.select();
  }

  /** for (counter = from(); counter < to(); counter += step) body() */
  loop(counter: number, from: () => void, to: () => void, body: () => void, step = 1): this {
    from();
    this.set(counter);
    this.code.push(0x02, 0x40, 0x03, 0x40); // block, loop
    this.get(counter);
    to();
    this.geS();
    this.code.push(0x0d, 1); // br_if to the block's end
    body();
    this.get(counter).const(step).add().set(counter);
    this.code.push(0x0c, 0, 0x0b, 0x0b); // br to the loop, end loop, end block
    return this;
  }

  /** if (condition on the stack) body() */
  when(body: () => void): this {
    this.code.push(0x04, 0x40);
    body();
    this.code.push(0x0b);
    return this;
  }

  /** if (condition on the stack) then() else otherwise() */
  ifElse(then: () => void, otherwise: () => void): this {
    this.code.push(0x04, 0x40);
    then();
    this.code.push(0x05);
    otherwise();
    this.code.push(0x0b);
    return this;
  }

  /** The encoded body: locals declaration (runs of one type), code, end. */
  encode(): number[] {
    const decls: number[][] = [];
    for (let i = 0; i < this.localTypes.length;) {
      let j = i;
      while (j < this.localTypes.length && this.localTypes[j] === this.localTypes[i]) j++;
      decls.push([...uleb(j - i), this.localTypes[i]]);
      i = j;
    }
    const body = [...vec(decls), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/**
 * A module importing `env.memory` (shared or not, as the backend's memory is) and exporting `fns`, each
 * taking only i32 parameters and returning nothing or an i32.
 */
export function assemble(fns: FnBuilder[], sharedMemory: boolean): Uint8Array {
  const signature = (f: FnBuilder): string => `${f.params}:${f.returnsI32}`;
  const signatures = [...new Set(fns.map(signature))];
  const types = section(1, vec(signatures.map((sig) => {
    const [params, returns] = sig.split(':');
    return [0x60, ...vec(Array.from({ length: Number(params) }, () => [I32])), ...vec(returns === 'true' ? [[I32]] : [])];
  })));
  // Shared memories must declare a maximum; 65536 pages (4 GiB) accepts any the backend made.
  const limits = sharedMemory ? [0x03, 0, ...uleb(65536)] : [0x00, 0];
  const name = (t: string): number[] => vec(bytesOf(t).map((b) => [b]));
  const imports = section(2, vec([[...name('env'), ...name('memory'), 0x02, ...limits]]));
  const functions = section(3, vec(fns.map((f) => uleb(signatures.indexOf(signature(f))))));
  const exports = section(7, vec(fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)])));
  const code = section(10, vec(fns.map((f) => f.encode())));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...imports, ...functions, ...exports, ...code]);
}
