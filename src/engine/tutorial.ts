// The two models of the Keras MNIST tutorial (shared/reference/keras-mnist.md)
// and the Keras blog's autoencoder ("Building Autoencoders in Keras", its
// simplest: one dense layer of 32 codes), as this API writes them, and how
// each is compiled and trained there.
import { conv2d, dense, flatten, maxPooling2d } from './layers';
import type { LossOption, MetricName } from './losses';
import { sequential, type Model } from './model';

export type TutorialModel = 'cnn' | 'mlp' | 'autoencoder';

/**
 * The tutorial's dense network (101,770 parameters) or small CNN (225,034),
 * or the autoencoder (50,992: 784 -> 32 -> 784 on flattened images, its
 * targets the images themselves), uncompiled.
 */
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
  if (kind === 'autoencoder') {
    return sequential([flatten({ inputShape: [28, 28] }), dense({ units: 32, activation: 'relu' }), dense({ units: 784, activation: 'sigmoid' })]);
  }
  throw new Error(`unknown model '${kind as string}' (use cnn, mlp or autoencoder)`);
}

/** How a tutorial model is compiled and trained. */
export interface TutorialRecipe {
  optimizer: 'rmsprop' | 'adam';
  loss: LossOption;
  metrics: MetricName[];
  batchSize: number;
  /** What y is: the labels, or the images themselves. */
  targets: 'labels' | 'images';
}

/**
 * The tutorial's recipe for its classifiers (rmsprop, sparse cross-entropy,
 * accuracy, batches of 128), and the blog's for the autoencoder (adam, binary
 * cross-entropy, batches of 256), which reports the mean squared error too.
 */
export function tutorialRecipe(kind: TutorialModel): TutorialRecipe {
  if (kind === 'autoencoder') return { optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['mse'], batchSize: 256, targets: 'images' };
  return { optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 128, targets: 'labels' };
}
