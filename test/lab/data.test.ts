import { describe, expect, it } from 'vitest';
import { LorafaError } from '../../src/index.ts';
import { detokenizeBrown, genreFiles } from '../../src/data/brown.ts';
import { batchAt, BatchSampler, CharTokenizer, evalStarts, splitTrainVal } from '../../src/data/text.ts';
import { loadText } from '../../src/data/load-text.ts';

describe('Brown corpus text', () => {
  it('drops tags, re-attaches punctuation and turns `` and \'\' into double quotes', () => {
    const tagged = '\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn \'\'/\'\' ,/, and/cc ;/. ;/. (/( so/rb )/) on/in ./.\n\n\n\tNext/ap paragraph/nn ./.\n';
    expect(detokenizeBrown(tagged)).toBe('The jury said "no evidence", and; (so) on.\nNext paragraph.');
    expect(genreFiles(['cb01', 'ca02', 'ca01', 'cats.txt', 'ca10'], 'a', 2)).toEqual(['ca01', 'ca02']);
  });

  it('bundles two genres with one shared character set', () => {
    const pre = loadText('pretrain'), fine = loadText('finetune');
    expect(pre.length).toBeGreaterThan(200_000);
    expect(fine.length).toBeGreaterThan(100_000);
    expect(pre.startsWith('The Fulton County Grand Jury')).toBe(true); // press reportage (A01)
    expect(fine.startsWith('They neither liked nor disliked the Old Man.')).toBe(true); // romance (P01)
    expect(/^[\x20-\x7e\n]*$/.test(pre + fine)).toBe(true);
  });
});

describe('CharTokenizer', () => {
  it('encodes and decodes round trip over its sorted vocabulary', () => {
    const t = CharTokenizer.fromTexts('hello', 'world\n');
    expect(t.chars).toBe('\ndehlorw');
    expect(Array.from(t.encode('lower'))).toEqual([4, 5, 7, 2, 6]);
    expect(t.decode(t.encode('hello world'.replace(' ', '\n')))).toBe('hello\nworld');
  });

  it('rejects unknown and duplicated characters', () => {
    const t = new CharTokenizer('ab');
    expect(() => t.encode('abc')).toThrow(LorafaError);
    expect(() => t.encode('abc')).toThrow(/CharTokenizer: character "c" at position 2 is not in the vocabulary of 2/);
    expect(() => new CharTokenizer('aba')).toThrow(/character "a" appears twice/);
  });
});

describe('batches', () => {
  const ids = Int32Array.from({ length: 50 }, (_, i) => i);

  it('splits without overlap and shifts targets by one', () => {
    const { train, val } = splitTrainVal(ids, 0.2);
    expect([train.length, val.length, val[0]]).toEqual([40, 10, 40]);
    const b = batchAt(ids, [0, 10], 4);
    expect(b.x.toArraySync()).toEqual([[0, 1, 2, 3], [10, 11, 12, 13]]);
    expect(b.y.toArraySync()).toEqual([[1, 2, 3, 4], [11, 12, 13, 14]]);
    expect(() => batchAt(ids, [47], 4)).toThrow(/batchAt: window start 47 does not fit 50 tokens with seq 4/);
    expect(() => splitTrainVal(ids, 1)).toThrow(/splitTrainVal: valFraction = 1/);
  });

  it('samples the same windows for the same seed, and other windows for another', () => {
    const a = new BatchSampler(ids, 3, 5, 7), b = new BatchSampler(ids, 3, 5, 7), c = new BatchSampler(ids, 3, 5, 8);
    const wa = [a.nextStarts(), a.nextStarts()];
    expect([b.nextStarts(), b.nextStarts()]).toEqual(wa);
    expect(c.nextStarts()).not.toEqual(wa[0]);
    expect(wa.flat().every((s) => s >= 0 && s + 6 <= 50)).toBe(true);
    expect(() => new BatchSampler(ids, 1, 50, 1)).toThrow(/BatchSampler: 50 tokens cannot fill a window of 50 \+ 1/);
  });

  it('spreads evaluation windows evenly from the first to the last', () => {
    expect(evalStarts(ids, 9, 5)).toEqual([0, 10, 20, 30, 40]);
    expect(() => evalStarts(ids, 50, 2)).toThrow(/evalStarts/);
  });
});
