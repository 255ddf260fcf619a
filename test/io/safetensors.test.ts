import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LorafaError, tensor, type Tensor } from '../../src/index.ts';
import { bfloat16ToFloat, halfToFloat, parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.ts';

const fixture = new URL('./fixtures/hf-written.safetensors', import.meta.url);

/** A file with a hand-written header and data section. */
function file(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  it('reads a file written by the Hugging Face library (F32, F64, I32, F16, a scalar, metadata)', () => {
    const { tensors, metadata } = parseSafetensors(new Uint8Array(readFileSync(fixture)));
    expect(metadata).toEqual({ format: 'np', written_by: 'safetensors 0.8.0' });
    expect(Object.keys(tensors).sort()).toEqual(['half', 'ids', 'layer.bias', 'layer.weight', 'scalar']);
    expect(tensors['layer.weight']!.dtype).toBe('float32');
    expect(tensors['layer.weight']!.toArraySync()).toEqual([[-0.5, -0.25, 0], [0.25, 0.5, 0.75]]);
    expect(tensors['layer.bias']!.dtype).toBe('float64');
    expect(tensors['layer.bias']!.toArraySync()).toEqual([1.5, -2.25, 1e-3]);
    expect(tensors.ids!.dtype).toBe('int32');
    expect(tensors.ids!.toArraySync()).toEqual([[1, -2], [2147483647, -2147483648]]);
    expect(tensors.half!.toArraySync()).toEqual([0.5, -1, 65504, 2 ** -14]);
    expect(tensors.scalar!.shape).toEqual([]);
    expect(tensors.scalar!.itemSync()).toBe(3);
  });

  it('round-trips every dtype and shape exactly, with metadata', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('float32', 'float64', 'int32') as fc.Arbitrary<'float32' | 'float64' | 'int32'>, fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 })), { minLength: 1, maxLength: 5 }),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== '__metadata__'), fc.string()),
        async (specs, metadata) => {
          const tensors: Record<string, ReturnType<typeof tensor>> = {};
          specs.forEach(([dtype, shape], i) => {
            const size = shape.reduce((a, b) => a * b, 1);
            const values = Array.from({ length: size }, (_, j) => (dtype === 'int32' ? (j * 7919 - 1000) | 0 : Math.fround(Math.sin(i + j) * 100)));
            tensors[`t${i}.w`] = tensor(values, { dtype, shape });
          });
          const bytes = await serializeSafetensors(tensors, metadata);
          expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0); // padded header
          const back = parseSafetensors(bytes);
          expect(back.metadata).toEqual(metadata);
          for (const [name, t] of Object.entries(tensors)) {
            expect(back.tensors[name]!.dtype).toBe(t.dtype);
            expect(back.tensors[name]!.shape).toEqual(t.shape);
            expect(Array.from(back.tensors[name]!.dataSync())).toEqual(Array.from(t.dataSync()));
          }
        },
      ),
    );
  });

  it('lays tensors out as the reference writer does: by dtype (F64, F32, I32), then by name', async () => {
    const bytes = await serializeSafetensors({
      b: tensor([1], { dtype: 'float32' }), a: tensor([1], { dtype: 'int32' }), c: tensor([1], { dtype: 'float32' }), z: tensor([2], { dtype: 'float64' }),
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(Object.keys(header)).toEqual(['z', 'b', 'c', 'a']); // I32 after F32, whatever the names
    expect(header.z.data_offsets).toEqual([0, 8]);
    expect(header.b.data_offsets).toEqual([8, 12]);
    expect(header.a.data_offsets).toEqual([16, 20]);
    expect(bytes.length).toBe(8 + n + 20);
  });

  it('writes byte for byte what the Hugging Face writer wrote for the same tensors', async () => {
    const hf = new Uint8Array(readFileSync(fixture));
    // The fixture's F16 tensor 'half' has no engine dtype to write it from. The reference orders
    // F16 after I32, so 'half' is its last tensor and its 8 bytes end the file: what the reference
    // writes for the other four is the fixture without that header entry and those bytes.
    const n = Number(new DataView(hf.buffer, hf.byteOffset).getBigUint64(0, true));
    const header = new TextDecoder().decode(hf.subarray(8, 8 + n)).trimEnd();
    const withoutHalf = header.replace(',"half":{"dtype":"F16","shape":[4],"data_offsets":[68,76]}', '');
    expect(withoutHalf).not.toBe(header);
    const padded = withoutHalf + ' '.repeat((8 - (withoutHalf.length % 8)) % 8);
    const expected = new Uint8Array(8 + padded.length + 68);
    new DataView(expected.buffer).setBigUint64(0, BigInt(padded.length), true);
    expected.set(new TextEncoder().encode(padded), 8);
    expected.set(hf.subarray(8 + n, 8 + n + 68), 8 + padded.length);

    const ours = await serializeSafetensors({ // in another order than the file's: the writer sorts
      scalar: tensor([3], { shape: [] }),
      ids: tensor([[1, -2], [2147483647, -2147483648]], { dtype: 'int32' }),
      'layer.weight': tensor([[-0.5, -0.25, 0], [0.25, 0.5, 0.75]]),
      'layer.bias': tensor([1.5, -2.25, 1e-3], { dtype: 'float64' }),
    }, { format: 'np', written_by: 'safetensors 0.8.0' });
    expect(new TextDecoder().decode(ours.subarray(8, 8 + padded.length))).toBe(padded);
    expect(Buffer.from(ours).equals(Buffer.from(expected))).toBe(true);
  });

  it('decodes half and bfloat16 bits', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x0001)).toBe(2 ** -24); // smallest subnormal
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
    expect(bfloat16ToFloat(0x3f80)).toBe(1);
    expect(bfloat16ToFloat(0xc0a0)).toBe(-5);
    const data = new Uint8Array([0x80, 0x3f, 0x00, 0xc0]); // BF16 [1, -2], little-endian
    expect(parseSafetensors(file({ x: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] } }, data)).tensors.x!.toArraySync()).toEqual([1, -2]);
  });

  it('rejects malformed files with the reason', () => {
    const bad = (bytes: Uint8Array, pattern: RegExp) => {
      expect(() => parseSafetensors(bytes)).toThrow(LorafaError);
      expect(() => parseSafetensors(bytes)).toThrow(pattern);
    };
    bad(new Uint8Array(3), /safetensors: the file has 3 bytes/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1000n, true);
    bad(huge, /header length 1000 exceeds the 8 bytes/);
    bad(file('not an object'), /the header is not a JSON object/);
    const garbled = file({});
    garbled[8] = 0x7b + 1;
    bad(garbled, /the header is not valid UTF-8 JSON/);
    bad(file({ x: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /'x' has dtype "U8"; expected one of F64, F32, I32, F16, BF16/);
    bad(file({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /'x' has shape \[-1\]/);
    bad(file({ x: { dtype: 'F32', shape: [1], data_offsets: [0] } }, new Uint8Array(4)), /'x' has data_offsets \[0\]/);
    bad(file({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)), /'x' spans bytes \[0, 4\) of 4; expected 8 bytes for F32 \[2\]/);
    bad(file({ x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /'x' starts at byte 4 but the previous tensor ends at 0/);
    bad(file({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(8)), /the tensors cover 4 of the 8 data bytes/);
    bad(file({ __metadata__: { n: 1 } }), /__metadata__ is \{"n":1\}; expected an object of strings/);
  });

  it('refuses a tensor named __metadata__', async () => {
    await expect(serializeSafetensors({ __metadata__: tensor([1]) })).rejects.toThrow(/'__metadata__' is reserved/);
  });
});

describe('names are data', () => {
  it("round-trips tensors and metadata named like JavaScript's object keys", async () => {
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'a.b', 'ünïcödé', ''];
    const tensors: Record<string, Tensor> = Object.create(null);
    names.forEach((n, i) => Object.defineProperty(tensors, n, { value: tensor([i, -i]), enumerable: true }));
    const metadata: Record<string, string> = Object.create(null);
    for (const n of names) metadata[n] = `value of ${n}`;
    const back = parseSafetensors(await serializeSafetensors(tensors, metadata));
    expect(Object.keys(back.tensors).sort()).toEqual([...names].sort());
    names.forEach((n, i) => expect([...back.tensors[n]!.dataSync()]).toEqual([i, -i]));
    expect({ ...back.metadata }).toEqual({ ...metadata });
    expect(Object.getPrototypeOf(back.tensors)).toBeNull();
  });

  it('refuses a dtype named like an object key, a non-tensor value and a non-string metadata value', async () => {
    const bad = new TextEncoder().encode(JSON.stringify({ w: { dtype: 'constructor', shape: [1], data_offsets: [0, 4] } }));
    const file = new Uint8Array(8 + bad.length + 4);
    new DataView(file.buffer).setBigUint64(0, BigInt(bad.length), true);
    file.set(bad, 8);
    expect(() => parseSafetensors(file)).toThrow(`safetensors: 'w' has dtype "constructor"; expected one of F64, F32, I32, F16, BF16`);
    await expect(serializeSafetensors({ w: [1, 2] } as unknown as Record<string, Tensor>)).rejects.toThrow("safetensors: tensors 'w' is an array of 2; expected a Tensor");
    await expect(serializeSafetensors({ w: tensor([1]) }, { n: 3 } as unknown as Record<string, string>)).rejects.toThrow("safetensors: metadata 'n' is the number 3; expected a string");
  });
});
