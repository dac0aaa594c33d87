import { buildVocabulary, decodeCaption, encodeCaption, END, UNK } from './vocabulary';

describe('caption vocabulary', () => {
  const v = buildVocabulary(['a red square', 'a blue circle', 'a red circle'], 2);

  it('orders words by frequency, ties alphabetically, and drops rare words', () => {
    expect(v.words).toEqual(['a', 'circle', 'red']);
  });

  it('encodes with END and padding, mapping rare words to UNK, and decodes back', () => {
    const ids = encodeCaption(v, 'a blue circle', 6);
    expect(Array.from(ids)).toEqual([3, UNK, 4, END, 0, 0]);
    expect(decodeCaption(v, ids)).toBe('a <unk> circle');
  });

  it('cuts long captions so that END always fits', () => {
    expect(Array.from(encodeCaption(v, 'a red a red a', 3))).toEqual([3, 5, END]);
  });
});
