/**
 * `lorafa verify` (npm run verify): checks every claim of the paper's mathematics
 * (shared/paper/MATH.md) with fast-check property tests and prints
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

interface Args {
  runs: number;
  seed: number;
  only: string;
}

function parse(args: string[]): Args | string {
  const out: Args = { runs: 200, seed: 1, only: '' };
  for (let i = 0; i < args.length; i++) {
    const [flag, value] = [args[i]!, args[i + 1]];
    if (flag === '--help' || flag === '-h') return 'help';
    if (value === undefined) return `${flag} needs a value`;
    i++;
    if (flag === '--runs') {
      out.runs = Number(value);
      if (!Number.isInteger(out.runs) || out.runs < 1) return `--runs ${value}: expected a positive integer`;
    } else if (flag === '--seed') {
      out.seed = value === 'random' ? (Math.random() * 2 ** 31) | 0 : Number(value);
      if (!Number.isInteger(out.seed)) return `--seed ${value}: expected an integer or 'random'`;
    } else if (flag === '--only') {
      out.only = value;
    } else {
      return `unknown option ${flag}`;
    }
  }
  return out;
}

const USAGE = 'usage: lorafa verify [--runs N] [--seed S|random] [--only TEXT]';

export async function run(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (args === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (typeof args === 'string') {
    console.error(`lorafa verify: ${args}\n${USAGE}`);
    return 2;
  }
  const claims = allClaims().filter((c) => c.id.includes(args.only));
  if (claims.length === 0) {
    console.error(`lorafa verify: no claim id contains '${args.only}'`);
    return 2;
  }
  console.log(`Checking ${claims.length} claims of shared/paper/MATH.md, ${args.runs} random cases each (fast-check seed ${args.seed}).\n`);
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
