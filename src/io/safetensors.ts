import { typedArrayFor, type DType, type Device } from '../dtype.ts';
import { isTensor } from '../autograd/tensor-class.ts';
import { describeValue, fail } from '../errors.ts';
import { tensor } from '../factories.ts';
import type { Tensor } from '../tensor.ts';

/**
 * The safetensors format (Hugging Face):
 *   [8 bytes: header length n, u64 little-endian] [n bytes: JSON header] [raw data]
 * The header maps each name to { dtype, shape, data_offsets: [begin, end) } (offsets into the
 * data section, little-endian row-major) plus an optional "__metadata__" of string → string.
 * The writer produces the reference writer's bytes (huggingface/safetensors, `prepare` in
 * safetensors/src/tensor.rs): tensors sorted by dtype in descending order of its Dtype enum
 * (… F16 < BF16 < I32 < U32 < F32 < F64 …, so F64 first, then F32, I32, BF16, F16), then by name;
 * a compact JSON header with "__metadata__" first, then the tensors in that order, each as
 * {"dtype","shape","data_offsets"}; the header padded with spaces to a multiple of 8 bytes.
 * (The reference keeps __metadata__ in a hash map, so the order of its keys is not defined
 * there; ours is the insertion order of the object given.)
 * F16 and BF16 are the engine's float16 and bfloat16: their bit patterns are read and written as
 * they are (rawData), never widened.
 */
