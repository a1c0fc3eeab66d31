// Node only: how the engine waits for Dawn on a software adapter.
import { expect, test } from 'vitest';
import { createTensor, readTensor } from '../../src/engine/buffers';
import { testGpu } from '../helpers';

test("Dawn's promises settle while its busy polling is throttled, and other setImmediate callers keep theirs", async () => {
  const { device, adapter } = await testGpu();
  // Installed with a software adapter (as on CI) and only then.
  expect(Boolean((globalThis.setImmediate as { dawnThrottled?: boolean }).dawnThrottled)).toBe(adapter.isFallbackAdapter);

  const t = createTensor(device, [4], { data: [1, 2, 3, 4] });
  expect(Array.from(await readTensor(device, t))).toEqual([1, 2, 3, 4]);
  t.buffer.destroy();

  // A JavaScript callback is still an immediate; a native function (as Dawn's ticks are) goes on a timer.
  const js = setImmediate(() => {});
  const native = setImmediate(Math.random);
  expect(js.constructor.name).toBe('Immediate');
  expect(native.constructor.name).toBe(adapter.isFallbackAdapter ? 'Timeout' : 'Immediate');
  clearImmediate(js);
  clearTimeout(native as unknown as NodeJS.Timeout);
  clearImmediate(native);
});
