// Float64 CPU reference for schedule.wgsl: Keras 3's learning-rate schedules
// (keras/src/optimizers/schedules/learning_rate_schedule.py), written as Keras
// writes them.
import type { LearningRate } from '../engine/ops/schedule';

/** The rate of the update made after `step` updates (Keras calls the schedule with optimizer.iterations). */
export function learningRateAt(rate: LearningRate, step: number): number {
  if (typeof rate === 'number') return rate;
  switch (rate.kind) {
    case 'exponentialDecay': {
      let p = step / rate.decaySteps;
      if (rate.staircase) p = Math.floor(p);
      return rate.initialLearningRate * rate.decayRate ** p;
    }
    case 'piecewiseConstantDecay': {
      const { boundaries, values } = rate;
      if (step <= boundaries[0]) return values[0];
      if (step > boundaries[boundaries.length - 1]) return values[values.length - 1];
      for (let i = 1; i < boundaries.length; i++) {
        if (step > boundaries[i - 1] && step <= boundaries[i]) return values[i];
      }
      throw new Error('unreachable: boundaries are increasing');
    }
    case 'cosineDecay': {
      const decay = (s: number, from: number) => {
        const cosineDecayed = 0.5 * (1 + Math.cos(Math.PI * (s / rate.decaySteps)));
        return from * ((1 - rate.alpha) * cosineDecayed + rate.alpha);
      };
      if (rate.warmupTarget === null) return decay(Math.min(step, rate.decaySteps), rate.initialLearningRate);
      const s = Math.min(step, rate.decaySteps + rate.warmupSteps);
      if (s < rate.warmupSteps) return (rate.warmupTarget - rate.initialLearningRate) * (s / rate.warmupSteps) + rate.initialLearningRate;
      return decay(s - rate.warmupSteps, rate.warmupTarget);
    }
  }
}
