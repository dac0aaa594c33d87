// @reward-tune/task-caption — image captioning tuned for CIDEr-D.
export * from './vocabulary';
export * from './synthetic';
export * from './dataset';
export * from './tokenizer';
