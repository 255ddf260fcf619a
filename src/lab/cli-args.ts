/** Argument helpers shared by the lab, pretrain and calc commands. */
import { LorafaError } from '../errors.ts';

/** A mistake in the command line: printed as one line with exit code 2, no stack trace. */
export class UsageError extends Error {}

/**
 * Runs a command, turning usage mistakes (ours and node:util parseArgs's) into a message and
 * exit code 2, and an engine error (LorafaError: a bad checkpoint, a refused factor, ...) into
 * its one-line message and exit code 1 — no stack trace for either. Anything else is a bug and
 * propagates.
 */
export async function withUsage(command: string, usage: string, main: () => Promise<number>): Promise<number> {
  try {
    return await main();
  } catch (e) {
    if (e instanceof LorafaError) {
      console.error(`lorafa ${command}: ${e.message}`);
      return 1;
    }
    const parseError = e instanceof TypeError && String((e as { code?: string }).code).startsWith('ERR_PARSE_ARGS');
    if (!(e instanceof UsageError) && !parseError) throw e;
    console.error(`lorafa ${command}: ${(e as Error).message}\n${usage}`);
    return 2;
  }
}

/** The option's value as a number that is positive (or ≥ 0 with allowZero), and an integer when asked. */
export function numberOption(name: string, value: string | undefined, { integer = false, allowZero = false } = {}): number {
  const x = Number(value);
  if (value === undefined || !Number.isFinite(x) || x < 0 || (!allowZero && x === 0) || (integer && !Number.isInteger(x))) {
    throw new UsageError(`--${name} = ${String(value)}; expected a ${allowZero ? 'non-negative' : 'positive'} ${integer ? 'integer' : 'number'}`);
  }
  return x;
}

/** Bytes with a binary unit: 512 B, 3.0 KiB, 2.45 MiB, 12.63 GiB. */
export function fmtBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0, x = bytes;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return i === 0 ? `${x} B` : `${x.toFixed(2)} ${units[i]}`;
}
