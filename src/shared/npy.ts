/**
 * NumPy .npy format, version 1.0, for little-endian float32 arrays in C order.
 * Works on plain ArrayBuffers / Uint8Arrays (no Node Buffer) so the webview and extension can use it too.
 */

/** A float32 array with its shape, as stored in an .npy file. */
export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const PREAMBLE_BYTES = 10; // magic (6) + version (2) + header length (2)
const HEADER_ALIGN = 64;
/** NumPy leaves room for the first dimension to grow to this many digits (so files can be appended in place). */
const GROWTH_AXIS_DIGITS = 21;

function shapeText(shape: readonly number[]): string {
  // A 1-tuple needs its trailing comma in Python syntax.
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

function checkShape(shape: readonly number[], length: number): void {
  let count = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`npy: bad dimension ${d} in shape [${shape.join(', ')}]`);
    count *= d;
  }
  if (count !== length) throw new Error(`npy: shape [${shape.join(', ')}] holds ${count} values, data has ${length}`);
}

/** Encodes a float32 array as the bytes of an .npy v1.0 file (`<f4`, C order, header padded to 64 bytes). */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  checkShape(shape, data.length);
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText(shape)}, }`;
  // Same padding as numpy.save, so our files are byte-identical to NumPy's: growth room for the first
  // dimension, then spaces up to a 64-byte boundary (a full 64 when already aligned), then '\n'.
  if (shape.length > 0) dict += ' '.repeat(Math.max(0, GROWTH_AXIS_DIGITS - String(shape[0]).length));
  const padding = HEADER_ALIGN - ((PREAMBLE_BYTES + dict.length + 1) % HEADER_ALIGN);
  const header = dict + ' '.repeat(padding) + '\n';
  const headerLength = header.length;
  if (headerLength > 0xffff) throw new Error('npy: header too long for format version 1.0');

  const out = new Uint8Array(PREAMBLE_BYTES + headerLength + data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = headerLength & 0xff;
  out[9] = headerLength >> 8;
  for (let i = 0; i < header.length; i++) out[PREAMBLE_BYTES + i] = header.charCodeAt(i);
  const view = new DataView(out.buffer, PREAMBLE_BYTES + headerLength);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}

function headerField(header: string, key: string): string {
  const match = new RegExp(`'${key}'\\s*:\\s*('[^']*'|True|False|\\([^)]*\\))`).exec(header);
  if (!match) throw new Error(`npy: header lacks '${key}'`);
  return match[1];
}

/** Decodes an .npy v1.x/2.x file holding little-endian float32 (`<f4`) in C order. */
export function decodeNpy(bytes: Uint8Array | ArrayBuffer): NpyArray {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (u8.length < PREAMBLE_BYTES || MAGIC.some((b, i) => u8[i] !== b)) throw new Error('npy: not an .npy file');
  const major = u8[6];
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = PREAMBLE_BYTES;
  } else if (major === 2 || major === 3) {
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new Error(`npy: unsupported format version ${major}`);
  }
  if (headerStart + headerLength > u8.length) throw new Error('npy: truncated header');
  let header = '';
  for (let i = 0; i < headerLength; i++) header += String.fromCharCode(u8[headerStart + i]);

  const descr = headerField(header, 'descr');
  if (descr !== "'<f4'") throw new Error(`npy: unsupported dtype ${descr} (expected '<f4')`);
  if (headerField(header, 'fortran_order') !== 'False') throw new Error('npy: Fortran order is not supported');
  const shape = headerField(header, 'shape')
    .slice(1, -1)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);

  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLength;
  if (u8.length - dataStart < count * 4) throw new Error(`npy: truncated data (${count} float32 values expected)`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = view.getFloat32(dataStart + i * 4, true);
  return { shape, data };
}