export interface SafetensorsContent {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/** Each engine dtype's code, and its rank in the reference writer's order (higher first). */
const WRITE_DTYPES: Record<DType, { code: string; rank: number }> = {
  float64: { code: 'F64', rank: 4 },
  float32: { code: 'F32', rank: 3 },
  int32: { code: 'I32', rank: 2 },
  bfloat16: { code: 'BF16', rank: 1 },
  float16: { code: 'F16', rank: 0 },
};

/** How each readable code decodes: element i of the little-endian data, as the engine dtype stores it (16-bit: bits). */
const READ_DTYPES: Record<string, { bytes: number; dtype: DType; decode: (view: DataView, i: number) => number }> = {
  F64: { bytes: 8, dtype: 'float64', decode: (v, i) => v.getFloat64(i * 8, true) },
  F32: { bytes: 4, dtype: 'float32', decode: (v, i) => v.getFloat32(i * 4, true) },
  I32: { bytes: 4, dtype: 'int32', decode: (v, i) => v.getInt32(i * 4, true) },
  F16: { bytes: 2, dtype: 'float16', decode: (v, i) => v.getUint16(i * 2, true) },
  BF16: { bytes: 2, dtype: 'bfloat16', decode: (v, i) => v.getUint16(i * 2, true) },
};

/** The bytes of a safetensors file holding the tensors (read back from any device) and metadata. */
export async function serializeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Promise<Uint8Array> {
  checkRecord('tensors', tensors, (v) => isTensor(v), 'a Tensor');
  checkRecord('metadata', metadata, (v) => typeof v === 'string', 'a string');
  const names = Object.keys(tensors).sort((a, b) => WRITE_DTYPES[tensors[b]!.dtype].rank - WRITE_DTYPES[tensors[a]!.dtype].rank || (a < b ? -1 : a > b ? 1 : 0));
  // tensor names are data: a null-prototype object keeps '__proto__' or 'constructor' as ordinary keys
  const header: Record<string, unknown> = Object.create(null);
  if (Object.keys(metadata).length) header.__metadata__ = Object.assign(Object.create(null), metadata);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') fail('safetensors', "'__metadata__' is reserved and cannot name a tensor");
    const t = tensors[name]!;
    t.assertAlive('safetensors');
    const data = await t.rawData();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(); // host order is little-endian on every supported platform
    header[name] = { dtype: WRITE_DTYPES[t.dtype].code, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  const encoded = new TextEncoder().encode(json);
  const head = new Uint8Array(Math.ceil(encoded.length / 8) * 8).fill(0x20); // padded with spaces to a multiple of 8
  head.set(encoded);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Parses the bytes of a safetensors file into tensors on `device` (the default device if not given), checking every offset. */
export function parseSafetensors(bytes: Uint8Array, options: { device?: Device } = {}): SafetensorsContent {
  if (bytes.length < 8) fail('safetensors', `the file has ${bytes.length} bytes; expected at least the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > bytes.length - 8) fail('safetensors', `header length ${n} exceeds the ${bytes.length - 8} bytes after it`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail('safetensors', `the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('safetensors', 'the header is not a JSON object');
  const data = bytes.subarray(8 + n);
  const metadata = checkMetadata(Object.hasOwn(header, '__metadata__') ? header.__metadata__ : {});
  // every entry is checked before any tensor is made: a bad file creates nothing
  const specs: { name: string; info: (typeof READ_DTYPES)[string]; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = (raw !== null && typeof raw === 'object' ? raw : {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const info = typeof dtype === 'string' && Object.hasOwn(READ_DTYPES, dtype) ? READ_DTYPES[dtype]! : null;
    if (!info) fail('safetensors', `'${name}' has dtype ${JSON.stringify(dtype)}; expected one of ${Object.keys(READ_DTYPES).join(', ')}`);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) fail('safetensors', `'${name}' has shape ${JSON.stringify(shape)}; expected a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail('safetensors', `'${name}' has data_offsets ${JSON.stringify(offsets)}; expected [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    const size = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== size * info.bytes || end > data.length) {
      fail('safetensors', `'${name}' spans bytes [${begin}, ${end}) of ${data.length}; expected ${size * info.bytes} bytes for ${dtype} [${shape.join(', ')}] inside the data`);
    }
    specs.push({ name, info, shape: shape as number[], begin, end });
  }
  checkCoverage(specs.map((t) => [t.begin, t.end, t.name]), data.length);
  const tensors: Record<string, Tensor> = Object.create(null);
  for (const { name, info, shape, begin, end } of specs) {
    const src = new DataView(data.buffer, data.byteOffset + begin, end - begin);
    const size = (end - begin) / info.bytes;
    const values = typedArrayFor(info.dtype, size);
    for (let i = 0; i < size; i++) values[i] = info.decode(src, i);
    tensors[name] = tensor(values, { shape, dtype: info.dtype, device: options.device });
  }
  return { tensors, metadata };
}

/** __metadata__ as a null-prototype object of strings (its keys are data). */
function checkMetadata(meta: unknown): Record<string, string> {
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta) || Object.values(meta).some((v) => typeof v !== 'string')) {
    fail('safetensors', `__metadata__ is ${JSON.stringify(meta)}; expected an object of strings`);
  }
  return Object.assign(Object.create(null), meta) as Record<string, string>;
}

/** Throws unless record is a plain object whose every value passes `ok`. */
function checkRecord(what: string, record: unknown, ok: (v: unknown) => boolean, expected: string): void {
  if (record === null || typeof record !== 'object' || Array.isArray(record) || isTensor(record)) {
    fail('safetensors', `${what} is ${describeValue(record)}; expected an object of name → ${expected}`);
  }
  for (const [name, v] of Object.entries(record)) {
    if (!ok(v)) fail('safetensors', `${what} '${name}' is ${describeValue(v)}; expected ${expected}`);
  }
}

/** Tensors must tile the data section exactly, without gaps or overlaps (as the reference reader checks). */
function checkCoverage(spans: [number, number, string][], length: number): void {
  spans.sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [begin, end, name] of spans) {
    if (begin !== at) fail('safetensors', `'${name}' starts at byte ${begin} but the previous tensor ends at ${at}; expected tensors to tile the data without gaps or overlaps`);
    at = end;
  }
  if (at !== length) fail('safetensors', `the tensors cover ${at} of the ${length} data bytes; expected all of them`);
}
