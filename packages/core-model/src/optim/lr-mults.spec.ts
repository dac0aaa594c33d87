import { planParams } from './lr-mults';

describe('planParams', () => {
  it('matches whole names, first rule wins, unmatched names get ×1 lr and the default kernel-only decay', () => {
    const plan = planParams(
      ['img/head/kernel', 'img/enc/kernel', 'img/enc/bias', 'txt/kernel', 'kernel_extra/bias'],
      [
        ['img/head/.*', 0],
        ['img/.*', 0.1],
        ['kernel', 5], // must not match any of these names: patterns are anchored at both ends
      ],
    );
    expect(Object.fromEntries(plan)).toEqual({
      'img/head/kernel': { lrMult: 0, wdMult: 0, frozen: true },
      'img/enc/kernel': { lrMult: 0.1, wdMult: 1, frozen: false },
      'img/enc/bias': { lrMult: 0.1, wdMult: 0, frozen: false },
      'txt/kernel': { lrMult: 1, wdMult: 1, frozen: false },
      'kernel_extra/bias': { lrMult: 1, wdMult: 0, frozen: false },
    });
  });

  it('rejects negative multipliers', () => {
    expect(() => planParams(['a'], [['a', -1]])).toThrow(/≥ 0/);
  });
});
