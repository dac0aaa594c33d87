/**
 * `task-caption demo`: the paper's captioning experiment end to end, by default on the built-in synthetic
 * captioned scenes (preset `tiny`). MLE model (the checkpoint shipped for the preset, or pretrained here with
 * --from-scratch) → CIDEr-D reward tuning → both evaluated on the same validation images with the same greedy
 * decoding → a table (CIDEr-D, BLEU-1..4, mean reward, words per caption), compare.html with example images and
 * both models' captions next to the references (compare.ts), and with --json one final line
 * {"preset","seed","wall_s","mle":{"CIDEr-D","BLEU":[4]},"tuned":{…}}. The flow is reinforce's task runner.
 */
import { runner } from './commands';

export const demoCommand = runner.demoCommand;
