/**
 * `rewards-metrics colorfulness image.png [--json]`: the colourfulness M3 (Hasler & Süsstrunk 2003, signed
 * opponent channels, see ../colorfulness.ts) of one PNG or JPEG. `--json` prints `{"colorfulness": x}`.
 */
import { colorfulness } from '../colorfulness';
import { InputError, orThrow, parseFlags, readImage } from './io';

export function run(args: readonly string[]): number {
  const { values, positionals } = parseFlags(args, { json: { type: 'boolean' } }, true);
  if (positionals.length !== 1) throw new InputError(`expected one image path, got ${positionals.length}`);
  const file = positionals[0];
  const img = orThrow(readImage(file));
  if (img.width * img.height === 0) throw new InputError(`${file}: image has no pixels`);
  const m = colorfulness(img);
  process.stdout.write(
    values.json === true ? `${JSON.stringify({ colorfulness: m })}\n` : `${file}: colorfulness ${m.toFixed(4)}\n`,
  );
  return 0;
}
