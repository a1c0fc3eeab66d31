// Node tests run on Dawn: the Node entry makes it the default device. fit's
// Keras log (verbose, on stdout in Node) stays out of the test output; the
// command-line tests see it, and tests/fit.test.ts checks it through a writer of its own.
import '../../src/node';
import { setProgressWriter } from '../../src/engine/training/progress';

setProgressWriter(undefined);
