/**
 * Maps 8-bit RGB pixels to a model's input tensor values with a named preset, and back for display.
 * Output layout is NHWC [1, H, W, C] with C = 3 (RGB, or BGR for `caffe`) or C = 1 (luminance).
 */
import type { PreprocessName } from '../../shared/protocol';
import { PREPROCESS_PRESETS } from '../../shared/protocol';
import { BadInputError } from '../../shared/errors';
import type { RgbImage } from './decode';

export { readModelSettings, type ModelSettings } from './settings';

/** Per-channel affine parameters of a preset: value = (pixel * scale - mean[c]) / std[c]. */
export interface PresetParams {
  scale: number;
  mean: number[];
  std: number[];
  /** True when channel 0 of the tensor is blue (Caffe-trained models). */
  bgr: boolean;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];
/** Caffe's ImageNet pixel means, in BGR order, on 0–255. */
const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68];
/** ITU-R BT.601 luma weights, the ones PIL's "L" mode and torchvision's Grayscale use. */
const LUMA = [0.299, 0.587, 0.114];

const average = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/**
 * The affine parameters of a preset for a 3- or 1-channel model. For one channel the per-channel means and
 * stds are averaged, the usual way ImageNet statistics are applied to grayscale inputs.
 */
export function presetParams(preset: PreprocessName, channels: 1 | 3): PresetParams {
  let params: PresetParams;
  switch (preset) {
    case 'unit': params = { scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], bgr: false }; break;
    case 'symmetric': params = { scale: 1 / 127.5, mean: [1, 1, 1], std: [1, 1, 1], bgr: false }; break;
    case 'imagenet': params = { scale: 1 / 255, mean: IMAGENET_MEAN, std: IMAGENET_STD, bgr: false }; break;
    case 'caffe': params = { scale: 1, mean: CAFFE_MEAN_BGR, std: [1, 1, 1], bgr: true }; break;
    case 'raw': params = { scale: 1, mean: [0, 0, 0], std: [1, 1, 1], bgr: false }; break;
    default: throw new BadInputError('--preprocess', `unknown preset "${String(preset)}" (expected ${PREPROCESS_PRESETS.join(', ')})`);
  }
  if (channels === 1) return { scale: params.scale, mean: [average(params.mean)], std: [average(params.std)], bgr: false };
  return params;
}

/** Parses a preset name from an option or a settings file; `subject` names where it came from. */
export function parsePreprocess(value: unknown, subject: string): PreprocessName {
  if (typeof value === 'string' && (PREPROCESS_PRESETS as readonly string[]).includes(value)) return value as PreprocessName;
  throw new BadInputError(subject, `unknown preprocessing "${String(value)}" (expected ${PREPROCESS_PRESETS.join(', ')})`);
}

function checkChannels(channels: number): asserts channels is 1 | 3 {
  if (channels !== 1 && channels !== 3) throw new BadInputError('model input', `${channels} channels are not supported (expected 1 or 3)`);
}

/** Converts RGB pixels to the model's input values, NHWC [1, H, W, channels], as float32. */
export function preprocessImage(image: RgbImage, preset: PreprocessName, channels: number): Float32Array {
  checkChannels(channels);
  const { scale, mean, std, bgr } = presetParams(preset, channels);
  const pixels = image.width * image.height;
  const src = image.data;
  const out = new Float32Array(pixels * channels);
  if (channels === 1) {
    const [m] = mean;
    const [s] = std;
    for (let i = 0; i < pixels; i++) {
      const luma = LUMA[0] * src[i * 3] + LUMA[1] * src[i * 3 + 1] + LUMA[2] * src[i * 3 + 2];
      out[i] = (luma * scale - m) / s;
    }
    return out;
  }
  // Folding scale, mean and std into one multiply-add per value.
  const mul = std.map((s) => scale / s);
  const add = mean.map((m, c) => -m / std[c]);
  for (let i = 0; i < pixels; i++) {
    for (let c = 0; c < 3; c++) {
      const source = bgr ? 2 - c : c;
      out[i * 3 + c] = src[i * 3 + source] * mul[c] + add[c];
    }
  }
  return out;
}

/**
 * Maps model input values ([H, W, C] or NHWC with N = 1) back to 8-bit RGB: the picture the model saw.
 * One-channel inputs come back gray.
 */
export function deprocess(values: Float32Array, width: number, height: number, preset: PreprocessName, channels: number): RgbImage {
  checkChannels(channels);
  const { scale, mean, std, bgr } = presetParams(preset, channels);
  const pixels = width * height;
  if (values.length !== pixels * channels) throw new Error(`deprocess: ${values.length} values for ${width}×${height}×${channels}`);
  const out = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    for (let c = 0; c < 3; c++) {
      const k = channels === 1 ? 0 : bgr ? 2 - c : c;
      const pixel = (values[i * channels + k] * std[k] + mean[k]) / scale;
      out[i * 3 + c] = pixel <= 0 ? 0 : pixel >= 255 ? 255 : Math.round(pixel);
    }
  }
  return { width, height, data: out };
}
