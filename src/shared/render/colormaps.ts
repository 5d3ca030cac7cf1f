/**
 * Colour maps as 256-entry RGB look-up tables (768 bytes, r,g,b per entry), built from formulas or a few
 * control points interpolated linearly in RGB.
 */
import type { ColormapName } from '../protocol';
import { COLORMAPS } from '../protocol';

/** The default colour map. */
export const DEFAULT_COLORMAP: ColormapName = 'viridis';

type Rgb = readonly [number, number, number];

function hex(value: string): Rgb {
  const n = parseInt(value.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Samples of matplotlib's viridis at t = 0, 0.1, …, 1: perceptually uniform, colour-blind safe. */
const VIRIDIS_STOPS = ['#440154', '#482475', '#414487', '#355f8d', '#2a788e', '#21918c', '#22a884', '#44bf70', '#7ad151', '#bddf26', '#fde725'].map(hex);
/** Samples of matplotlib's inferno at t = 0, 0.1, …, 1. */
const INFERNO_STOPS = ['#000004', '#160b39', '#420a68', '#6a176e', '#932667', '#bc3754', '#dd513a', '#f37819', '#fca50a', '#f6d746', '#fcffa4'].map(hex);
/** Blue – white – red (ColorBrewer RdBu hues) with pure white at the centre, for signed maps. */
const DIVERGING_STOPS = ['#2166ac', '#67a9cf', '#d1e5f0', '#ffffff', '#fddbc7', '#ef8a62', '#b2182b'].map(hex);

function fromStops(stops: readonly Rgb[]): Uint8Array {
  const lut = new Uint8Array(256 * 3);
  const segments = stops.length - 1;
  for (let i = 0; i < 256; i++) {
    const position = (i / 255) * segments;
    const s = Math.min(segments - 1, Math.floor(position));
    const f = position - s;
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = Math.round(stops[s][c] + (stops[s + 1][c] - stops[s][c]) * f);
  }
  return lut;
}

function fromFunction(colour: (t: number) => Rgb): Uint8Array {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const [r, g, b] = colour(i / 255);
    lut[i * 3] = Math.round(r * 255);
    lut[i * 3 + 1] = Math.round(g * 255);
    lut[i * 3 + 2] = Math.round(b * 255);
  }
  return lut;
}

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

/** The classic jet: three clipped triangle ramps, blue → cyan → yellow → red. */
function jet(t: number): Rgb {
  return [clamp01(1.5 - Math.abs(4 * t - 3)), clamp01(1.5 - Math.abs(4 * t - 2)), clamp01(1.5 - Math.abs(4 * t - 1))];
}

const cache = new Map<ColormapName, Uint8Array>();

/** The 256-entry RGB LUT of a colour map (computed once, then shared: do not modify it). */
export function colormapLut(name: ColormapName): Uint8Array {
  let lut = cache.get(name);
  if (lut) return lut;
  switch (name) {
    case 'viridis': lut = fromStops(VIRIDIS_STOPS); break;
    case 'inferno': lut = fromStops(INFERNO_STOPS); break;
    case 'jet': lut = fromFunction(jet); break;
    case 'gray': lut = fromFunction((t) => [t, t, t]); break;
    case 'diverging': lut = fromStops(DIVERGING_STOPS); break;
    default: throw new Error(`unknown colour map "${String(name)}" (expected ${COLORMAPS.join(', ')})`);
  }
  cache.set(name, lut);
  return lut;
}

/**
 * The LUT index of a normalised value: [0, 1] maps across the table; signed values in [-1, 1] put 0 at the
 * middle, so the diverging map shows zero as white.
 */
export function lutIndex(value: number, signed: boolean): number {
  const t = signed ? (value + 1) * 0.5 : value;
  const i = Math.round(t * 255);
  return i < 0 ? 0 : i > 255 ? 255 : i === i ? i : 0;
}
