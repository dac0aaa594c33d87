// @reward-tune/distributed — reward tuning as an actor–learner system on BullMQ and Redis.
export { pack, unpack, packJson, unpackJson, type DType, type Message, type Packed } from './packing';
export {
  encodeJob,
  decodeJob,
  encodeResult,
  decodeResult,
  seedState,
  rolloutJobSchema,
  rolloutMetaSchema,
  runNameSchema,
  type RolloutJob,
  type RolloutResult,
} from './messages';
