/**
 * `task-detection demo`, the project's main job (`npm start`): the paper's detection experiment end to end on the
 * built-in synthetic shapes. MLE model (the checkpoint shipped for the preset, or pretrained here with
 * --from-scratch) → reward tuning → both evaluated on the same validation images with the same greedy decoding →
 * a table (AP, AP50, AP75, AR1, AR10, AR100, mean reward, boxes per image) and a comparison page with pictures
 * (compare.ts). The flow is reinforce's task runner; preset `tiny` unless --preset says otherwise.
 */
import { runner } from './commands';

export const demoCommand = runner.demoCommand;
