/**
 * What the learner tells every actor about its run (Redis `rt:<run>:meta`): the task's config (for the actor's own
 * task set-up), the tune section, the staleness, and the BullMQ lock. `runId` names one run under its name: a fresh
 * start of the same name gets a new one, and an actor of the old one stops.
 */
import { z } from 'zod';
import { runNameSchema } from './messages';

export const runMetaSchema = z
  .object({
    run: runNameSchema,
    runId: z.string().min(1),
    /** The tool whose task the run tunes (e.g. `task-detection`); an actor of another tool refuses it. */
    tool: z.string().min(1),
    /** The task's whole resolved config (its `tune` section included). */
    config: z.unknown(),
    /** The tune section the samples follow (numSamples, estimator, temperature, batchSize, microBatch). */
    tune: z
      .object({
        batchSize: z.number().int().positive(),
        numSamples: z.number().int().positive(),
        microBatch: z.number().int().positive().optional(),
        estimator: z.string().optional(),
        temperature: z.number().positive().optional(),
        steps: z.number().int().nonnegative(),
      })
      .loose(),
    staleness: z.number().int().nonnegative(),
    /** BullMQ's job lock: a job whose actor stops renewing it returns to the queue this long after (ms). */
    lockMs: z.number().int().positive(),
  })
  .strict();

export type RunMeta = z.output<typeof runMetaSchema>;
