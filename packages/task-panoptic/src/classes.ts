/**
 * The class vocabulary of a panoptic dataset as the model sees it: semantic index 0 is void and index k (1..K) is
 * the k-th category in id order, as big_vision's `coco_panoptic` preprocessing makes `semantics = label + 1` with
 * labels contiguous over the sorted categories. Category ids (COCO's, not contiguous) appear only at the edges:
 * segments in, segments out.
 */
export interface PanopticClass {
  readonly id: number;
  readonly name: string;
  /** 1 (or true) for countable things, 0 (or false) for stuff. */
  readonly isthing: number | boolean;
}

export interface PanopticClasses {
  /** Sorted by id; semantic index k + 1 is `categories[k]`. */
  readonly categories: readonly PanopticClass[];
  /** Number of semantic classes including void: K + 1. */
  readonly numClasses: number;
  /** Category id → semantic index 1..K. */
  readonly semanticOf: ReadonlyMap<number, number>;
  /** [K + 1] 1 where the semantic index is a thing class (0 for void and stuff). */
  readonly thingSemantic: Uint8Array;
}

export const isThingClass = (c: PanopticClass): boolean => c.isthing === 1 || c.isthing === true;

/** The vocabulary of a category list (any order; duplicates are an error). */
export function panopticClasses(categories: readonly PanopticClass[]): PanopticClasses {
  const sorted = [...categories].sort((a, b) => a.id - b.id);
  const semanticOf = new Map<number, number>();
  sorted.forEach((c, k) => {
    if (semanticOf.has(c.id)) throw new RangeError(`panopticClasses: duplicate category id ${c.id}`);
    semanticOf.set(c.id, k + 1);
  });
  const thingSemantic = new Uint8Array(sorted.length + 1);
  sorted.forEach((c, k) => (thingSemantic[k + 1] = isThingClass(c) ? 1 : 0));
  return { categories: sorted, numClasses: sorted.length + 1, semanticOf, thingSemantic };
}
