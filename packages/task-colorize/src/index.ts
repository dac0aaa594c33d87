// @reward-tune/task-colorize — colorization tuned with a colourfulness reward.
export * from './grayscale';
export * from './scenes';
export * from './colour-folder';
