/**
 * `lorafa verify` (npm run verify): checks every claim of the paper's mathematics
 * (docs/math.md) with fast-check property tests and prints
 *   claim | cases | max error | tolerance | holds
 * with the shrunk counterexample of any claim that fails; exits 1 if one does.
 *   --runs N   cases per claim (default 200; CI's test suite uses 25)
 *   --seed S   fast-check seed (default 1; 'random' picks one and prints it)
 *   --only T   run only the claims whose id contains T (and skip the memory audit's report)
 *   --inject-fault KIND:SIZE   self-test of the checks: the harness perturbs what it reads
 *              (src/verify/fault.ts); every claim that detects that fault must then fail (exit 1)
 * Then it prints the audit of the paper's Table 7 and the Appendix C figure (claims 17 and 18).
 */
import { allClaims } from '../verify/claims.ts';
import { appendixCReport, table7Report } from '../verify/memory-audit.ts';
import { claimTable, counterexamples, statements } from '../verify/report.ts';
import { runClaim, type ClaimResult } from '../verify/run.ts';
import { FAULT_KINDS, formatFault, parseFault, type Fault } from '../verify/fault.ts';
import { LorafaError } from '../errors.ts';
import { runCommand, UsageError, type Values } from './options.ts';

export const VERIFY = {
  name: 'verify',
  summary: "Checks every claim of the paper's mathematics (docs/math.md) as a fast-check property; exits 1 if one fails.",
  options: {
    runs: { kind: 'int', default: 200, min: 1, meta: 'N', help: 'random cases per claim (CI\'s test suite uses 25)' },
    seed: { kind: 'seed', default: 1, help: 'fast-check seed' },
    only: { kind: 'string', default: '', meta: 'TEXT', help: 'run only the claims whose id contains TEXT (and skip the memory audit\'s report)' },
    'inject-fault': {
      kind: 'string', default: '', meta: 'KIND:SIZE',
      help: `self-test of the checks (docs/verification.md): inject a fault, KIND one of ${FAULT_KINDS.join(', ')} (e.g. grad:1e-10); the claims that detect it must fail`,
    },
  },
} as const;

export function run(args: string[]): Promise<number> {
  return runCommand(VERIFY, args, verify);
}

function faultOption(text: string): Fault | undefined {
  if (!text) return undefined;
  try {
    return parseFault('verify', text);
  } catch (e) {
    if (e instanceof LorafaError) throw new UsageError(`--inject-fault ${text}: ${e.message.replace(/^verify: /, '')}`);
    throw e;
  }
}

async function verify(args: Values<typeof VERIFY.options>): Promise<number> {
  const fault = faultOption(args['inject-fault']);
  const claims = allClaims().filter((c) => c.id.includes(args.only));
  if (claims.length === 0) throw new UsageError(`--only ${args.only}: no claim id contains it`);
  console.log(`Checking ${claims.length} claims of docs/math.md, ${args.runs} random cases each (fast-check seed ${args.seed}).\n`);
  if (fault) {
    console.log(`Self-test: injecting the fault ${formatFault(fault)}; each claim that detects a ${fault.kind} fault of this size must fail (docs/verification.md).\n`);
  }
  const results: ClaimResult[] = [];
  const started = performance.now();
  for (const claim of claims) results.push(runClaim(claim, { numRuns: args.runs, seed: args.seed, fault }));
  console.log(claimTable(results));
  console.log(`\nWhat each claim states (error units: rel = relative error, z = standard errors, bytes = |measured − expected|):`);
  console.log(statements(results));
  const failures = counterexamples(results);
  if (failures) console.log(`\n${failures}`);
  if (!args.only) console.log(`\n${table7Report()}\n\n${appendixCReport()}`);
  const failed = results.filter((r) => !r.holds).length;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`\n${results.length - failed} of ${results.length} claims hold (${seconds} s).`);
  if (fault) console.log(faultSummary(fault, claims, results));
  return failed ? 1 : 0;
}

/** Which claims should have caught the fault (those that detect its kind at this size or smaller) and which did. */
function faultSummary(fault: Fault, claims: ReturnType<typeof allClaims>, results: ClaimResult[]): string {
  const expected = claims.flatMap((c, i) => {
    const least = c.detects?.[fault.kind];
    return least !== undefined && Math.abs(fault.size) >= least ? [results[i]!] : [];
  });
  const missed = expected.filter((r) => r.holds).map((r) => r.claim.id);
  return `Self-test ${formatFault(fault)}: ${expected.length - missed.length} of the ${expected.length} claims that detect it failed` +
    (missed.length ? `; MISSED by ${missed.join(', ')}` : '') + '.';
}
