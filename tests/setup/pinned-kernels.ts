// The browser tests run each kernel's default variant (autotune 'off'), as the
// Node tests do through WEBGPU_TRAIN_AUTOTUNE (vitest.config.ts), so that no
// result depends on what the autotuner measured; tests/autotune.test.ts turns it on.
import { setTuningDefaults } from '../../src/engine/autotune';

setTuningDefaults({ mode: 'off' });
