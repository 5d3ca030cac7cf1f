/** Decoding of ONNX TensorProtos (raw data, typed fields, float16, int64, external data) into plain arrays. */
import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { BadInputError } from '../../shared/errors';
import { int64, type OnnxTensorProto } from './onnxSchema';

/**
 * A constant known at load time, in ONNX (source) layout. Floats are float32; integers and booleans are
 * kept as float64 so that int64 values up to 2^53 are exact.
 */
export interface ConstTensor {
  kind: 'float' | 'int';
  dims: number[];
  data: Float32Array | Float64Array;
}

/** ONNX TensorProto.DataType codes. */
export const DataType = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, BFLOAT16: 16,
} as const;

const ELEMENT_BYTES: Record<number, number> = {
  1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2,
};

/** Refuse single tensors beyond this many elements (1 GiB of float32) before allocating anything. */
const MAX_ELEMENTS = 2 ** 28;

/** Number of elements of a shape. */
export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Whether a data type is read as float (else as integer). */
export function isFloatType(dataType: number): boolean {
  return dataType === DataType.FLOAT || dataType === DataType.FLOAT16 || dataType === DataType.DOUBLE
    || dataType === DataType.BFLOAT16;
}

/** Converts IEEE half-precision bits to a float. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Reads external tensor data, only from files inside the model's folder. */
export class ExternalDataReader {
  private readonly fds = new Map<string, number>();
  private readonly realDir: string;

  constructor(private readonly modelPath: string, private readonly modelDir: string) {
    this.realDir = realpathSync(modelDir);
  }

  /** Reads `length` bytes at `offset` of `location` (relative to the model's folder). */
  read(location: string, offset: number, length: number | undefined, tensorName: string): Uint8Array {
    const where = `external data "${location}" of tensor ${tensorName}`;
    if (!location || isAbsolute(location) || location.includes('\0')) {
      throw new BadInputError(this.modelPath, `${where}: only paths relative to the model's folder are allowed`);
    }
    const full = resolve(this.modelDir, location);
    let real: string;
    try {
      real = realpathSync(full);
    } catch {
      throw new BadInputError(this.modelPath, `${where}: file not found`);
    }
    const rel = relative(this.realDir, real);
    if (rel === '' || rel.startsWith('..' + sep) || rel === '..' || isAbsolute(rel)) {
      throw new BadInputError(this.modelPath, `${where}: escapes the model's folder; refused`);
    }
    let fd = this.fds.get(real);
    if (fd === undefined) {
      fd = openSync(real, 'r');
      this.fds.set(real, fd);
    }
    const size = fstatSync(fd).size;
    const len = length ?? size - offset;
    if (!Number.isSafeInteger(offset) || offset < 0 || len < 0 || offset + len > size) {
      throw new BadInputError(this.modelPath, `${where}: offset ${offset} + length ${len} exceeds the file size ${size}`);
    }
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const n = readSync(fd, out, done, len - done, offset + done);
      if (n <= 0) throw new BadInputError(this.modelPath, `${where}: short read`);
      done += n;
    }
    return out;
  }

  /** Closes every file opened so far. */
  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function decodeBytes(bytes: Uint8Array, dataType: number, count: number): Float32Array | Float64Array {
  // Raw data inside the protobuf buffer is not aligned for typed-array views: read through a DataView or copy.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dataType) {
    case DataType.FLOAT: {
      if (LITTLE_ENDIAN) {
        // Copy into a fresh, aligned buffer (a memcpy); a Node Buffer's own slice() would only make a view.
        const copy = new Uint8Array(bytes.length);
        copy.set(bytes);
        return new Float32Array(copy.buffer, 0, count);
      }
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    case DataType.FLOAT16: case DataType.BFLOAT16: {
      const out = new Float32Array(count);
      const bf = dataType === DataType.BFLOAT16;
      for (let i = 0; i < count; i++) {
        const h = view.getUint16(i * 2, true);
        out[i] = bf ? new Float32Array(new Uint32Array([h << 16]).buffer)[0] : halfToFloat(h);
      }
      return out;
    }
    case DataType.DOUBLE: {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    }
    default: {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = readInt(view, i, dataType);
      return out;
    }
  }
}

