// External weights of an ONNX model (`model.onnx_data` beside a UNet): every tensor's byte range is
// checked against its file at load time, so a truncated or mismatched weights file is refused with the
// file and tensor named instead of being run; and each file's content hash (computed once per file
// version, see file-digest.ts) is what the bundle identity and the tap cache are keyed by.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { BundleError } from './errors.ts';
import type { DigestCache } from './file-digest.ts';
import { DataType, onnx, toNumber, type GraphProto, type TensorProto } from './onnx-model.ts';

export interface WeightFile {
  /** `location` as written in the model (relative to the model's folder). */
  location: string;
  /** Absolute path of the file as the bundle holds it. */
  file: string;
  size: number;
  mtimeNs: string;
  sha256: string;
}

/** Bits per element of each ONNX data type (4-bit types pack two per byte); STRING cannot be external. */
const BITS: Record<number, number> = {
  [DataType.FLOAT]: 32, [DataType.UINT8]: 8, [DataType.INT8]: 8, [DataType.UINT16]: 16, [DataType.INT16]: 16,
  [DataType.INT32]: 32, [DataType.INT64]: 64, [DataType.BOOL]: 8, [DataType.FLOAT16]: 16, [DataType.DOUBLE]: 64,
  [DataType.UINT32]: 32, [DataType.UINT64]: 64, [DataType.COMPLEX64]: 64, [DataType.COMPLEX128]: 128, [DataType.BFLOAT16]: 16,
  17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4,
};

function expectedBytes(tensor: TensorProto): number | undefined {
  const bits = BITS[tensor.dataType ?? 0];
  if (bits === undefined) return undefined;
  const count = (tensor.dims ?? []).reduce<number>((n, d) => n * toNumber(d), 1);
  return Math.ceil((count * bits) / 8);
}

function integerEntry(tensor: TensorProto, key: string, modelFile: string): number | undefined {
  const raw = tensor.externalData?.find((e) => e.key === key)?.value;
  if (raw === undefined || raw === null) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value)) {
    throw new BundleError('BAD_EXTERNAL_DATA', `${modelFile}: tensor "${tensor.name}" has external-data ${key} ${JSON.stringify(raw)}; expected a non-negative integer.`);
  }
  return value;
}

/**
 * Checks every externally stored tensor's range against its file and returns the files with their
 * content hashes. Errors name the weights file, the tensor and the byte range it needs.
 */
export function checkExternalData(graph: GraphProto, modelFile: string, digests: DigestCache): WeightFile[] {
  const folder = path.dirname(modelFile);
  const sizes = new Map<string, number>();
  for (const tensor of graph.initializer ?? []) {
    if (tensor.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const location = tensor.externalData?.find((e) => e.key === 'location')?.value;
    if (!location) throw new BundleError('BAD_EXTERNAL_DATA', `${modelFile}: tensor "${tensor.name}" is stored externally but names no location.`);
    const dataFile = path.resolve(folder, location);
    let size = sizes.get(location);
    if (size === undefined) {
      if (!existsSync(dataFile)) throw new BundleError('MISSING_FILE', `${dataFile} (external weights referenced by ${modelFile}) is missing.`);
      const stat = statSync(dataFile);
      if (!stat.isFile()) throw new BundleError('BAD_EXTERNAL_DATA', `${dataFile} (external weights referenced by ${modelFile}) is not a regular file.`);
      size = stat.size;
      sizes.set(location, size);
    }
    const offset = integerEntry(tensor, 'offset', modelFile) ?? 0;
    const declared = integerEntry(tensor, 'length', modelFile);
    const expected = expectedBytes(tensor);
    if (declared !== undefined && expected !== undefined && declared !== expected) {
      throw new BundleError('BAD_EXTERNAL_DATA', `${modelFile}: tensor "${tensor.name}" declares ${declared} bytes in ${location} but its type and shape need ${expected}.`);
    }
    const length = declared ?? expected;
    if (length === undefined) throw new BundleError('BAD_EXTERNAL_DATA', `${modelFile}: tensor "${tensor.name}" has an element type that cannot be stored externally.`);
    if (offset + length > size) {
      throw new BundleError(
        'BAD_EXTERNAL_DATA',
        `${dataFile} is truncated or not the file ${path.basename(modelFile)} was exported with: tensor "${tensor.name}" needs bytes ${offset}..${offset + length} but the file has ${size} bytes.`,
      );
    }
  }
  return [...sizes.keys()].map((location) => {
    const file = path.resolve(folder, location);
    const { size, mtimeNs, sha256 } = digests.digest(file);
    return { location, file, size, mtimeNs, sha256 };
  });
}
