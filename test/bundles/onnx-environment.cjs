// Jest runs each test file in a vm context with its own typed-array constructors, while
// onnxruntime-node's native addon returns arrays of the main realm; onnxruntime-common then rejects
// them ("A float32 tensor's data must be type of function Float32Array()"). Test files that run real
// ONNX sessions opt in with `@jest-environment ./test/bundles/onnx-environment.cjs`, which shares
// the main realm's typed-array constructors with the test context.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'Float32Array', 'Float64Array', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array', 'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
];

class OnnxEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = OnnxEnvironment;
