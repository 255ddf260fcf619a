/**
 * A small WebAssembly assembler: kernels are written as listings of wasm instructions
 * (`f.local_get(p); f.v128_load(16); f.f32x4_mul();`) and come out as module bytes.
 *
 *   const mod = new ModuleBuilder();
 *   mod.importMemory('env', 'memory', { initial: 1, maximum: 100, shared: true });
 *   const f = mod.func('scale', [i32, i32], []);   // exported under 'scale'
 *   const [ptr, count] = f.params;
 *   const loop = f.loop(); ...; f.br_if(loop); f.end();
 *   f.end();                                     // closes the function body
 *   new WebAssembly.Module(mod.bytes());
 *
 * Instruction methods are named after the text format (dots become underscores) and take the
 * immediates; operands come from the value stack exactly as in wasm. Branch targets are the
 * Label objects returned by block/loop/if_, so relative depths are computed, never hand-counted.
 * Opcode numbers follow the WebAssembly 2.0 specification (SIMD: prefix 0xFD, then the LEB128
 * sub-opcode). The engine's validator checks every module when it is compiled.
 */

/** Value types (binary encodings). */
export const i32 = 0x7f, i64 = 0x7e, f32 = 0x7d, f64 = 0x7c, v128 = 0x7b;
export type ValType = typeof i32 | typeof i64 | typeof f32 | typeof f64 | typeof v128;

/** Unsigned LEB128 of a non-negative integer < 2³². */
export function uleb(out: number[], value: number): void {
  let v = value >>> 0;
  do {
    const byte = v & 0x7f;
    v >>>= 7;
    out.push(v === 0 ? byte : byte | 0x80);
  } while (v !== 0);
}

