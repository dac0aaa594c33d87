// `rewards-metrics detection-reward`: not implemented yet.
export function run(_args: readonly string[]): number {
  process.stderr.write('rewards-metrics detection-reward: not implemented yet\n');
  return 1;
}
