/**
 * Boxes ↔ token sequences for detection, and the per-position slot masks.
 *
 * A sequence is `maxBoxes` slots of `[ymin, xmin, ymax, xmax, class, conf]` (tokens.ts has the ids). Ground-truth
 * objects fill the first slots in a configurable order (random by default, as pix2seq), each with the confidence
 * token 2 (IoU 1); the remaining slots are null boxes, all six tokens 0, as in big_vision's reward code (or, with
 * `noise` null boxes, random boxes with confidence 0: `NullBoxes`). Objects beyond `maxBoxes` are dropped (a random
 * subset when the order is random).
 *
 * The slot mask lets each position emit only its own kind of token, plus 0 (the null/padding token) everywhere, so
 * that null slots stay representable; a slot counts as a box iff its confidence token is non-zero (seq2box).
 */
import { prefixConstraint, type LogitsProcessor, type Rng } from '@reward-tune/core-model';
import {
  classToken,
  COORD_OFFSET,
  coordToken,
  MAX_CONF,
  tokenToClass,
  tokenToConf,
  tokenToCoord,
  TOKENS_PER_BOX,
  vocabSize,
  type DetectionVocab,
} from './tokens';

/** A box in normalised [0, 1] coordinates, y first as in the token layout. */
export interface NormBox {
  readonly ymin: number;
  readonly xmin: number;
  readonly ymax: number;
  readonly xmax: number;
  /** Contiguous class index 0..C−1. */
  readonly cls: number;
}

export type BoxOrder = 'random' | 'area' | 'given';

/**
 * What fills the slots after the objects in MLE targets. `zeros`: six 0 tokens (big_vision's reward code reads a
 * slot with confidence 0 as null whatever its other tokens). `noise`: a random box of a random class with confidence
 * 0, whose first five tokens the MLE loss does not weigh (`nullSlotWeights`): only "this slot is null" is taught,
 * at its confidence token, and the model decides box or null after drawing a box, as in the toy calibration run
 * (docs/experiments/toy-detection-calibration.md).
 */
export type NullBoxes = 'zeros' | 'noise';

export function encodeBoxes(
  v: DetectionVocab,
  boxes: readonly NormBox[],
  maxBoxes: number,
  order: BoxOrder,
  rng?: Rng,
  nullBoxes: NullBoxes = 'zeros',
): Int32Array {
  let list = [...boxes];
  if ((order === 'random' || nullBoxes === 'noise') && !rng)
    throw new Error(`encodeBoxes: ${order === 'random' ? 'random order' : 'noise null boxes'} need an Rng`);
  if (order === 'random') {
    rng!.shuffle(list);
  } else if (order === 'area') {
    list.sort((a, b) => (b.ymax - b.ymin) * (b.xmax - b.xmin) - (a.ymax - a.ymin) * (a.xmax - a.xmin));
  }
  list = list.slice(0, maxBoxes);
  const out = new Int32Array(maxBoxes * TOKENS_PER_BOX);
  list.forEach((b, i) => {
    out.set(
      [
        coordToken(v, b.ymin),
        coordToken(v, b.xmin),
        coordToken(v, b.ymax),
        coordToken(v, b.xmax),
        classToken(v, b.cls),
        MAX_CONF,
      ],
      i * TOKENS_PER_BOX,
    );
  });
  if (nullBoxes === 'noise') {
    for (let i = list.length; i < maxBoxes; i++) {
      const [y0, y1] = [rng!.next(), rng!.next()].sort((a, b) => a - b);
      const [x0, x1] = [rng!.next(), rng!.next()].sort((a, b) => a - b);
      out.set(
        [
          coordToken(v, y0),
          coordToken(v, x0),
          coordToken(v, y1),
          coordToken(v, x1),
          classToken(v, rng!.int(v.numClasses)),
          0,
        ],
        i * TOKENS_PER_BOX,
      );
    }
  }
  return out;
}

/** MLE weights [L] of targets with `noise` null boxes: 0 on a null slot's first five tokens, 1 elsewhere. */
export function nullSlotWeights(targets: ArrayLike<number>): Float32Array {
  const w = new Float32Array(targets.length).fill(1);
  for (let at = 0; at + TOKENS_PER_BOX <= targets.length; at += TOKENS_PER_BOX) {
    if (targets[at + TOKENS_PER_BOX - 1] === 0) w.fill(0, at, at + TOKENS_PER_BOX - 1);
  }
  return w;
}

/** A decoded slot: the box, its class, and its confidence token (0 = null). */
export interface DecodedBox extends NormBox {
  readonly conf: number;
}

/** Decodes every slot (null ones included, so per-slot outputs line up with the sequence). */
export function decodeBoxes(v: DetectionVocab, tokens: ArrayLike<number>): DecodedBox[] {
  const slots = Math.floor(tokens.length / TOKENS_PER_BOX);
  const out: DecodedBox[] = [];
  for (let s = 0; s < slots; s++) {
    const t = (k: number): number => tokens[s * TOKENS_PER_BOX + k];
    out.push({
      ymin: tokenToCoord(v, t(0)),
      xmin: tokenToCoord(v, t(1)),
      ymax: tokenToCoord(v, t(2)),
      xmax: tokenToCoord(v, t(3)),
      cls: tokenToClass(v, t(4)),
      conf: tokenToConf(t(5)),
    });
  }
  return out;
}

/**
 * The [V] 1/0 set of tokens each of the six slot positions may emit — its kind of token, and 0 — for core-model's
 * `slotMask` processor (position t uses set t mod 6). With `noise` null boxes every slot draws a box and only the
 * confidence position may be 0.
 */
export function slotTokenSets(v: DetectionVocab, nullBoxes: NullBoxes = 'zeros'): Uint8Array[] {
  const V = vocabSize(v);
  return Array.from({ length: TOKENS_PER_BOX }, (_, k) => {
    const row = new Uint8Array(V);
    row[0] = nullBoxes === 'zeros' ? 1 : 0;
    if (k < 4) row.fill(1, COORD_OFFSET, COORD_OFFSET + v.bins);
    else if (k === 4) row.fill(1, COORD_OFFSET + v.bins, V);
    else row.fill(1, 0, MAX_CONF + 1);
    return row;
  });
}

/**
 * Keeps slots well-formed while sampling and re-scoring: a slot is null iff its first token is 0. After a 0 the
 * slot's other five tokens can only be 0; after a coordinate none of them can be 0, so the confidence token of a
 * box is 1 or 2. MLE targets are always well-formed, so this never masks a target. Without it a sampled 0 at the
 * confidence position drops a box that was already drawn, and the confidence loss, which moves p(1) against p(2),
 * changes p(0) there as a side effect.
 */
export function wellFormedSlots(v: DetectionVocab): LogitsProcessor {
  const V = vocabSize(v);
  const onlyNull = new Uint8Array(V);
  onlyNull[0] = 1;
  const noNull = new Uint8Array(V).fill(1);
  noNull[0] = 0;
  return prefixConstraint((position, prefix) => {
    const k = position % TOKENS_PER_BOX;
    if (k === 0) return null;
    return prefix[position - k] === 0 ? onlyNull : noNull;
  });
}
