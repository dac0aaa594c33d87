// @reward-tune/reinforce — MLE pretraining and reward tuning loops over the task contract.
export { paperAdvantages, rlooAdvantages } from './advantages';
