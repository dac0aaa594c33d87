/**
 * From a two-channel (semantic class, instance id) map to panoptic segments, as panopticapi's
 * `converters/2channels2panoptic_coco_format.py` makes them (the converter big_vision's UViM evaluator calls):
 * every distinct (sem, ins) pair with sem ≠ 0 (void) is a segment, whatever its pixels' connectivity; for a STUFF
 * category the converter's IdGenerator returns the category's own colour for every pair, so all pieces of one stuff
 * class are one segment; things keep one segment per (sem, ins). Pixels with sem 0 are void (id 0).
 *
 * Segment ids are 1..n in the converter's order (ascending sem, then ins; a stuff class takes the place of its first
 * pair). The converter keys pairs as 1000·sem + ins, which would alias instance ids ≥ 1000; here they never alias.
 */
import type { PanopticImage } from '@reward-tune/rewards-metrics';
import { isThingClass, type PanopticClasses } from './classes';
import type { TwoChannelMap } from './two-channel';

/**
 * The segments of a two-channel map, ready for rewards-metrics' PQ. Throws a RangeError for a semantic index
 * outside 0..K (the converter's "Unknown semantic label") or an instance id outside [−1, 65534].
 */
export function segmentsFromTwoChannel(map: TwoChannelMap, classes: PanopticClasses): PanopticImage {
  const { width: W, height: H, semantics, instances } = map;
  const P = W * H;
  if (semantics.length !== P || instances.length !== P)
    throw new RangeError(`segmentsFromTwoChannel: channels do not match ${W}×${H}`);
  const K = classes.numClasses - 1;
  // Pair key sem·2^16 + (ins + 1): one pass collects the distinct pairs.
  const keys = new Float64Array(P);
  const seen = new Set<number>();
  for (let p = 0; p < P; p++) {
    const sem = semantics[p];
    if (sem === 0) {
      keys[p] = -1;
      continue;
    }
    const ins = instances[p];
    if (!(sem > 0 && sem <= K))
      throw new RangeError(
        `segmentsFromTwoChannel: unknown semantic label ${sem} at pixel ${p % W}, ${Math.floor(p / W)} (expected 0..${K})`,
      );
    if (!(ins >= -1 && ins < 0xffff))
      throw new RangeError(
        `segmentsFromTwoChannel: instance id ${ins} at pixel ${p % W}, ${Math.floor(p / W)} outside −1..65534`,
      );
    const key = sem * 0x10000 + ins + 1;
    keys[p] = key;
    seen.add(key);
  }
  const idOfKey = new Map<number, number>();
  const idOfStuff = new Map<number, number>();
  const segments: { id: number; category_id: number }[] = [];
  for (const key of [...seen].sort((a, b) => a - b)) {
    const sem = Math.floor(key / 0x10000);
    const category = classes.categories[sem - 1];
    let id = isThingClass(category) ? undefined : idOfStuff.get(sem);
    if (id === undefined) {
      id = segments.length + 1;
      segments.push({ id, category_id: category.id });
      if (!isThingClass(category)) idOfStuff.set(sem, id);
    }
    idOfKey.set(key, id);
  }
  const ids = new Uint32Array(P);
  let lastKey = -2,
    lastId = 0;
  for (let p = 0; p < P; p++) {
    const key = keys[p];
    if (key < 0) continue;
    if (key !== lastKey) {
      lastKey = key;
      lastId = idOfKey.get(key)!;
    }
    ids[p] = lastId;
  }
  return { width: W, height: H, ids, segments };
}
