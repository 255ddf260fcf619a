/**
 * The one option parser of the `lorafa` commands, on node:util parseArgs. A command declares its
 * options as a table — kind, default, range or choices, one line of help — and gets back typed,
 * validated values; `--help` is generated from the same table, defaults included. Mistakes are
 * usage errors: one line naming the option and what it accepts, then the usage, exit code 2.
 */
import { parseArgs } from 'node:util';
import { LorafaError } from '../errors.ts';

interface Common {
  help: string;
  /** How the value is shown in the usage line (default: the option name in capitals). */
  meta?: string;
}

export type OptionSpec = Common & (
  | { kind: 'int'; default?: number; min?: number; max?: number }
  | { kind: 'number'; default?: number; min?: number; max?: number; /** the minimum itself is refused */ exclusiveMin?: boolean }
  /** A non-negative integer, or 'random' for one drawn now (and printed by the command). */
  | { kind: 'seed'; default: number }
  | { kind: 'string'; default?: string; choices?: readonly string[] }
  /** Comma-separated names, each one of `choices` when given. */
  | { kind: 'list'; default?: readonly string[]; choices?: readonly string[] }
  | { kind: 'flag' }
);

export type OptionTable = Readonly<Record<string, OptionSpec>>;

type ValueOf<S extends OptionSpec> = S['kind'] extends 'int' | 'number' | 'seed' ? number
  : S['kind'] extends 'list' ? string[] : S['kind'] extends 'flag' ? boolean : string;

/** The parsed values: options with a default (and flags) are always present. */
export type Values<T extends OptionTable> = {
  -readonly [K in keyof T]: T[K] extends { kind: 'flag' } | { default: unknown } ? ValueOf<T[K]> : ValueOf<T[K]> | undefined;
};

/** A mistake in the command line: printed as one line with exit code 2, no stack trace. */
export class UsageError extends Error {}

export interface Command<T extends OptionTable> {
  /** `lorafa <name>`. */
  name: string;
  summary: string;
  options: T;
  /** Lines after the option list (notes, examples). */
  notes?: string;
}

/** The usage text: the command line, then each option with its help and default. */
export function usage(cmd: Command<OptionTable>): string {
  const rows = Object.entries(cmd.options).map(([name, spec]) => {
    const left = spec.kind === 'flag' ? `--${name}` : `--${name} ${spec.meta ?? name.toUpperCase().replace(/-/g, '_')}`;
    return [left, `${spec.help}${describeDefault(spec)}`] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length), '--help'.length);
  const lines = [...rows, ['--help', 'print this help'] as const].map(([l, r]) => `  ${l.padEnd(width)}  ${r}`);
  return `usage: lorafa ${cmd.name} [options]\n${cmd.summary}\n\n${lines.join('\n')}${cmd.notes ? `\n\n${cmd.notes}` : ''}`;
}

function describeDefault(spec: OptionSpec): string {
  const parts: string[] = [];
  if ('choices' in spec && spec.choices) parts.push(`${spec.kind === 'list' ? 'some' : 'one'} of ${spec.choices.join(', ')}`);
  if (spec.kind === 'seed') parts.push("an integer ≥ 0 or 'random'");
  const shown = 'default' in spec && spec.default !== undefined ? String(Array.isArray(spec.default) ? spec.default.join(',') : spec.default) : '';
  if (shown) parts.push(`default ${shown}`);
  return parts.length ? ` (${parts.join('; ')})` : '';
}

/** Parses and validates args against the table; 'help' when --help is given. */
export function parseOptions<T extends OptionTable>(cmd: Command<T>, args: readonly string[]): Values<T> | 'help' {
  const config: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const [name, spec] of Object.entries(cmd.options)) config[name] = { type: spec.kind === 'flag' ? 'boolean' : 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...args], options: config, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\s*\n\s*/g, ' ')); // parseArgs's messages can span lines
  }
  if (values.help) return 'help';
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(cmd.options)) out[name] = convert(name, spec, values[name]);
  return out as Values<T>;
}

function convert(name: string, spec: OptionSpec, raw: string | boolean | undefined): unknown {
  if (spec.kind === 'flag') return raw === true;
  if (raw === undefined) return spec.default === undefined ? undefined : Array.isArray(spec.default) ? [...spec.default] : spec.default;
  const text = raw as string;
  switch (spec.kind) {
    case 'int':
    case 'number':
      return numberValue(name, text, spec);
    case 'seed':
      return text === 'random' ? Math.floor(Math.random() * 2 ** 31) : numberValue(name, text, { kind: 'int', min: 0, max: 2 ** 32 - 1 });
    case 'string':
      if (spec.choices && !spec.choices.includes(text)) throw new UsageError(`--${name} ${text}: expected one of ${spec.choices.join(', ')}`);
      return text;
    case 'list': {
      const items = text.split(',').map((s) => s.trim()).filter(Boolean);
      if (items.length === 0) throw new UsageError(`--${name} is empty; expected comma-separated names`);
      const unknown = spec.choices ? items.filter((i) => !spec.choices!.includes(i)) : [];
      if (unknown.length) throw new UsageError(`--${name}: unknown ${unknown.join(', ')}; expected some of ${spec.choices!.join(', ')}`);
      return items;
    }
  }
}

/** A number option in range: an integer for 'int'; min inclusive unless exclusiveMin. */
function numberValue(name: string, text: string, spec: { kind: 'int' | 'number'; min?: number; max?: number; exclusiveMin?: boolean }): number {
  const x = text.trim() === '' ? NaN : Number(text);
  const integer = spec.kind === 'int';
  const { min, max, exclusiveMin = false } = spec;
  const tooLow = min !== undefined && (exclusiveMin ? !(x > min) : !(x >= min));
  if (!Number.isFinite(x) || (integer && !Number.isInteger(x)) || tooLow || (max !== undefined && !(x <= max))) {
    const range = [min !== undefined ? `${exclusiveMin ? '>' : '≥'} ${min}` : '', max !== undefined ? `≤ ${max}` : ''].filter(Boolean).join(' and ');
    throw new UsageError(`--${name} ${text}: expected ${integer ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}`);
  }
  return x;
}

/**
 * Runs a command: parses its options, prints the help, and turns usage mistakes into their message
 * and the usage with exit code 2, and an engine error (LorafaError: a bad checkpoint, a refused
 * factor, ...) into its one-line message with exit code 1 — no stack trace for either. Anything
 * else is a bug and propagates.
 */
export async function runCommand<T extends OptionTable>(cmd: Command<T>, args: readonly string[], main: (values: Values<T>) => Promise<number>): Promise<number> {
  try {
    const values = parseOptions(cmd, args);
    if (values === 'help') {
      console.log(usage(cmd));
      return 0;
    }
    return await main(values);
  } catch (e) {
    if (e instanceof LorafaError) {
      console.error(`lorafa ${cmd.name}: ${e.message}`);
      return 1;
    }
    if (!(e instanceof UsageError)) throw e;
    console.error(`lorafa ${cmd.name}: ${e.message}\n${usage(cmd)}`);
    return 2;
  }
}
