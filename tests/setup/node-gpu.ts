// Node tests run on Dawn: the Node entry makes it the default device.
import '../../src/node';
