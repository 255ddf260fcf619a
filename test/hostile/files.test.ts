/**
 * Hostile bytes and command lines (see verdict.ts): safetensors files with corrupted headers,
 * lengths, offsets, dtypes and names, read back against an independent decoder; failing saves
 * that must leave the file on disk as it was; command lines of every kind for every command.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { tensor, type Tensor } from '../../src/index.ts';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.ts';
import { saveSafetensors } from '../../src/node.ts';
import { CALC, run as calc } from '../../src/cli/calc.ts';
import { LAB, run as lab } from '../../src/cli/lab.ts';
import { PRETRAIN } from '../../src/cli/pretrain.ts';
import { VERIFY } from '../../src/cli/verify.ts';
import { parseOptions, UsageError, type Command, type OptionSpec, type OptionTable } from '../../src/cli/options.ts';
import { judge, judgeAsync, record, summary } from './verdict.ts';

afterAll(() => console.log(summary()));

const names = fc.oneof(fc.constantFrom('w', '__proto__', 'constructor', 'toString', 'a.b', 'ü', ''), fc.string({ maxLength: 6 }));

/** Independent decoding of one element of a safetensors dtype. */
function decode(code: string, view: DataView, i: number): number {
  switch (code) {
    case 'F64': return view.getFloat64(i * 8, true);
    case 'F32': return view.getFloat32(i * 4, true);
    case 'I32': return view.getInt32(i * 4, true);
    case 'F16': {
      const h = view.getUint16(i * 2, true), e = (h >> 10) & 31, f = h & 1023, s = h >> 15 ? -1 : 1;
      return e === 0 ? s * f * 2 ** -24 : e === 31 ? (f ? NaN : s * Infinity) : s * (1 + f / 1024) * 2 ** (e - 15);
    }
    default: { // BF16: the top half of a float32
      const v = new DataView(new ArrayBuffer(4));
      v.setUint16(0, view.getUint16(i * 2, true));
      return v.getFloat32(0);
    }
  }
}

/** A file's bytes with one random corruption (or none). */
const corruption = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('length' as const), n: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
  fc.record({ kind: fc.constant('header' as const), json: fc.jsonValue({ maxDepth: 3 }) }),
  fc.record({ kind: fc.constant('field' as const), field: fc.constantFrom('dtype', 'shape', 'data_offsets'), value: fc.jsonValue({ maxDepth: 2 }) }),
);

function corrupt(bytes: Uint8Array, c: fc.Arbitrary<unknown> extends never ? never : { kind: string; [k: string]: unknown }): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  const n = Number(view.getBigUint64(0, true));
  const rewrite = (header: unknown) => {
    const head = new TextEncoder().encode(JSON.stringify(header));
    const file = new Uint8Array(8 + head.length + out.length - 8 - n);
    new DataView(file.buffer).setBigUint64(0, BigInt(head.length), true);
    file.set(head, 8);
    file.set(out.subarray(8 + n), 8 + head.length);
    return file;
  };
  switch (c.kind) {
    case 'flip': out[(c.at as number) % out.length]! ^= 1 << (c.bit as number); return out;
    case 'truncate': return out.subarray(0, (c.at as number) % out.length);
    case 'length': view.setBigUint64(0, c.n as bigint, true); return out;
    case 'header': return rewrite(c.json);
    case 'field': {
      const header = JSON.parse(new TextDecoder().decode(out.subarray(8, 8 + n))) as Record<string, Record<string, unknown>>;
      const first = Object.keys(header).find((k) => k !== '__metadata__');
      if (first) header[first]![c.field as string] = c.value;
      return rewrite(header);
    }
    default: return out;
  }
}

describe('hostile inputs: safetensors bytes', () => {
  it('a corrupted file is a clear error, or reads exactly what its header and bytes say', async () => {
    const entry = fc.record({ name: names, dtype: fc.constantFrom('float32', 'float64', 'int32'), shape: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 2 }) });
    await fc.assert(fc.asyncProperty(fc.uniqueArray(entry, { selector: (e) => e.name, maxLength: 3 }), corruption, async (entries, c) => {
      const tensors: Record<string, Tensor> = Object.create(null);
      for (const e of entries.filter((e) => e.name !== '__metadata__')) {
        const n = e.shape.reduce((a, b) => a * b, 1);
        tensors[e.name] = tensor(Array.from({ length: n }, (_, i) => i - 1.5 * (e.dtype !== 'int32' ? 1 : 0)), { shape: e.shape, dtype: e.dtype as never });
      }
      const bytes = corrupt(await serializeSafetensors(tensors, { note: 'x' }), c as never);
      judge('parseSafetensors', ['safetensors'], () => parseSafetensors(bytes), ({ tensors: read }) => {
        const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
        const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
        const data = bytes.subarray(8 + n);
        expect(Object.keys(read).sort()).toEqual(Object.keys(header).filter((k) => k !== '__metadata__').sort());
        for (const [name, h] of Object.entries(header)) {
          if (name === '__metadata__') continue;
          const view = new DataView(data.buffer, data.byteOffset + h.data_offsets[0]);
          expect(read[name]!.shape).toEqual(h.shape);
          expect([...read[name]!.dataSync()]).toEqual(Array.from({ length: read[name]!.size }, (_, i) => decode(h.dtype, view, i)));
        }
      });
    }), { numRuns: 300 });
  });

  it('a save that fails leaves the file on disk as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lorafa-hostile-save-'));
    const file = join(dir, 'keep.safetensors');
    await saveSafetensors(file, { w: tensor([1, 2, 3]) });
    const before = readFileSync(file);
    const value = fc.oneof(fc.constant(tensor([4, 5])), fc.constantFrom<unknown>(null, 3, 'w', [1, 2], {}));
    await fc.assert(fc.asyncProperty(fc.dictionary(names, value, { maxKeys: 3 }), fc.dictionary(names, fc.oneof(fc.string(), fc.integer()), { maxKeys: 2 }), async (tensors, metadata) => {
      await judgeAsync('saveSafetensors', ['safetensors'], async () => saveSafetensors(file, tensors as Record<string, Tensor>, metadata as Record<string, string>), async () => {
        const { tensors: back } = parseSafetensors(new Uint8Array(readFileSync(file)));
        expect(Object.keys(back).sort()).toEqual(Object.keys(tensors).sort());
        await saveSafetensors(file, { w: tensor([1, 2, 3]) }); // put the original back for the next case
      });
      expect(readFileSync(file)).toEqual(before);
    }), { numRuns: 150 });
  });
});

