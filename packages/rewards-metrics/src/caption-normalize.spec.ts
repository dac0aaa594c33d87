import { generateCaptionCorpus } from './bench/caption';
import { normalizeCaption, ptbTokens } from './caption-normalize';

// Expected tokens follow Stanford PTBTokenizer's documented behaviour (PTB3 escaping, tokens lower-cased after
// lexing) and pycocoevalcap's PUNCTUATIONS filter.
describe('normalizeCaption (PTB tokenizer -lowerCase + pycocoevalcap punctuation removal)', () => {
  it('lowercases, splits off and removes sentence punctuation', () => {
    expect(normalizeCaption('A man riding a horse.')).toBe('a man riding a horse');
    expect(normalizeCaption('Wow! Is it a dog? Yes; a dog: brown, small...')).toBe(
      'wow is it a dog yes a dog brown small',
    );
    expect(normalizeCaption('  A   table\twith\nfood -- and  - drinks ')).toBe('a table with food and drinks');
  });

  it('splits clitics the PTB way', () => {
    expect(ptbTokens("The dog's bone isn't there")).toEqual(['the', 'dog', "'s", 'bone', 'is', "n't", 'there']);
    expect(normalizeCaption("They're sure we'll go, I'm told they've won and he'd can't")).toBe(
      "they 're sure we 'll go i 'm told they 've won and he 'd ca n't",
    );
    expect(normalizeCaption('I cannot go, gonna stay')).toBe('i can not go gon na stay');
  });

  it('removes quotes but keeps possessive plurals as the bare word', () => {
    expect(normalizeCaption('A "happy" dog with \'toys\'')).toBe('a happy dog with toys');
    expect(normalizeCaption("The kids' toys")).toBe('the kids toys');
    expect(normalizeCaption('Dogs’ “toys”')).toBe('dogs toys');
  });

  it('keeps brackets as -lrb- / -rrb- (lower-cased after lexing, so the upper-case filter misses them)', () => {
    expect(normalizeCaption('Two (2) dogs [big]')).toBe('two -lrb- 2 -rrb- dogs -lsb- big -rsb-');
  });

  it('keeps numbers, times, hyphenated words, acronyms and mid-sentence abbreviations whole', () => {
    expect(normalizeCaption('At 3:30, 1,000 birds flew over 2.5 km.')).toBe('at 3:30 1,000 birds flew over 2.5 km');
    expect(normalizeCaption('A $5 hot dog, 50% off at #1 stand')).toBe('a $ 5 hot dog 50 % off at # 1 stand');
    expect(normalizeCaption("It's 5 o'clock, AT&T")).toBe("it 's 5 o'clock at&t");
    expect(normalizeCaption('A black-and-white photo of Mr. Smith in the U.S.')).toBe(
      'a black-and-white photo of mr. smith in the u.s.',
    );
    expect(normalizeCaption('A sign for St. Louis near the st.')).toBe('a sign for st. louis near the st');
  });

  it("gives the lexer's result on the plain-caption fast path too", () => {
    // Plain captions (letters, digits, hyphens, spaces, a final full stop) skip the lexer; these must still match it.
    expect(normalizeCaption('I cannot go gonna stay')).toBe('i can not go gon na stay');
    expect(normalizeCaption('A - dog -x y- z--w.')).toBe('a dog -x y- z w');
    expect(normalizeCaption('  Two  dogs .  ')).toBe('two dogs');
    expect(normalizeCaption('- a dog -')).toBe('a dog');
    expect(normalizeCaption('a cannot.')).toBe('a can not');
    expect(normalizeCaption('cannoted gonnas wanna')).toBe('cannoted gonnas wan na');
    expect(normalizeCaption('Two dogs on a bench.')).toBe('two dogs on a bench');
    // The fast path agrees with the lexer's tokens on every caption of the bench corpus.
    const corpus = generateCaptionCorpus(300, 5);
    const viaLexer = (c: string): string =>
      ptbTokens(c)
        .filter((t) => t !== '.' && t !== '-')
        .join(' ');
    const bad = [...corpus.cands, ...corpus.refs.flat()].filter((c) => normalizeCaption(c) !== viaLexer(c));
    expect(bad).toEqual([]);
  });

  it('gives an empty string for empty or punctuation-only captions', () => {
    expect(normalizeCaption('')).toBe('');
    expect(normalizeCaption(' . , ! ')).toBe('');
  });
});
