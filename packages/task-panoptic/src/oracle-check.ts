/**
 * `task-panoptic oracle-check --from <stage I run or checkpoint>`: does the code matter? The oracle decodes the
 * first `eval.images` of a split (`--split`, default val: the choices are made there) with its own encoder's code
 * (the true code) and with a zero code (what the image alone gives); PQ/SQ/RQ of both, and the true codes' use of
 * the codebook. Measure this before training stage II on an oracle: the gap is the room stage II and tuning have.
 */
import { initBackend, UsageError } from '@reward-tune/core-model';
import { loadFrozenOracle, logLine, parseCommand } from '@reward-tune/reinforce';
import { runner } from './commands';
import { codeUse, oracleRows, pqr, pqRow, pqTable } from './eval';
import { dataOf, firstRows } from './setup';

export async function oracleCheckCommand(args: readonly string[]): Promise<number> {
  const opts = parseCommand(args, {
    extra: { split: { type: 'string', description: 'val (default) or test' } },
  });
  if (!opts) return 0;
  const split = (opts.extra.split as string | undefined) ?? 'val';
  if (split !== 'val' && split !== 'test') throw new UsageError(`--split: expected val or test, got '${split}'`);
  if (opts.from === undefined) throw new UsageError('oracle-check needs --from <stage I run or checkpoint>');
  const cfg = runner.newRunConfig({ ...opts, sets: [...opts.sets, `oracle.checkpoint=${JSON.stringify(opts.from)}`] });
  const data = dataOf(cfg, opts.out);
  await initBackend(opts.backend);
  const oracle = loadFrozenOracle(opts.from, '--from');
  const table = firstRows(data.splits[split], cfg.eval.images);
  const t0 = Date.now();
  const o = await oracleRows(oracle, table, data.classes, cfg.panoptic.instances, cfg.eval.batchSize);
  const trueRow = pqRow(o.trueMaps, table.examples, data.classes);
  const zeroRow = pqRow(o.zeroMaps, table.examples, data.classes);
  const use = codeUse(o.codes, oracle.cfg.dictSize);
  process.stderr.write(
    `${pqTable([
      ['oracle, true code', trueRow],
      ['oracle, zero code', zeroRow],
    ])}\n`,
  );
  logLine(
    `${table.examples.length} ${split} images (${((Date.now() - t0) / 1000).toFixed(0)} s); true codes: perplexity ` +
      `${use.perplexity.toFixed(1)} of ${oracle.cfg.dictSize}, ${(100 * use.unusedFraction).toFixed(1)}% unused; ` +
      `oracle ${oracle.file}`,
  );
  if (opts.json)
    process.stdout.write(
      `${JSON.stringify({
        oracle: oracle.file,
        split,
        images: table.examples.length,
        true_code: { ...pqr(trueRow), PQ_th: trueRow.PQ_th, PQ_st: trueRow.PQ_st },
        zero_code: { ...pqr(zeroRow), PQ_th: zeroRow.PQ_th, PQ_st: zeroRow.PQ_st },
        codebook: use,
      })}\n`,
    );
  return 0;
}
