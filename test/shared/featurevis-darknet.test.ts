import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { testBackend } from '../helpers/backend';
import { DARKNET_MODEL, SKIP_WITHOUT_SHARED } from '../helpers/shared';
import { LoadedModel } from '../../src/engine/model';
import { channelMeans, rgbToInput } from '../../src/engine/featureVis/objective';
import { imagesToRgb } from '../../src/engine/featureVis/images';
import { highFrequencyEnergy } from '../../src/engine/featureVis/metrics';
import { visualizeModelFilters, type FilterOutcome } from '../../src/engine/featureVis';

// darknet-tiny (ImageNet, 224×224, 'unit' preprocessing) up to leaky_re_lu_8 (28×28×256 at 224). The
// network is convolutional there, so 64-pixel images keep the run short on the cpu backend.
const LAYER = 'leaky_re_lu_8';
const FILTERS = [0, 1, 2, 3, 4, 5, 6, 7];
const OPTIONS = { steps: 64, size: 64, seed: 0 };

const meanHf = (outcomes: FilterOutcome[]) => outcomes.reduce((s, o) => s + highFrequencyEnergy(o.image), 0) / outcomes.length;

test('darknet-tiny: optimised filters rise ≥10× over the start image and are mostly the layer\'s largest; Fourier has less high-frequency energy than pixels',
  { skip: SKIP_WITHOUT_SHARED }, async (t) => {
    await testBackend();
    const model = await LoadedModel.load(DARKNET_MODEL);
    try {
      const fourier = await visualizeModelFilters(model, 'unit', LAYER, FILTERS, undefined, OPTIONS);
      const x = imagesToRgb(fourier.outcomes.map((o) => o.image));
      const means = tf.tidy(() => channelMeans(model, rgbToInput(x, 'unit', 3), LAYER).arraySync());
      x.dispose();
      const gains = fourier.outcomes.map((o) => o.after > 0 && o.after >= 10 * Math.abs(o.before));
      const largest = fourier.outcomes.map((o, i) => means[i].indexOf(Math.max(...means[i])) === o.index);
      const frac = (b: boolean[]) => b.filter(Boolean).length / b.length;
      t.diagnostic(`${LAYER}: ${fourier.outcomes.map((o) => `${o.index}: ${o.before.toFixed(3)}→${o.after.toFixed(2)}`).join(', ')}`);
      t.diagnostic(`gain ≥10×: ${frac(gains)}, largest of the layer's ${means[0].length} filters: ${frac(largest)}`);
      assert.ok(gains.every(Boolean), `every filter gains ≥10×: ${gains}`);
      assert.ok(frac(largest) > 0.5, `most filters are the layer's largest: ${frac(largest)}`);

      const pixel = await visualizeModelFilters(model, 'unit', LAYER, FILTERS.slice(0, 4), undefined, { ...OPTIONS, param: 'pixel', transforms: false });
      const hfFourier = meanHf(fourier.outcomes.slice(0, 4));
      const hfPixel = meanHf(pixel.outcomes);
      t.diagnostic(`high-frequency energy (>0.25 cycles/px): fourier+transforms ${hfFourier.toFixed(3)}, plain pixels ${hfPixel.toFixed(3)}`);
      assert.ok(hfFourier < 0.5 * hfPixel, `${hfFourier} vs ${hfPixel}`);
    } finally {
      model.dispose();
    }
  });
