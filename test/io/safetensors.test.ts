import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LorafaError, tensor, type Tensor } from '../../src/index.ts';
import { DTYPES } from '../../src/dtype.ts';
import { isHalf } from '../../src/half-float.ts';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.ts';

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
    expect(tensors.half!.dtype).toBe('float16');
    expect(tensors.half!.toArraySync()).toEqual([0.5, -1, 65504, 2 ** -14]);
    expect(Array.from(tensors.half!.rawDataSync())).toEqual([0x3800, 0xbc00, 0x7bff, 0x0400]);
    expect(tensors.scalar!.shape).toEqual([]);
    expect(tensors.scalar!.itemSync()).toBe(3);
  });

  it('round-trips every dtype and shape exactly, with metadata', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...DTYPES), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 })), { minLength: 1, maxLength: 5 }),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== '__metadata__'), fc.string()),
        async (specs, metadata) => {
          const tensors: Record<string, ReturnType<typeof tensor>> = {};
          specs.forEach(([dtype, shape], i) => {
            const size = shape.reduce((a, b) => a * b, 1);
            // 16-bit: every bit pattern may occur (NaN payloads, −0, subnormals), and must come back as it was
            const values = Array.from({ length: size }, (_, j) => (dtype === 'int32' ? (j * 7919 - 1000) | 0 : isHalf(dtype) ? (i * 40503 + j * 7919) & 0xffff : Math.fround(Math.sin(i + j) * 100)));
            tensors[`t${i}.w`] = tensor(isHalf(dtype) ? Uint16Array.from(values) : values, { dtype, shape });
          });
          const bytes = await serializeSafetensors(tensors, metadata);
          expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0); // padded header
          const back = parseSafetensors(bytes);
          expect(back.metadata).toEqual(metadata);
          for (const [name, t] of Object.entries(tensors)) {
            expect(back.tensors[name]!.dtype).toBe(t.dtype);
            expect(back.tensors[name]!.shape).toEqual(t.shape);
            expect(Array.from(back.tensors[name]!.rawDataSync())).toEqual(Array.from(t.rawDataSync()));
          }
        },
      ),
    );
  });

  it('lays tensors out as the reference writer does: by dtype (F64, F32, I32, BF16, F16), then by name', async () => {
    const bytes = await serializeSafetensors({
      b: tensor([1], { dtype: 'float32' }), a: tensor([1], { dtype: 'int32' }), c: tensor([1], { dtype: 'float32' }), z: tensor([2], { dtype: 'float64' }),
      e: tensor([1, 2, 3], { dtype: 'float16' }), d: tensor([1], { dtype: 'bfloat16' }), y: tensor([1], { dtype: 'bfloat16' }),
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(Object.keys(header)).toEqual(['z', 'b', 'c', 'a', 'd', 'y', 'e']); // I32 after F32, then BF16, then F16, whatever the names
    expect(header.z.data_offsets).toEqual([0, 8]);
    expect(header.b.data_offsets).toEqual([8, 12]);
    expect(header.a.data_offsets).toEqual([16, 20]);
    expect([header.d, header.y, header.e].map((h: { dtype: string; data_offsets: number[] }) => [h.dtype, h.data_offsets])).toEqual([['BF16', [20, 22]], ['BF16', [22, 24]], ['F16', [24, 30]]]);
    expect(bytes.length).toBe(8 + n + 30);
  });

  it('writes byte for byte what the Hugging Face writer wrote for the same tensors (its F16 tensor too)', async () => {
    const hf = new Uint8Array(readFileSync(fixture));
    const ours = await serializeSafetensors({ // in another order than the file's: the writer sorts
      half: tensor([0.5, -1, 65504, 2 ** -14], { dtype: 'float16' }),
      scalar: tensor([3], { shape: [] }),
      ids: tensor([[1, -2], [2147483647, -2147483648]], { dtype: 'int32' }),
      'layer.weight': tensor([[-0.5, -0.25, 0], [0.25, 0.5, 0.75]]),
      'layer.bias': tensor([1.5, -2.25, 1e-3], { dtype: 'float64' }),
    }, { format: 'np', written_by: 'safetensors 0.8.0' });
    expect(Buffer.from(ours).equals(Buffer.from(hf))).toBe(true);
  });

  it('reads F16 and BF16 as float16 and bfloat16 tensors with their bits as they are (NaN payloads, −0, subnormals)', () => {
    const bits = [0x3f80, 0xc000, 0x7fc1, 0x8000, 0x0001, 0xff80]; // BF16: 1, −2, a NaN with a payload, −0, the smallest subnormal, −Inf
    const le = (b: number[]) => new Uint8Array(Uint16Array.from(b).buffer); // host order is little-endian
    const { tensors } = parseSafetensors(file({
      x: { dtype: 'BF16', shape: [2, 3], data_offsets: [0, 12] }, h: { dtype: 'F16', shape: [3], data_offsets: [12, 18] },
    }, new Uint8Array([...le(bits), ...le([0x3c00, 0x7e01, 0x03ff])])));
    expect([tensors.x!.dtype, tensors.h!.dtype]).toEqual(['bfloat16', 'float16']);
    expect(Array.from(tensors.x!.rawDataSync())).toEqual(bits);
    expect(Array.from(tensors.h!.rawDataSync())).toEqual([0x3c00, 0x7e01, 0x03ff]);
    expect(tensors.x!.toArraySync()).toEqual([[1, -2, NaN], [-0, 2 ** -133, -Infinity]]);
    expect(tensors.h!.toArraySync()).toEqual([1, NaN, 1023 * 2 ** -24]);
  });

  it('rejects a 16-bit tensor whose byte span is not 2 bytes an element', () => {
    const bad = (f: Uint8Array, msg: RegExp) => expect(() => parseSafetensors(f)).toThrow(msg);
    bad(file({ x: { dtype: 'F16', shape: [3], data_offsets: [0, 5] } }, new Uint8Array(5)), /'x' spans bytes \[0, 5\) of 5; expected 6 bytes for F16 \[3\]/);
    bad(file({ x: { dtype: 'BF16', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)), /'x' spans bytes \[0, 8\) of 8; expected 4 bytes for BF16 \[2\]/);
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
