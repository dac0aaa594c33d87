// @reward-tune/task-detection — object detection tuned with the paper's recall reward.
export * from './tokens';
export * from './sequence';
export * from './dataset';
export * from './task';
export * from './config';
export * from './setup';
