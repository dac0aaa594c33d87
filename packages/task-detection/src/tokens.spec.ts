import { classToken, coordToken, tokenToClass, tokenToConf, tokenToCoord, vocabSize } from './tokens';

describe('detection token language', () => {
  const paper = { bins: 1001, numClasses: 80 };

  it('reproduces the paper layout with 1001 levels and 80 classes', () => {
    expect(vocabSize(paper)).toBe(1084);
    expect(coordToken(paper, 0)).toBe(3);
    expect(coordToken(paper, 1)).toBe(1003);
    expect(coordToken(paper, 0.52)).toBe(523);
    expect(classToken(paper, 0)).toBe(1004);
    expect(classToken(paper, 70)).toBe(1074);
  });

  it('round-trips coordinates to the nearest level and clips out-of-range tokens like seq2box', () => {
    const v = { bins: 33, numClasses: 6 };
    expect(tokenToCoord(v, coordToken(v, 0.5))).toBe(0.5);
    expect(tokenToCoord(v, coordToken(v, 0.51))).toBe(0.5);
    expect(tokenToCoord(v, 0)).toBe(0);
    expect(tokenToCoord(v, 999)).toBe(1);
    expect(tokenToClass(v, 0)).toBe(0);
    expect(tokenToClass(v, vocabSize(v) + 5)).toBe(5);
    expect([0, 1, 2, 7].map(tokenToConf)).toEqual([0, 1, 2, 2]);
  });
});
