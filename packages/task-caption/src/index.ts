// @reward-tune/task-caption — image captioning tuned for CIDEr-D.
export * from './vocabulary';
export * from './synthetic';
export * from './dataset';
export * from './tokenizer';
export * from './structure';
export * from './task';
export * from './config';
export * from './setup';
export * from './eval';