/** A command line: known options and unknown ones, with values of every kind. */
function argv(table: OptionTable): fc.Arbitrary<string[]> {
  const flag = fc.oneof(fc.constantFrom(...Object.keys(table).map((k) => `--${k}`)), fc.constantFrom('--help', '--__proto__', '--constructor', '-x', '--', 'positional'));
  const value = fc.oneof(fc.constantFrom('', '0', '-1', '1.5', '2', '8', '1e309', 'NaN', 'random', 'cpu', 'webgpu', 'lorafa', 'full,lora', 'q,k', 'fp32', 'custom', '__proto__', 'constructor'), fc.integer({ min: -3, max: 70 }).map(String));
  return fc.array(fc.tuple(flag, fc.option(value, { nil: undefined })), { maxLength: 4 }).map((pairs) => pairs.flatMap(([f, v]) => (v === undefined ? [f] : [f, v])));
}

/** What a value of spec should parse to, decided independently of the parser (undefined: refused). */
function expectedValue(spec: OptionSpec, text: string | true | undefined): { ok: boolean; value?: unknown } {
  if (spec.kind === 'flag') return { ok: text !== undefined ? text === true : true, value: text === true };
  if (text === true) return { ok: false };
  if (text === undefined) return { ok: true, value: 'default' in spec ? spec.default : undefined };
  const x = Number(text);
  switch (spec.kind) {
    case 'int': case 'number': {
      const ok = text.trim() !== '' && Number.isFinite(x) && (spec.kind === 'number' || Number.isInteger(x)) &&
        (spec.min === undefined || (spec.kind === 'number' && spec.exclusiveMin ? x > spec.min : x >= spec.min)) && (spec.max === undefined || x <= spec.max);
      return { ok, value: x };
    }
    case 'seed': return text === 'random' ? { ok: true } : { ok: text.trim() !== '' && Number.isInteger(x) && x >= 0 && x < 2 ** 32, value: x };
    case 'string': return { ok: !spec.choices || spec.choices.includes(text), value: text };
    case 'list': {
      const items = text.split(',').map((s) => s.trim()).filter(Boolean);
      return { ok: items.length > 0 && (!spec.choices || items.every((i) => spec.choices!.includes(i))), value: items };
    }
  }
}

describe('hostile inputs: command lines', () => {
  for (const cmd of [LAB, CALC, PRETRAIN, VERIFY] as Command<OptionTable>[]) {
    it(`lorafa ${cmd.name}: the option parser refuses a bad command line with a usage error, or parses exactly what was given`, () => {
      fc.assert(fc.property(argv(cmd.options), (args) => {
        let result: ReturnType<typeof parseOptions> | undefined;
        try {
          result = parseOptions(cmd, args);
        } catch (e) {
          if (!(e instanceof UsageError)) throw e;
          expect(e.message).not.toMatch(/\n\s+at /);
          return record(`${cmd.name} options`, 'clear');
        }
        if (result === 'help') return void (expect(args).toContain('--help'), record(`${cmd.name} options`, 'correct'));
        for (const [name, spec] of Object.entries(cmd.options)) {
          const last = args.lastIndexOf(`--${name}`);
          const given = last < 0 ? undefined : spec.kind === 'flag' ? true : args[last + 1];
          const expected = expectedValue(spec, given);
          expect(expected.ok, `--${name} ${given} was accepted`).toBe(true);
          if (spec.kind !== 'seed' || given !== 'random') expect((result as Record<string, unknown>)[name]).toEqual(expected.value);
        }
        record(`${cmd.name} options`, 'correct');
      }), { numRuns: 300 });
    });
  }

  it('calc and lab runs end with exit 0, 1 or 2 and at most one line of error, never a stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lorafa-hostile-cli-'));
    const out = vi.spyOn(console, 'log').mockImplementation(() => {});
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await fc.assert(fc.asyncProperty(fc.constantFrom('calc', 'lab'), argv({ ...CALC.options, ...LAB.options }), async (name, args) => {
        err.mockClear();
        // the lab stops at its (missing) checkpoint: every option before it is checked, nothing trains
        const code = name === 'calc' ? await calc(args) : await lab([...args, '--out', join(dir, 'run'), '--base', join(dir, 'none.safetensors'), '--backend', 'cpu']);
        const stderr = err.mock.calls.map((c) => c.join(' ')).join('\n');
        expect([0, 1, 2]).toContain(code);
        expect(stderr).not.toMatch(/\n\s+at |TypeError|RangeError/);
        if (code === 1) expect(stderr).toMatch(new RegExp(`^lorafa ${name}: [^\\n]+$`));
        if (code === 2) expect(stderr).toMatch(new RegExp(`^lorafa ${name}: [^\\n]+\\nusage: lorafa ${name}`));
        record(`${name} runs`, code === 0 ? 'correct' : 'clear');
      }), { numRuns: 150 });
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });
});
