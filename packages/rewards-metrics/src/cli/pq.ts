// `rewards-metrics pq`: not implemented yet.
export function run(_args: readonly string[]): number {
  process.stderr.write('rewards-metrics pq: not implemented yet\n');
  return 1;
}
