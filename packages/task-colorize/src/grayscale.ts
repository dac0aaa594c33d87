/**
 * The colorization task's input: the grey version of a colour image, replicated to three channels
 * (UViM feeds grayscale→RGB to the encoder). Luma weights are those of `tf.image.rgb_to_grayscale`
 * (ITU-R BT.601: 0.2989 R + 0.5870 G + 0.1140 B), so images match big_vision's preprocessing.
 */
export const LUMA = [0.2989, 0.587, 0.114] as const;

/** [H·W·3] RGB (any range) → [H·W·3] grey RGB in the same range. */
export function toGrayRgb(rgb: Float32Array): Float32Array {
  if (rgb.length % 3 !== 0) throw new RangeError('toGrayRgb: length is not a multiple of 3');
  const out = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    const y = LUMA[0] * rgb[i] + LUMA[1] * rgb[i + 1] + LUMA[2] * rgb[i + 2];
    out[i] = out[i + 1] = out[i + 2] = y;
  }
  return out;
}
