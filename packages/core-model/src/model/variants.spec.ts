// Variant names resolve to the table's sizes; unknown names and patches fail with one line.
import { vitVariant } from './variants';

describe('vitVariant', () => {
  it('parses size/patch and defaults the patch', () => {
    expect(vitVariant('B/16')).toEqual({ width: 768, depth: 12, heads: 12, mlp: 3072, patch: 16 });
    expect(vitVariant('Ti/4')).toEqual({ width: 192, depth: 12, heads: 3, mlp: 768, patch: 4 });
    expect(vitVariant('S')).toMatchObject({ width: 384, patch: 16 });
    expect(vitVariant('mu')).toEqual({ width: 16, depth: 1, heads: 2, mlp: 32, patch: 8 });
    expect(vitVariant('mu/4').patch).toBe(4);
  });
  it('rejects unknown sizes and patches', () => {
    expect(() => vitVariant('L/16')).toThrow(/^unknown ViT variant 'L\/16'/);
    expect(() => vitVariant('B/5')).toThrow(/unknown ViT variant 'B\/5'/);
  });
});
