import { colorfulness } from './colorfulness';

describe('colorfulness (Hasler & Süsstrunk M3, signed opponent channels)', () => {
  it('is 0 for any grey image', () => {
    const data = new Uint8Array([10, 10, 10, 200, 200, 200, 0, 0, 0, 255, 255, 255]);
    expect(colorfulness({ width: 2, height: 2, channels: 3, data })).toBe(0);
  });

  it('is 0.3·μ for a flat colour (no spread)', () => {
    // Pure red: rg = 255, yb = 127.5 → μ = sqrt(255² + 127.5²), σ = 0.
    const data = new Uint8Array([255, 0, 0, 255, 0, 0, 255, 0, 0]);
    expect(colorfulness({ width: 3, height: 1, channels: 3, data })).toBeCloseTo(0.3 * Math.hypot(255, 127.5), 12);
  });

  it('uses signed channels and population std (red + green halves)', () => {
    // Red pixel: rg = 255, yb = 127.5; green pixel: rg = −255, yb = 127.5.
    // mean rg = 0, mean yb = 127.5; std rg = 255 (population), std yb = 0 → M = 255 + 0.3·127.5.
    const data = new Uint8Array([255, 0, 0, 0, 255, 0]);
    expect(colorfulness({ width: 2, height: 1, channels: 3, data })).toBeCloseTo(255 + 0.3 * 127.5, 12);
  });

  it('ignores the alpha channel of RGBA data', () => {
    const rgb = new Uint8Array([255, 0, 0, 0, 255, 0]);
    const rgba = new Uint8Array([255, 0, 0, 7, 0, 255, 0, 99]);
    expect(colorfulness({ width: 2, height: 1, channels: 4, data: rgba })).toBe(
      colorfulness({ width: 2, height: 1, channels: 3, data: rgb }),
    );
  });

  it('rejects data of the wrong length', () => {
    expect(() => colorfulness({ width: 2, height: 2, channels: 3, data: new Uint8Array(6) })).toThrow(/expected 4×3/);
  });
});
