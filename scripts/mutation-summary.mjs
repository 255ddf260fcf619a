#!/usr/bin/env node
/**
 * Summarises a StrykerJS JSON report (`npm run mutate` writes reports/mutation/mutation.json) as
 * the markdown docs/verification.md shows: per folder, the mutants killed (a test failed or timed
 * out), survived, not covered by any test, and not run (static, ignored, compile errors); the score
 * killed / (killed + survived + not covered); then every survivor and uncovered mutant with its
 * line, the mutator and the replacement.
 *
 *   node scripts/mutation-summary.mjs [reports/mutation/mutation.json | an incremental file | an events folder ...]
 *
 * Several reports (e.g. one per folder) are merged, a later report's file replacing an earlier one's.
 * An events folder (--reporters event-recorder, stryker.config.mjs) gives the mutants tested so
 * far by a run that may not have finished.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** { file: { source, mutants } } from the onMutantTested events of a folder. */
function fromEvents(dir) {
  const out = {};
  for (const name of readdirSync(dir).filter((n) => n.endsWith('-onMutantTested.json')).sort()) {
    const m = JSON.parse(readFileSync(join(dir, name), 'utf8'));
    const file = relative(process.cwd(), m.fileName);
    (out[file] ??= { source: readFileSync(file, 'utf8'), mutants: [] }).mutants.push(m);
  }
  return out;
}

const paths = process.argv.slice(2);
const files = {};
for (const p of paths.length ? paths : ['reports/mutation/mutation.json']) {
  Object.assign(files, statSync(p).isDirectory() ? fromEvents(p) : JSON.parse(readFileSync(p, 'utf8')).files);
}

const KILLED = new Set(['Killed', 'Timeout']);
const LIVE = new Set(['Survived', 'NoCoverage']);
/** src/lora/x.ts → src/lora; the autograd core's three files are one group. */
const folderOf = (f) => f.slice(0, f.lastIndexOf('/'));

const byFolder = new Map();
const live = [];
for (const [file, { source, mutants }] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
  const row = byFolder.get(folderOf(file)) ?? { files: 0, killed: 0, survived: 0, noCoverage: 0, notRun: 0 };
  row.files++;
  const lines = source.split('\n');
  for (const m of mutants) {
    if (KILLED.has(m.status)) row.killed++;
    else if (m.status === 'Survived') row.survived++;
    else if (m.status === 'NoCoverage') row.noCoverage++;
    else row.notRun++;
    if (LIVE.has(m.status)) {
      const { line, column } = m.location.start;
      live.push({ at: `${file}:${line}:${column}`, status: m.status, mutator: m.mutatorName, replacement: m.replacement ?? '', code: lines[line - 1].trim() });
    }
  }
  byFolder.set(folderOf(file), row);
}

const pct = (k, n) => (n ? `${((100 * k) / n).toFixed(1)}%` : '-');
console.log('| folder | files | killed | survived | no coverage | not run (static, ignored, errors) | score |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
const total = { files: 0, killed: 0, survived: 0, noCoverage: 0, notRun: 0 };
for (const [folder, r] of byFolder) {
  for (const k of Object.keys(total)) total[k] += r[k];
  console.log(`| ${folder} | ${r.files} | ${r.killed} | ${r.survived} | ${r.noCoverage} | ${r.notRun} | ${pct(r.killed, r.killed + r.survived + r.noCoverage)} |`);
}
console.log(`| all | ${total.files} | ${total.killed} | ${total.survived} | ${total.noCoverage} | ${total.notRun} | ${pct(total.killed, total.killed + total.survived + total.noCoverage)} |`);
console.log('\n| where | status | mutator | replacement | line |');
console.log('| --- | --- | --- | --- | --- |');
const cell = (s) => '`' + s.replace(/\s+/g, ' ').slice(0, 90).replaceAll('|', '\\|').replaceAll('`', "'") + '`';
for (const m of live) console.log(`| ${m.at} | ${m.status} | ${m.mutator} | ${cell(m.replacement)} | ${cell(m.code)} |`);
