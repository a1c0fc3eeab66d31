// What a person types into `npm run bench` or the benchmark page's form: every
// bad value is refused with an error naming the option and the value.
import { expect, test } from 'vitest';
import { parseBenchOptions } from '../../bench/suite';

test('the options typed are read, with the defaults for what is left out', () => {
  expect(parseBenchOptions(true, 'cnn, mlp')).toEqual({ quick: true, models: ['cnn', 'mlp'], batches: [128], autotune: 'cached' });
  expect(parseBenchOptions(false, 'mlp', '32,256', 'full')).toEqual({ quick: false, models: ['mlp'], batches: [32, 256], autotune: 'full' });
});

test('an unknown model, a batch that is not a positive integer or an unknown autotune mode is refused, naming it', () => {
  expect(() => parseBenchOptions(true, 'cnn,resnet')).toThrow("models: unknown model 'resnet' (use cnn, mlp)");
  expect(() => parseBenchOptions(true, 'mlp', '64,0')).toThrow("batches: '64,0' must be positive integers");
  expect(() => parseBenchOptions(true, 'mlp', undefined, 'fast')).toThrow("autotune must be one of off, cached, full, got 'fast'");
});
