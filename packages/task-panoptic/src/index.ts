// @reward-tune/task-panoptic — panoptic segmentation tuned with Panoptic Quality.
export * from './two-channel';
export * from './classes';
export * from './scenes';
export * from './labels';
export * from './segments';
export * from './reward';
export * from './dataset';
export * from './render';
export * from './config';
export * from './setup';
export * from './task';
export * from './eval';
