/**
 * `lorafa verify` (npm run verify): checks every claim of the paper's mathematics
 * (docs/math.md) with fast-check property tests and prints
 *   claim | cases | max error | tolerance | holds
 * with the shrunk counterexample of any claim that fails; exits 1 if one does.
 *   --runs N   cases per claim (default 200; CI's test suite uses 25)
 *   --seed S   fast-check seed (default 1; 'random' picks one and prints it)
 *   --only T   run only the claims whose id contains T (and skip the memory audit)
 * Then it audits the paper's Table 7 and reproduces the Appendix C figure (src/memory/model.ts).
 */
import { allClaims } from '../verify/claims.ts';
import { appendixCReport, table7Report } from '../verify/memory-audit.ts';
import { claimTable, counterexamples, statements } from '../verify/report.ts';
import { runClaim, type ClaimResult } from '../verify/run.ts';
import { runCommand, UsageError, type Values } from './options.ts';

export const VERIFY = {
  name: 'verify',
  summary: "Checks every claim of the paper's mathematics (docs/math.md) as a fast-check property; exits 1 if one fails.",
  options: {
    runs: { kind: 'int', default: 200, min: 1, meta: 'N', help: 'random cases per claim (CI\'s test suite uses 25)' },
    seed: { kind: 'seed', default: 1, help: 'fast-check seed' },
    only: { kind: 'string', default: '', meta: 'TEXT', help: 'run only the claims whose id contains TEXT (and skip the memory audit)' },
  },
} as const;

export function run(args: string[]): Promise<number> {
  return runCommand(VERIFY, args, verify);
}

async function verify(args: Values<typeof VERIFY.options>): Promise<number> {
  const claims = allClaims().filter((c) => c.id.includes(args.only));
  if (claims.length === 0) throw new UsageError(`--only ${args.only}: no claim id contains it`);
  console.log(`Checking ${claims.length} claims of docs/math.md, ${args.runs} random cases each (fast-check seed ${args.seed}).\n`);
  const results: ClaimResult[] = [];
  const started = performance.now();
  for (const claim of claims) results.push(runClaim(claim, { numRuns: args.runs, seed: args.seed }));
  console.log(claimTable(results));
  console.log(`\nWhat each claim states (error units: rel = relative error, z = standard errors, bytes = |measured − expected|):`);
  console.log(statements(results));
  const failures = counterexamples(results);
  if (failures) console.log(`\n${failures}`);
  if (!args.only) console.log(`\n${table7Report()}\n\n${appendixCReport()}`);
  const failed = results.filter((r) => !r.holds).length;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`\n${results.length - failed} of ${results.length} claims hold (${seconds} s).`);
  return failed ? 1 : 0;
}
