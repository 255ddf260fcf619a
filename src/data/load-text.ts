import { readFileSync } from 'node:fs';

/** The bundled texts (see data/README.md): Brown corpus press reportage and romance fiction (Node; a page fetches them). */
export function loadText(name: 'pretrain' | 'finetune'): string {
  return readFileSync(new URL(`../../data/${name}.txt`, import.meta.url), 'utf8');
}
