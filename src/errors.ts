/**
 * Every error the engine raises for bad input is a LorafaError whose message starts with the
 * op's name and says what was given and what was expected, e.g.
 *   "matmul: inner dimensions differ: a [2, 3] (float32) and b [4, 5] (float32); expected a.shape[-1] = b.shape[-2]"
 */
export class LorafaError extends Error {
  constructor(readonly op: string, detail: string) {
    super(`${op}: ${detail}`);
    this.name = 'LorafaError';
  }
}

export function fail(op: string, detail: string): never {
  throw new LorafaError(op, detail);
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** "a [2, 3] (float32, cpu)" — how errors describe a tensor. */
export function describe(label: string, t: { shape: readonly number[]; dtype: string; device: string }): string {
  return `${label} ${fmtShape(t.shape)} (${t.dtype}, ${t.device})`;
}

/** What a value that should have been something else is, for error messages: "an array", "null", "the string 'x'". */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object') {
    const name = (v as object).constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : `an object with keys [${Object.keys(v).slice(0, 8).join(', ')}]`;
  }
  return `the ${typeof v} ${String(v)}`;
}
