import input from './__fixtures__/caption/input.json';
import { generateCaptionCorpus } from './bench/caption';
import { bleu } from './bleu';
import { corpusCiderDAndBleu, normalizedWords } from './caption-corpus';
import { normalizeCaption } from './caption-normalize';
import { ciderD } from './cider';

/** The fused pass must give the very doubles of ciderD and bleu run apart (Object.is: bit for bit, −0 included). */
function expectSame(cands: readonly string[], refs: ReadonlyArray<readonly string[]>, sigma?: number): void {
  const both = corpusCiderDAndBleu(cands, refs, sigma);
  const c = ciderD(cands, refs, sigma === undefined ? {} : { sigma });
  const b = bleu(cands, refs);
  const bits = (xs: ArrayLike<number>): string[] => Array.from(xs, (x) => (Object.is(x, -0) ? '-0' : x.toString()));
  expect(bits([both.ciderD.score])).toEqual(bits([c.score]));
  expect(bits(both.ciderD.perImage)).toEqual(bits(c.perImage));
  expect(bits(both.bleu.corpus)).toEqual(bits(b.corpus));
  for (let k = 0; k < 4; k++) expect(bits(both.bleu.perImage[k])).toEqual(bits(b.perImage[k]));
}

describe('corpusCiderDAndBleu (the cider command: CIDEr-D and BLEU in one pass)', () => {
  it('equals ciderD and bleu bit for bit on the golden input (empty, unseen, repeated and overlong captions)', () => {
    expectSame(input.cands, input.refs);
  });

  it('equals them on a generated 400-image corpus, and with another sigma', () => {
    const corpus = generateCaptionCorpus(400, 3);
    const refs = corpus.refs.map((r) => r.map(normalizeCaption));
    const cands = corpus.cands.map(normalizeCaption);
    expectSame(cands, refs);
    expectSame(cands, refs, 2.5);
  });

  it('splits words where /\\s+/ does (tabs, newlines, no-break and ideographic spaces, BOM) and nowhere else', () => {
    const refs = [
      ['a\tman  riding\na horse ', '\u00a0a man\u3000on a horse', 'a\u1680man\u2028riding'],
      ['two\ufeffdogs in\u2009the park', 'two dogs\u200bplaying', 'dogs in the park\r\n'],
      ['a cat', 'a small cat sleeping', 'a cat on a mat'],
    ];
    // \u200b (zero-width space) is no whitespace for JavaScript: "dogs\u200bplaying" is one word.
    const cands = [' a man riding a horse', 'two dogs\u200bplaying in the park', 'a cat a cat a cat on a mat\t'];
    expectSame(cands, refs);
    // The split itself: one image whose candidate repeats a reference with other spacing scores as the same words.
    const same = corpusCiderDAndBleu(['a\u00a0b\tc'], [['a b c']]);
    expect(same.bleu.corpus[2]).toBeCloseTo(1, 8);
  });

  it('scores candidate n-grams no reference holds with weight refLen, and different images with K from 1 to 7', () => {
    const refs = [
      ['a b c d', 'a b c', 'x y'],
      ['a'],
      ['p q r s t', 'p q', 'q r s', 'r s t u', 'p', 'p q r', 's t u v'],
      ['b c d e', 'a b'],
    ];
    const cands = ['zz zz a b zz', '', 'p q r s t u v w', 'unseen words only here unseen'];
    expectSame(cands, refs);
  });

  it('equals them when the word and n-gram tables must grow (a large vocabulary, captions over 64 words)', () => {
    // A small generator of its own (xorshift): over 16,384 distinct words and ~230,000 n-grams, more than the
    // word, character and n-gram tables start with.
    let x = 0x2545f491;
    const next = (m: number): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % m;
    };
    const caption = (words: number): string => Array.from({ length: words }, () => `w${next(40000)}`).join(' ');
    const refs = Array.from({ length: 1000 }, (_, i) =>
      Array.from({ length: 1 + (i % 5) }, (_, k) => caption(i === 7 && k === 0 ? 150 : 10 + next(20))),
    );
    const cands = refs.map((_, i) => caption(i === 11 ? 90 : 3 + next(25)));
    expectSame(cands, refs);
  });

  it('scores raw captions (normalize = true) bit for bit as their normalizeCaption forms', () => {
    const corpus = generateCaptionCorpus(300, 5);
    // Upper case, final full stops, commas, clitics, brackets (which lengthen a caption) and non-ASCII text.
    const raw = corpus.refs.map((rs, i) =>
      rs.map((r, k) => [r, `${r.toUpperCase()}.`, `${r}, (${i}) isn't it`, `“${r}” ((((((`, `${r} caféK`][k % 5]),
    );
    const cands = corpus.cands.map((c, i) => (i % 3 === 0 ? `${c.replace(/ /g, '  ')} .` : c));
    const both = corpusCiderDAndBleu(cands, raw, 6, true);
    const apart = corpusCiderDAndBleu(
      cands.map(normalizeCaption),
      raw.map((rs) => rs.map(normalizeCaption)),
    );
    expect(Array.from(both.ciderD.perImage)).toEqual(Array.from(apart.ciderD.perImage));
    expect(both.ciderD.score).toBe(apart.ciderD.score);
    expect(both.bleu).toEqual(apart.bleu);
  });

  it('throws like ciderD on a length mismatch, no image, or an image without references', () => {
    expect(() => corpusCiderDAndBleu(['a'], [])).toThrow('1 candidates for 0 reference sets');
    expect(() => corpusCiderDAndBleu([], [])).toThrow('no images');
    expect(() => corpusCiderDAndBleu(['a', 'b'], [['a'], []])).toThrow('at least one reference');
    expect(() => ciderD(['a', 'b'], [['a'], []])).toThrow('at least one reference');
  });
});

