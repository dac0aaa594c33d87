/**
 * ViT sizes by name, big_vision style: `<size>/<patch>` (e.g. `B/16`, `Ti/4`), or a size alone for its default
 * patch. Standard widths, depths, heads and MLP sizes from the ViT papers (Ti/S/B), plus `mu`, a tiny size for
 * unit tests, and `pico`/`nano` for CPU demos. Small patches (4, 8) suit the small synthetic images the CPU demos use.
 */
export interface VitSize {
  readonly width: number;
  readonly depth: number;
  readonly heads: number;
  readonly mlp: number;
  /** The patch size when the name gives none. */
  readonly defaultPatch: number;
}

export const VIT_SIZES: Readonly<Record<string, VitSize>> = {
  mu: { width: 16, depth: 1, heads: 2, mlp: 32, defaultPatch: 8 },
  // CPU-demo sizes below Ti: `nano` is the 0.8M-parameter scale of the toy detection calibration run
  // (docs/experiments/toy-detection-calibration.md).
  pico: { width: 64, depth: 2, heads: 2, mlp: 256, defaultPatch: 8 },
  nano: { width: 96, depth: 3, heads: 4, mlp: 384, defaultPatch: 8 },
  Ti: { width: 192, depth: 12, heads: 3, mlp: 768, defaultPatch: 16 },
  S: { width: 384, depth: 12, heads: 6, mlp: 1536, defaultPatch: 16 },
  B: { width: 768, depth: 12, heads: 12, mlp: 3072, defaultPatch: 16 },
};

/** Patch sizes a variant name may carry. */
export const VIT_PATCHES: readonly number[] = [2, 4, 6, 8, 14, 16, 32];

export interface VitVariant {
  readonly width: number;
  readonly depth: number;
  readonly heads: number;
  readonly mlp: number;
  readonly patch: number;
}

/** Resolves `mu`, `mu/4`, `Ti/16`, `S/16`, `B/16`, `Ti/4`, … into sizes; an unknown name is a one-line error. */
export function vitVariant(name: string): VitVariant {
  const m = /^([A-Za-z]+)(?:\/(\d+))?$/.exec(name);
  const size = m ? VIT_SIZES[m[1]] : undefined;
  const patch = m?.[2] !== undefined ? Number(m[2]) : size?.defaultPatch;
  if (size === undefined || patch === undefined || !VIT_PATCHES.includes(patch)) {
    throw new Error(
      `unknown ViT variant '${name}' (sizes ${Object.keys(VIT_SIZES).join(', ')}; patches ${VIT_PATCHES.join(', ')})`,
    );
  }
  return { width: size.width, depth: size.depth, heads: size.heads, mlp: size.mlp, patch };
}