function readInt(view: DataView, i: number, dataType: number): number {
  switch (dataType) {
    case DataType.UINT8: case DataType.BOOL: return view.getUint8(i);
    case DataType.INT8: return view.getInt8(i);
    case DataType.UINT16: return view.getUint16(i * 2, true);
    case DataType.INT16: return view.getInt16(i * 2, true);
    case DataType.INT32: return view.getInt32(i * 4, true);
    case DataType.UINT32: return view.getUint32(i * 4, true);
    case DataType.INT64: return Number(view.getBigInt64(i * 8, true));
    case DataType.UINT64: return Number(view.getBigUint64(i * 8, true));
    default: return NaN;
  }
}

function typedFieldValues(t: OnnxTensorProto): number[] | null {
  switch (t.dataType) {
    case DataType.FLOAT: return t.floatData;
    case DataType.DOUBLE: return t.doubleData;
    case DataType.INT64: return t.int64Data.map(int64);
    case DataType.UINT32: case DataType.UINT64: return t.uint64Data.map(int64);
    case DataType.FLOAT16: return t.int32Data.map((h) => halfToFloat(h & 0xffff));
    case DataType.BFLOAT16: return t.int32Data.map((h) => new Float32Array(new Uint32Array([(h & 0xffff) << 16]).buffer)[0]);
    case DataType.INT32: case DataType.INT16: case DataType.INT8: case DataType.UINT16: case DataType.UINT8:
    case DataType.BOOL: return t.int32Data;
    default: return null;
  }
}

/** Decodes a TensorProto (initializer or Constant value) into a ConstTensor, checking every size. */
export function decodeTensor(t: OnnxTensorProto, modelPath: string, external: ExternalDataReader | undefined): ConstTensor {
  const name = t.name || '(unnamed tensor)';
  const dims = t.dims.map(int64);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new BadInputError(modelPath, `tensor ${name} has invalid dimensions [${dims.join(', ')}]`);
  }
  const count = numel(dims);
  if (count > MAX_ELEMENTS) throw new BadInputError(modelPath, `tensor ${name} has ${count} elements; too large`);
  const elemBytes = ELEMENT_BYTES[t.dataType];
  if (elemBytes === undefined) {
    throw new BadInputError(modelPath, `tensor ${name} has unsupported data type ${t.dataType}`);
  }
  const kind = isFloatType(t.dataType) ? 'float' : 'int';
  let bytes: Uint8Array | null = null;
  if (t.dataLocation === 1) {
    if (!external) throw new BadInputError(modelPath, `tensor ${name} has external data but no folder to read it from`);
    const entry = (key: string) => t.externalData.find((e) => e.key === key)?.value;
    const offset = Number(entry('offset') ?? 0);
    const lengthText = entry('length');
    const length = lengthText === undefined ? count * elemBytes : Number(lengthText);
    bytes = external.read(entry('location') ?? '', offset, length, name);
  } else if (t.rawData && t.rawData.length > 0) {
    bytes = t.rawData;
  }
  if (bytes) {
    if (bytes.length !== count * elemBytes) {
      throw new BadInputError(modelPath,
        `tensor ${name} holds ${bytes.length} bytes but its shape [${dims.join(', ')}] needs ${count * elemBytes}`);
    }
    return { kind, dims, data: decodeBytes(bytes, t.dataType, count) };
  }
  const values = typedFieldValues(t) ?? [];
  if (values.length !== count) {
    throw new BadInputError(modelPath,
      `tensor ${name} holds ${values.length} values but its shape [${dims.join(', ')}] needs ${count}`);
  }
  return { kind, dims, data: kind === 'float' ? Float32Array.from(values) : Float64Array.from(values) };
}
