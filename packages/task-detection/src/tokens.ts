/**
 * The detection token language (paper §3.1.1, big_vision detection_reward.py `seq2box`).
 *
 * One object = 6 tokens `[ymin, xmin, ymax, xmax, class, confidence]`; the sequence holds a fixed number of box
 * slots, and a slot whose confidence token is 0 is a null box. Token ids:
 *   0 .. 2                          confidence (0 = null box, 1 = low, 2 = high)
 *   3 .. 3 + bins − 1               coordinate level k ↔ value k / (bins − 1) in [0, 1]
 *   3 + bins .. 3 + bins + C − 1    class c
 * With bins = 1001 and C = 80 this is exactly the paper's layout (coordinates /1000, classes from 1004).
 */
export const MAX_CONF = 2;
export const COORD_OFFSET = MAX_CONF + 1;
export const TOKENS_PER_BOX = 6;

export interface DetectionVocab {
  /** Number of coordinate levels (1001 in the paper). */
  readonly bins: number;
  readonly numClasses: number;
}

export const vocabSize = (v: DetectionVocab): number => COORD_OFFSET + v.bins + v.numClasses;
export const classOffset = (v: DetectionVocab): number => COORD_OFFSET + v.bins;

export const coordToken = (v: DetectionVocab, x: number): number =>
  COORD_OFFSET + Math.round(Math.min(1, Math.max(0, x)) * (v.bins - 1));

/** Decodes any token as a coordinate, clipping as seq2box does (so every token decodes to something). */
export const tokenToCoord = (v: DetectionVocab, tok: number): number =>
  Math.min(v.bins - 1, Math.max(0, tok - COORD_OFFSET)) / (v.bins - 1);

export const classToken = (v: DetectionVocab, c: number): number => classOffset(v) + c;

export const tokenToClass = (v: DetectionVocab, tok: number): number =>
  Math.min(v.numClasses - 1, Math.max(0, tok - classOffset(v)));

export const tokenToConf = (tok: number): number => Math.min(MAX_CONF, Math.max(0, tok));
