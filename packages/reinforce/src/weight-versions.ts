/**
 * Weight versions: the policy's parameters after some number of updates (the version), as one safetensors blob, for
 * samplers that run apart from the learner (tune.sampler 'process' here, @reward-tune/distributed's actors) and sample
 * with a version the learner sent them. `WeightMirror` keeps the versions a resumed run may still need beside its
 * checkpoints.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/Either';
import {
  decodeSafetensors,
  encodeSafetensors,
  writeAtomic,
  type HostTensor,
  type Params,
} from '@reward-tune/core-model';

/** The parameters' values as one safetensors blob, with the version in its metadata. */
export async function encodeWeights(params: Params, version: number): Promise<Buffer> {
  const tensors = new Map<string, HostTensor>();
  for (const [name, v] of params) {
    if (v.dtype !== 'float32') throw new Error(`parameter '${name}' is ${v.dtype}; weight versions hold float32 only`);
    tensors.set(name, { dtype: 'F32', shape: v.shape, data: (await v.data()) as Float32Array });
  }
  return Buffer.from(encodeSafetensors(tensors, { version: String(version) }));
}

/** Puts a blob's values into `params` (every parameter, same shapes), and returns its version. */
export function loadWeightVersion(params: Params, blob: Uint8Array): number {
  const decoded = decodeSafetensors(blob);
  if (E.isLeft(decoded)) throw new Error(`weights: ${decoded.left}`);
  const { tensors, metadata } = decoded.right;
  if (tensors.size !== params.size)
    throw new Error(`weights hold ${tensors.size} tensors, the model has ${params.size} parameters`);
  for (const [name, v] of params) {
    const t = tensors.get(name);
    if (!t) throw new Error(`weights lack parameter '${name}'`);
    if (!tf.util.arraysEqual([...t.shape], v.shape))
      throw new Error(`weights: '${name}' is [${t.shape}], the model's is [${v.shape}]`);
    tf.tidy(() => v.assign(tf.tensor(t.data, [...t.shape], 'float32')));
  }
  return Number(metadata.version);
}

/** Versions on disk beside the checkpoints (`<dir>/v<version>.safetensors`), for a resumed learner. */
export class WeightMirror {
  constructor(private readonly dir: string) {}

  /** Keeps exactly `blobs` (version → blob) on disk. */
  save(blobs: ReadonlyMap<number, Uint8Array>): void {
    mkdirSync(this.dir, { recursive: true });
    for (const [v, blob] of blobs) writeAtomic(this.file(v), blob);
    for (const v of this.versions()) if (!blobs.has(v)) rmSync(this.file(v), { force: true });
  }

  /**
   * Keeps, of `blobs`, the versions that a run resumed at update `step` samples with at staleness S: step − S to
   * step − 1 (the checkpoint holds version `step` itself).
   */
  saveFor(step: number, staleness: number, blobs: ReadonlyMap<number, Uint8Array>): void {
    this.save(new Map([...blobs].filter(([v]) => v >= step - staleness && v < step)));
  }

  /** The versions on disk. */
  versions(): number[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .map((f) => /^v(\d+)\.safetensors$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  read(version: number): Buffer | undefined {
    return existsSync(this.file(version)) ? readFileSync(this.file(version)) : undefined;
  }

  private file(version: number): string {
    return path.join(this.dir, `v${version}.safetensors`);
  }
}
