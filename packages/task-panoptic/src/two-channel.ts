/**
 * From per-pixel model outputs to a panoptic prediction, as UViM does it (big_vision panoptic_task.py
 * `panoptic_predictions_from_logits`): each pixel takes its argmax instance id; each instance takes the class
 * whose semantic logits, summed over the instance's pixels, are largest. The result is the two-channel
 * (semantic class, instance id) map that panoptic evaluation converts to segments.
 */
export interface TwoChannelMap {
  readonly height: number;
  readonly width: number;
  /** [H·W] class per pixel. */
  readonly semantics: Int32Array;
  /** [H·W] instance id per pixel. */
  readonly instances: Int32Array;
}

/**
 * @param semLogits [H·W·K] semantic logits, K classes, pixel-major.
 * @param insLogits [H·W·I] instance logits, I instance ids, pixel-major.
 */
export function panopticFromLogits(
  height: number,
  width: number,
  semLogits: Float32Array,
  numClasses: number,
  insLogits: Float32Array,
  numInstances: number,
): TwoChannelMap {
  const P = height * width;
  if (semLogits.length !== P * numClasses || insLogits.length !== P * numInstances) {
    throw new RangeError('panopticFromLogits: logits do not match height × width × channels');
  }
  const instances = new Int32Array(P);
  const classScore = new Float64Array(numInstances * numClasses); // [I, K] summed semantic logits
  for (let p = 0; p < P; p++) {
    let best = 0;
    for (let i = 1; i < numInstances; i++)
      if (insLogits[p * numInstances + i] > insLogits[p * numInstances + best]) best = i;
    instances[p] = best;
    for (let k = 0; k < numClasses; k++) classScore[best * numClasses + k] += semLogits[p * numClasses + k];
  }
  const instanceClass = new Int32Array(numInstances);
  for (let i = 0; i < numInstances; i++) {
    let best = 0;
    for (let k = 1; k < numClasses; k++)
      if (classScore[i * numClasses + k] > classScore[i * numClasses + best]) best = k;
    instanceClass[i] = best;
  }
  const semantics = new Int32Array(P);
  for (let p = 0; p < P; p++) semantics[p] = instanceClass[instances[p]];
  return { height, width, semantics, instances };
}