/** Signed LEB128 of an int32. */
export function sleb(out: number[], value: number): void {
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

/** A local variable (or parameter) of a function: its index and type. */
export interface Local {
  readonly index: number;
  readonly type: ValType;
}

/** A block, loop or if opened in a function body: the target of br / br_if. */
export interface Label {
  readonly kind: 'block' | 'loop' | 'if';
}

/** Anything call() can target: a function of the module or an imported one. */
export interface Callee {
  readonly index: number;
}

const BLOCK_VOID = 0x40;

/**
 * One function: its signature, locals and body bytes. Created by ModuleBuilder.func; the body is
 * written with the instruction methods and closed by a final end().
 */
export class FunctionBuilder implements Callee {
  readonly params: Local[];
  readonly body: number[] = [];
  private readonly extraLocals: ValType[] = [];
  private readonly labels: Label[] = [];
  private closed = false;

  constructor(
    /** Index in the module's function index space (after the imported functions). */
    readonly index: number,
    readonly paramTypes: readonly ValType[],
    readonly resultTypes: readonly ValType[],
  ) {
    this.params = paramTypes.map((type, index) => ({ index, type }));
  }

  /** Declares a new local (zero-initialised, as wasm does). */
  local(type: ValType): Local {
    this.extraLocals.push(type);
    return { index: this.paramTypes.length + this.extraLocals.length - 1, type };
  }

  /** The code section entry: size, run-length encoded local declarations, body. */
  encode(out: number[]): void {
    if (!this.closed) throw new Error(`wasm function ${this.index}: body not closed (${this.labels.length} blocks open)`);
    const entry: number[] = [];
    const runs: [number, ValType][] = [];
    for (const t of this.extraLocals) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    uleb(entry, runs.length);
    for (const [count, t] of runs) {
      uleb(entry, count);
      entry.push(t);
    }
    append(entry, this.body);
    uleb(out, entry.length);
    append(out, entry);
  }

  // ---- structured control ----------------------------------------------------------------

  private open(kind: Label['kind'], opcode: number): Label {
    const label = { kind };
    this.body.push(opcode, BLOCK_VOID);
    this.labels.push(label);
    return label;
  }
  /** `block` (void): br to it jumps past its end. */
  block(): Label { return this.open('block', 0x02); }
  /** `loop` (void): br to it jumps back to its start. */
  loop(): Label { return this.open('loop', 0x03); }
  /** `if` (void), consuming an i32 condition. */
  if_(): Label { return this.open('if', 0x04); }
  else_(): void { this.body.push(0x05); }
  /** Closes the innermost block/loop/if, or the function body when none is open. */
  end(): void {
    if (this.closed) throw new Error(`wasm function ${this.index}: end() after the body was closed`);
    if (this.labels.pop() === undefined) this.closed = true;
    this.body.push(0x0b);
  }
  private depth(label: Label): number {
    const i = this.labels.lastIndexOf(label);
    if (i < 0) throw new Error('wasm: branch to a label that is not open');
    return this.labels.length - 1 - i;
  }
  br(label: Label): void { this.body.push(0x0c); uleb(this.body, this.depth(label)); }
  br_if(label: Label): void { this.body.push(0x0d); uleb(this.body, this.depth(label)); }
  return_(): void { this.body.push(0x0f); }
  call(fn: Callee): void { this.body.push(0x10); uleb(this.body, fn.index); }
  drop(): void { this.body.push(0x1a); }
  select(): void { this.body.push(0x1b); }

  // ---- locals and constants --------------------------------------------------------------

  local_get(x: Local): void { this.body.push(0x20); uleb(this.body, x.index); }
  local_set(x: Local): void { this.body.push(0x21); uleb(this.body, x.index); }
  local_tee(x: Local): void { this.body.push(0x22); uleb(this.body, x.index); }
  i32_const(v: number): void { this.body.push(0x41); sleb(this.body, v); }
  f32_const(v: number): void { this.body.push(0x43); append(this.body, new Uint8Array(new Float32Array([v]).buffer)); }
  f64_const(v: number): void { this.body.push(0x44); append(this.body, new Uint8Array(new Float64Array([v]).buffer)); }

  // ---- scalar memory: memarg = log2(alignment), byte offset --------------------------------

  private mem(opcode: number, offset: number, alignLog2: number): void {
    this.body.push(opcode);
    uleb(this.body, alignLog2);
    uleb(this.body, offset);
  }
  i32_load(offset = 0): void { this.mem(0x28, offset, 2); }
  i64_load(offset = 0): void { this.mem(0x29, offset, 3); }
  f32_load(offset = 0): void { this.mem(0x2a, offset, 2); }
  f64_load(offset = 0): void { this.mem(0x2b, offset, 3); }
  i32_load16_u(offset = 0): void { this.mem(0x2f, offset, 1); }
  i32_store(offset = 0): void { this.mem(0x36, offset, 2); }
  i32_store16(offset = 0): void { this.mem(0x3b, offset, 1); }
  i64_store(offset = 0): void { this.mem(0x37, offset, 3); }
  f32_store(offset = 0): void { this.mem(0x38, offset, 2); }
  f64_store(offset = 0): void { this.mem(0x39, offset, 3); }

  // ---- scalar arithmetic -----------------------------------------------------------------

  i32_eqz(): void { this.body.push(0x45); }
  i32_eq(): void { this.body.push(0x46); }
  i32_ne(): void { this.body.push(0x47); }
  i32_lt_s(): void { this.body.push(0x48); }
  i32_lt_u(): void { this.body.push(0x49); }
  i32_gt_u(): void { this.body.push(0x4b); }
  i32_ge_s(): void { this.body.push(0x4e); }
  f32_eq(): void { this.body.push(0x5b); }
  f32_ne(): void { this.body.push(0x5c); }
  f32_gt(): void { this.body.push(0x5e); }
  f64_eq(): void { this.body.push(0x61); }
  f64_ne(): void { this.body.push(0x62); }
  f64_gt(): void { this.body.push(0x64); }
  i32_add(): void { this.body.push(0x6a); }
  i32_sub(): void { this.body.push(0x6b); }
  i32_mul(): void { this.body.push(0x6c); }
  i32_div_u(): void { this.body.push(0x6e); }
  i32_rem_u(): void { this.body.push(0x70); }
  i32_and(): void { this.body.push(0x71); }
  i32_or(): void { this.body.push(0x72); }
  i32_shl(): void { this.body.push(0x74); }
  i32_shr_u(): void { this.body.push(0x76); }
  f32_add(): void { this.body.push(0x92); }
  f32_sub(): void { this.body.push(0x93); }
  f32_mul(): void { this.body.push(0x94); }
  f32_div(): void { this.body.push(0x95); }
  f32_max(): void { this.body.push(0x97); }
  f64_sqrt(): void { this.body.push(0x9f); }
  f64_add(): void { this.body.push(0xa0); }
  f64_sub(): void { this.body.push(0xa1); }
  f64_mul(): void { this.body.push(0xa2); }
  f64_div(): void { this.body.push(0xa3); }
  f64_max(): void { this.body.push(0xa5); }
  f32_demote_f64(): void { this.body.push(0xb6); }
  f64_promote_f32(): void { this.body.push(0xbb); }
  f64_convert_i32_u(): void { this.body.push(0xb8); }

  // ---- SIMD (prefix 0xFD) ----------------------------------------------------------------

  private simd(op: number): void { this.body.push(0xfd); uleb(this.body, op); }
  private simdMem(op: number, offset: number, alignLog2: number): void {
    this.simd(op);
    uleb(this.body, alignLog2);
    uleb(this.body, offset);
  }
  v128_load(offset = 0): void { this.simdMem(0x00, offset, 4); }
  /** Loads one f32 (i32) and replicates it into all 4 lanes (x64: vbroadcastss). */
  v128_load32_splat(offset = 0): void { this.simdMem(0x09, offset, 2); }
  /** Loads one f64 (i64) and replicates it into both lanes. */
  v128_load64_splat(offset = 0): void { this.simdMem(0x0a, offset, 3); }
  v128_store(offset = 0): void { this.simdMem(0x0b, offset, 4); }
  /** ptr v → v with one lane replaced by the 32-bit (64-bit) element at ptr + offset. */
  v128_load32_lane(offset: number, lane: number): void { this.simdMem(0x56, offset, 2); this.body.push(lane); }
  v128_load64_lane(offset: number, lane: number): void { this.simdMem(0x57, offset, 3); this.body.push(lane); }
  /** ptr v → stores one lane of v at ptr + offset. */
  v128_store32_lane(offset: number, lane: number): void { this.simdMem(0x5a, offset, 2); this.body.push(lane); }
  v128_store64_lane(offset: number, lane: number): void { this.simdMem(0x5b, offset, 3); this.body.push(lane); }
  /** The 16 bytes of a constant vector. */
  v128_const(bytes: ArrayLike<number>): void { this.simd(0x0c); append(this.body, Array.from(bytes)); }
  v128_const_zero(): void { this.v128_const(new Uint8Array(16)); }
  /** a b → 16 bytes picked from a (0–15) and b (16–31). */
  i8x16_shuffle(lanes: readonly number[]): void { this.simd(0x0d); append(this.body, lanes); }
  i32x4_splat(): void { this.simd(0x11); }
  i32x4_eq(): void { this.simd(0x37); }
  f32x4_splat(): void { this.simd(0x13); }
  f64x2_splat(): void { this.simd(0x14); }
  f32x4_extract_lane(lane: number): void { this.simd(0x1f); this.body.push(lane); }
  f64x2_extract_lane(lane: number): void { this.simd(0x21); this.body.push(lane); }
  f32x4_eq(): void { this.simd(0x41); }
  f32x4_gt(): void { this.simd(0x44); }
  f64x2_eq(): void { this.simd(0x47); }
  f64x2_gt(): void { this.simd(0x4a); }
  v128_and(): void { this.simd(0x4e); }
  v128_or(): void { this.simd(0x50); }
  v128_xor(): void { this.simd(0x51); }
  /** v1 v2 c → (v1 & c) | (v2 & ~c), bitwise. */
  v128_bitselect(): void { this.simd(0x52); }
  /** Lanes 0 and 1 of an f32x4 as an f64x2. */
  f64x2_promote_low_f32x4(): void { this.simd(0x5f); }
  /** Loads 8 bytes into lane 0 of an i64x2, lane 1 = 0 (two f32 elements into lanes 0, 1). */
  v128_load64_zero(offset = 0): void { this.simdMem(0x5d, offset, 3); }
  /** Rounds f64x2 lanes to f32 in lanes 0 and 1; lanes 2 and 3 become 0. */
  f32x4_demote_f64x2_zero(): void { this.simd(0x5e); }
  f32x4_nearest(): void { this.simd(0x6a); }
  i32x4_shl(): void { this.simd(0xab); }
  i32x4_shr_s(): void { this.simd(0xac); }
  i32x4_add(): void { this.simd(0xae); }
  i32x4_sub(): void { this.simd(0xb1); }
  f32x4_abs(): void { this.simd(0xe0); }
  f32x4_neg(): void { this.simd(0xe1); }
  f32x4_sqrt(): void { this.simd(0xe3); }
  f32x4_add(): void { this.simd(0xe4); }
  f32x4_sub(): void { this.simd(0xe5); }
  f32x4_mul(): void { this.simd(0xe6); }
  f32x4_div(): void { this.simd(0xe7); }
  f32x4_min(): void { this.simd(0xe8); }
  f32x4_max(): void { this.simd(0xe9); }
  f64x2_abs(): void { this.simd(0xec); }
  f64x2_neg(): void { this.simd(0xed); }
  f64x2_sqrt(): void { this.simd(0xef); }
  f64x2_add(): void { this.simd(0xf0); }
  f64x2_sub(): void { this.simd(0xf1); }
  f64x2_mul(): void { this.simd(0xf2); }
  f64x2_div(): void { this.simd(0xf3); }
  f64x2_max(): void { this.simd(0xf5); }
  i32x4_trunc_sat_f32x4_s(): void { this.simd(0xf8); }
}

export interface MemoryImport {
  /** Pages of 64 KiB. */
  initial: number;
  maximum?: number;
  shared?: boolean;
}

/** An imported function: a host function the module calls (e.g. Math.log). */
interface FuncImport extends Callee {
  module: string;
  name: string;
  params: readonly ValType[];
  results: readonly ValType[];
}

/** Collects imports and functions, and writes the module binary. */
export class ModuleBuilder {
  private readonly funcs: FunctionBuilder[] = [];
  private readonly imports: FuncImport[] = [];
  private readonly exportNames = new Map<FunctionBuilder, string>();
  private memory: { module: string; name: string; limits: MemoryImport } | null = null;

  importMemory(module: string, name: string, limits: MemoryImport): void {
    if (limits.shared && limits.maximum === undefined) throw new Error('wasm: a shared memory needs a maximum');
    this.memory = { module, name, limits };
  }

  /** An imported host function; all imports come before the first func() (they are first in the index space). */
  importFunc(module: string, name: string, params: readonly ValType[], results: readonly ValType[]): Callee {
    if (this.funcs.length) throw new Error('wasm: import functions before defining any');
    const f = { index: this.imports.length, module, name, params, results };
    this.imports.push(f);
    return f;
  }

  /** A new function; exported under `exportName` unless null. Bodies may be written in any order. */
  func(exportName: string | null, params: readonly ValType[], results: readonly ValType[]): FunctionBuilder {
    const f = new FunctionBuilder(this.imports.length + this.funcs.length, params, results);
    this.funcs.push(f);
    if (exportName !== null) this.exportNames.set(f, exportName);
    return f;
  }

  /** The exported function names, in definition order. */
  exports(): string[] {
    return [...this.exportNames.values()];
  }

  bytes(): Uint8Array<ArrayBuffer> {
    const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]; // "\0asm", version 1
    // type section: one entry per distinct signature
    const typeKeys: string[] = [];
    const typeOf = (params: readonly ValType[], results: readonly ValType[]): number => {
      const key = `${params.join(',')}:${results.join(',')}`;
      if (!typeKeys.includes(key)) typeKeys.push(key);
      return typeKeys.indexOf(key);
    };
    const importTypes = this.imports.map((f) => typeOf(f.params, f.results));
    const funcTypes = this.funcs.map((f) => typeOf(f.paramTypes, f.resultTypes));
    section(out, 1, (s) => {
      uleb(s, typeKeys.length);
      for (const key of typeKeys) {
        const [params, results] = key.split(':').map((p) => (p ? p.split(',').map(Number) : [])) as [number[], number[]];
        s.push(0x60);
        uleb(s, params.length);
        append(s, params);
        uleb(s, results.length);
        append(s, results);
      }
    });
    section(out, 2, (s) => {
      uleb(s, this.imports.length + (this.memory ? 1 : 0));
      this.imports.forEach((f, i) => {
        utf8(s, f.module);
        utf8(s, f.name);
        s.push(0x00); // import kind: function
        uleb(s, importTypes[i]!);
      });
      if (this.memory) {
        const { module, name, limits } = this.memory;
        utf8(s, module);
        utf8(s, name);
        s.push(0x02); // import kind: memory
        s.push((limits.shared ? 2 : 0) | (limits.maximum !== undefined ? 1 : 0));
        uleb(s, limits.initial);
        if (limits.maximum !== undefined) uleb(s, limits.maximum);
      }
    });
    section(out, 3, (s) => {
      uleb(s, this.funcs.length);
      for (const t of funcTypes) uleb(s, t);
    });
    section(out, 7, (s) => {
      uleb(s, this.exportNames.size);
      for (const [f, name] of this.exportNames) {
        utf8(s, name);
        s.push(0x00); // export kind: function
        uleb(s, f.index);
      }
    });
    section(out, 10, (s) => {
      uleb(s, this.funcs.length);
      for (const f of this.funcs) f.encode(s);
    });
    return Uint8Array.from(out);
  }
}

function section(out: number[], id: number, write: (s: number[]) => void): void {
  const s: number[] = [];
  write(s);
  out.push(id);
  uleb(out, s.length);
  append(out, s);
}

/** out.push(...items) without spreading a long array into arguments. */
function append(out: number[], items: ArrayLike<number>): void {
  for (let i = 0; i < items.length; i++) out.push(items[i]!);
}

function utf8(out: number[], text: string): void {
  const b = new TextEncoder().encode(text);
  uleb(out, b.length);
  append(out, b);
}
