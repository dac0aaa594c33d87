// @reward-tune/task-colorize — colorization tuned with a colourfulness reward.
export * from './grayscale';
export * from './scenes';
export * from './colour-folder';
export * from './config';
export * from './data';
export * from './task';
export * from './eval';
export * from './compare';
export * from './setup';
