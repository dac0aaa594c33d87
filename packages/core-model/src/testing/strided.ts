/**
 * What the wasm kernel specs share (test-only): reference results of strided reads worked out by index arithmetic, and
 * a ramp of test values.
 */

/**
 * The row-major values of `values` (laid out as `shape`) read over the box [begin, begin + size), output axis i walking
 * source axis `axes[i]`: a slice with axes in order, a transpose with axes = perm, begin 0 and size = shape.
 */
export function readStrided(
  values: readonly number[],
  shape: readonly number[],
  axes: readonly number[],
  begin: readonly number[],
  size: readonly number[],
): number[] {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out: number[] = [];
  const walk = (dim: number, offset: number): void => {
    if (dim === axes.length) {
      out.push(values[offset]);
      return;
    }
    const a = axes[dim];
    for (let i = begin[a]; i < begin[a] + size[a]; i++) walk(dim + 1, offset + i * strides[a]);
  };
  walk(0, 0);
  return out;
}

/** −3, −2.5, −2, … : one distinct value per element of `shape`. */
export const iota = (shape: readonly number[]): number[] =>
  Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i * 0.5 - 3);
