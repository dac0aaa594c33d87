// `rewards-metrics colorfulness` through run(): a hand-computed PNG, a JPEG, both output forms and bad input.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { InputError } from './io';
import { run } from './colorfulness';

function capture(fn: () => number): { code: number; out: string } {
  let out = '';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    return { code: fn(), out };
  } finally {
    spy.mockRestore();
  }
}

describe('rewards-metrics colorfulness', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rm-colorfulness-'));
  // 2×1 PNG: pure red (255,0,0) and pure blue (0,0,255).
  //   rg = R − G:        255, 0       → mean 127.5,  population variance 127.5²  = 16256.25
  //   yb = (R+G)/2 − B:  127.5, −255  → mean −63.75, population variance 191.25² = 36576.5625
  //   σ = sqrt(16256.25 + 36576.5625) = sqrt(52832.8125) ≈ 229.8539
  //   μ = sqrt(127.5² + 63.75²)       = sqrt(20320.3125) ≈ 142.5493
  //   M = σ + 0.3μ ≈ 272.6187
  const expected = Math.sqrt(52832.8125) + 0.3 * Math.sqrt(20320.3125);
  const pngFile = path.join(dir, 'red-blue.png');
  const png = new PNG({ width: 2, height: 1 });
  png.data.set([255, 0, 0, 255, 0, 0, 255, 255]);
  writeFileSync(pngFile, PNG.sync.write(png, { colorType: 2 }));

  it('--json prints {"colorfulness": x} for a PNG, matching the hand computation', () => {
    const { code, out } = capture(() => run([pngFile, '--json']));
    expect(code).toBe(0);
    expect(out.trim().split('\n')).toHaveLength(1);
    const got = JSON.parse(out) as { colorfulness: number };
    expect(Object.keys(got)).toEqual(['colorfulness']);
    expect(got.colorfulness).toBeCloseTo(expected, 10);
    expect(expected).toBeCloseTo(272.6187, 4);
  });

  it('prints a readable line without --json', () => {
    expect(capture(() => run([pngFile])).out).toBe(`${pngFile}: colorfulness ${expected.toFixed(4)}\n`);
  });

  it('reads JPEGs: flat grey is (almost) not colourful, flat red scores about 0.3·|(255, 127.5)|', () => {
    const w = 16,
      h = 16;
    const score = (rgb: [number, number, number], name: string): number => {
      const data = Buffer.alloc(w * h * 4, 255);
      for (let i = 0; i < w * h; i++) data.set(rgb, 4 * i);
      const file = path.join(dir, name);
      writeFileSync(file, jpeg.encode({ width: w, height: h, data }, 95).data);
      return (JSON.parse(capture(() => run(['--json', file])).out) as { colorfulness: number }).colorfulness;
    };
    expect(score([128, 128, 128], 'grey.jpg')).toBeLessThan(1);
    // Flat red: σ = 0, μ = sqrt(255² + 127.5²) ≈ 285.10, M ≈ 85.53 (give or take the JPEG round trip).
    expect(Math.abs(score([255, 0, 0], 'red.jpg') - 0.3 * Math.hypot(255, 127.5))).toBeLessThan(3);
  });

  it('bad input is one InputError line naming the file', () => {
    const notImage = path.join(dir, 'notes.txt');
    writeFileSync(notImage, 'hello');
    expect(() => run([path.join(dir, 'nope.png')])).toThrow(
      new InputError(`${path.join(dir, 'nope.png')}: cannot read file (ENOENT)`),
    );
    expect(() => run([notImage])).toThrow(new InputError(`${notImage}: not a PNG or JPEG image`));
    expect(() => run([])).toThrow(new InputError('expected one image path, got 0'));
    expect(() => run([pngFile, pngFile])).toThrow(new InputError('expected one image path, got 2'));
    expect(() => run([pngFile, '--nope'])).toThrow(InputError);
  });
});
