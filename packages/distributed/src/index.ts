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
export {
  RedisUnavailable,
  RunRedis,
  parseRedisUrl,
  bullConnection,
  keys,
  queueName,
  jobId,
  type RedisTarget,
} from './redis';
export { runMetaSchema, type RunMeta } from './run-meta';
export { WeightStore, WeightCache } from './weights';
export { runLearner, type LearnerOptions, type LearnerResult, type Throughput, type ActorThroughput } from './learner';
export { runActor, type ActorOptions, type ActorResult, type ActorSetup } from './actor';
export { distributedCommands, splitLearnerFlags, throughputLine, type DistributedCommands } from './commands';
