// The two models of the Keras MNIST tutorial (shared/reference/keras-mnist.md), as this API writes them.
import { conv2d, dense, flatten, maxPooling2d } from './layers';
import { sequential, type Model } from './model';

export type TutorialModel = 'cnn' | 'mlp';

/** The tutorial's dense network (101,770 parameters) or small CNN (225,034), uncompiled. */
export function tutorialModel(kind: TutorialModel, classes = 10): Model {
  if (kind === 'mlp') {
    return sequential([
      flatten({ inputShape: [28, 28] }),
      dense({ units: 128, activation: 'relu' }),
      dense({ units: classes, activation: 'softmax' }),
    ]);
  }
  if (kind === 'cnn') {
    return sequential([
      conv2d({ filters: 32, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }),
      maxPooling2d({ poolSize: 2 }),
      conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
      maxPooling2d({ poolSize: 2 }),
      flatten(),
      dense({ units: 128, activation: 'relu' }),
      dense({ units: classes, activation: 'softmax' }),
    ]);
  }
  throw new Error(`unknown model '${kind as string}' (use cnn or mlp)`);
}