describe('normalizedWords (the fused normalise-and-split pass of the cider command)', () => {
  const expected = (c: string): string[] => {
    const text = normalizeCaption(c);
    return text === '' ? [] : text.split(' ');
  };
  const expectAsNormalized = (captions: readonly string[]): void => {
    expect(normalizedWords(captions)).toEqual(captions.map(expected));
  };

  it('gives the words of normalizeCaption(…).split(" ") on plain captions and their edge cases', () => {
    expectAsNormalized([
      'A man riding a horse.',
      'a dog .',
      'a dog.   ',
      '  Two  DOGS   in-the park  ',
      '',
      ' ',
      '.',
      ' . ',
      '-',
      'a - b -- c',
      'x--y',
      '-a b- -',
      'I Cannot stay, GONNA go',
      'cannot',
      'gotta wanna gonnaa cannots',
      'Route 66 at 3-30',
    ]);
  });

  it('gives them on punctuation, quotes, clitics, brackets and non-ASCII text (the lexer path)', () => {
    expectAsNormalized([
      'a dog. a cat',
      'a dog..',
      'a dog. .',
      'Wow! Is it a dog? Yes; a dog: brown, small...',
      "The dog's bone isn't there, they're sure",
      'A "happy" dog with \'toys\' (2) [big] {x}',
      'Dogs’ “toys” …',
      'Mr. Smith at 3:30, 1,000 dogs in the U.S.',
      'a\tman\non a\u00a0horse',
      'café crème brûlée',
      'İstanbul \u212aelvin ÀÉÎ',
      '((((((((((',
      '$5 50% #1',
      'dog.\n',
    ]);
  });

  it('gives them when the lexer makes more words than the raw characters leave room for', () => {
    // 10 characters, 10 words each (`(` → `-lrb-`): more than the one word per two characters the split is sized for.
    expectAsNormalized(['((((((((((', '))))))))))', '[[[[[[[[[[', 'a (b) c']);
  });

  it('gives them on the golden fixtures and on a generated corpus, upper-cased and with full stops', () => {
    const fixtures = [...input.cands, ...input.refs.flat(), ...input.trainRefs.flat()];
    expectAsNormalized(fixtures);
    const corpus = generateCaptionCorpus(200, 9);
    const captions = [...corpus.cands, ...corpus.refs.flat()];
    expectAsNormalized(captions.map((c, i) => (i % 2 === 0 ? `${c.toUpperCase()}.` : `${c} , ${c}`)));
  });
});
