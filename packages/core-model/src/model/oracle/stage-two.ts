/**
 * UViM stage II over a frozen oracle: the language model's targets and the way back from its tokens to the task
 * output. Stage II predicts `code + 1` at each of the L code positions (0 stays the pad/BOS token the decoder is
 * shifted right with), a fixed length with no EOS, so its vocabulary is dictSize + 1 (config.ts
 * `checkStageTwoVocab`). The oracle runs in eval mode throughout: no code dropout, and the dictionary is only read
 * (encoding the targets in training mode would drift it).
 *
 *   targets: labels [B, H, W, C_k] per key + context [B, H, W, Cc] → oracle encoder → code [B, L] → code + 1
 *   decode:  tokens [R, L] in 1..K → code = token − 1 → oracle decoder (with the rows' context) → outputs per key
 *
 * Dimension legend: B batch, R rows (e.g. B·N samples), L code length, K dictionary size.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readTensor } from '../../backend';
import { suppressTokens, type LogitsProcessor } from '../logits-processors';
import type { Params } from '../policy';
import type { OracleConfig } from './config';
import type { OracleState } from './dictionary';
import { oracleDecode, oracleEncodeTensors, type OracleLabels } from './oracle';

/** An oracle whose parameters and dictionary stay as they are (stage II and tuning). */
export interface FrozenOracle {
  readonly cfg: OracleConfig;
  readonly params: Params;
  readonly state: OracleState;
}

/**
 * Stage II's MLE targets, computed on the fly from a batch's labels and context images: the frozen oracle's code
 * plus one, row-major [B·L] (B rows of L tokens in 1..K). Deterministic; leaves no tensor behind.
 */
export async function stageTwoTargets(
  oracle: FrozenOracle,
  labels: OracleLabels,
  ctx: tf.Tensor4D | undefined,
): Promise<Int32Array> {
  const enc = oracleEncodeTensors(oracle.params, oracle.state, oracle.cfg, labels, ctx);
  try {
    const codes = await readTensor(enc.codes);
    return Int32Array.from(codes, (c) => c + 1);
  } finally {
    tf.dispose([enc.codes, enc.preQuant, enc.quantised, enc.selected]);
  }
}

/**
 * The code of stage II tokens: token − 1, each token checked to be in 1..K (a sampled 0, the pad/BOS token, has
 * no codeword: give the stage II model `stageTwoProcessors()` so that it is never drawn).
 */
export function stageTwoCodes(tokens: Int32Array, cfg: Pick<OracleConfig, 'dictSize' | 'codeLen'>): Int32Array {
  if (tokens.length % cfg.codeLen !== 0)
    throw new RangeError(`stage II: ${tokens.length} tokens are not a whole number of codes of length ${cfg.codeLen}`);
  return Int32Array.from(tokens, (t, i) => {
    if (!(t >= 1 && t <= cfg.dictSize)) {
      throw new RangeError(
        `stage II: token ${t} at ${i} is not a code token (1..${cfg.dictSize}); the model must suppress token 0 (stageTwoProcessors)`,
      );
    }
    return t - 1;
  });
}

/**
 * Decodes stage II token rows [R·L] with the frozen oracle in one batched forward pass (eval mode), each row with
 * its own context image (`ctx` [R, H, W, Cc]): per output key [R, H, W, C_k] logits (`xent`) or values (`mse`).
 */
export function decodeStageTwo(
  oracle: FrozenOracle,
  tokens: Int32Array,
  ctx: tf.Tensor4D | undefined,
): Record<string, tf.Tensor4D> {
  return oracleDecode(oracle.params, oracle.state, oracle.cfg, stageTwoCodes(tokens, oracle.cfg), ctx);
}

/** The logits processors of a stage II model: token 0 (pad/BOS) is never a code. */
export function stageTwoProcessors(): LogitsProcessor[] {
  return [suppressTokens([0])];
}
