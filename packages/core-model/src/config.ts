/**
 * Configs are data: a task declares a zod schema (`.strict()` objects, defaults in the schema) and named presets
 * (partial inputs: `mu` for tests, `tiny` for the CPU demo, ...). A run's config is
 *
 *   preset (or a saved config.json when resuming) → `--set key=value` overrides on dotted paths → schema
 *
 * Override values are parsed as JSON when they parse (`3`, `1e-4`, `true`, `[0.5, 0.7]`, `{"a": 1}`, `"7"`) and
 * taken as strings otherwise (`--set name=run-a`). A key the schema does not know is refused before anything is
 * applied, naming the key and the keys that do exist there; type errors after applying name the override. A dotted
 * path into an object the input lacks starts that object from its schema default (`--set tune.optimizer.lr=1e-4`).
 *
 * Nested objects with defaults: use `.prefault({})` (zod 4) so that the inner defaults fill in; `.default({})`
 * would return `{}` without parsing it.
 */
import * as E from 'fp-ts/Either';
import { z } from 'zod';
import { zodProblem } from './input';

export interface ConfigSpec<S extends z.ZodType> {
  readonly schema: S;
  /** Named partial inputs to the schema. */
  readonly presets: Readonly<Record<string, unknown>>;
  /** The preset used when none is named. */
  readonly defaultPreset?: string;
}

export interface ConfigRequest {
  /** Preset name; ignored when `base` is given. */
  readonly preset?: string;
  /** A saved config (e.g. a resumed run's config.json) to start from instead of a preset; `source` names it. */
  readonly base?: { readonly value: unknown; readonly source: string };
  /** `key.path=value` strings, applied in order. */
  readonly sets?: readonly string[];
}

export interface Override {
  readonly text: string;
  readonly path: readonly string[];
  readonly value: unknown;
}

export function parseOverride(text: string): E.Either<string, Override> {
  const eq = text.indexOf('=');
  if (eq <= 0) return E.left(`--set ${text}: expected key=value`);
  const key = text.slice(0, eq);
  const raw = text.slice(eq + 1);
  const path = key.split('.');
  if (path.some((p) => p === '')) return E.left(`--set ${text}: empty segment in key "${key}"`);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // not JSON: the raw string is the value
  }
  return E.right({ text, path, value });
}

/** zod 4 keeps a schema's kind in `_zod.def.type`; wrappers keep the wrapped schema in `innerType`. */
interface Def {
  readonly type: string;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly shape?: Record<string, z.ZodType>;
  readonly catchall?: z.ZodType;
  readonly valueType?: z.ZodType;
  readonly element?: z.ZodType;
  readonly items?: readonly z.ZodType[];
  readonly defaultValue?: unknown;
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

function unwrap(s: z.ZodType): z.ZodType {
  for (;;) {
    const d = defOf(s);
    if (d.innerType !== undefined) s = d.innerType;
    else if (d.type === 'pipe' && d.in !== undefined) s = d.in;
    else return s;
  }
}

/** Left when the schema has no place for `path` (a strict object without that key, or a path into a leaf). */
export function checkPath(schema: z.ZodType, path: readonly string[], text: string): E.Either<string, void> {
  let s = schema;
  for (let i = 0; i < path.length; i++) {
    const d = defOf(unwrap(s));
    const key = path[i];
    const here = path.slice(0, i).join('.');
    const unknown = (known: string) => E.left(`--set ${text}: unknown key "${path.slice(0, i + 1).join('.')}"${known}`);
    if (d.type === 'object' && d.shape !== undefined) {
      const next = d.shape[key];
      if (next !== undefined) {
        s = next;
        continue;
      }
      if (d.catchall !== undefined && defOf(d.catchall).type !== 'never') return E.right(undefined);
      return unknown(` (${here ? `${here} has` : 'known keys'}: ${Object.keys(d.shape).join(', ')})`);
    }
    if (d.type === 'record' && d.valueType !== undefined) {
      s = d.valueType;
      continue;
    }
    if ((d.type === 'array' && d.element !== undefined) || (d.type === 'tuple' && d.items !== undefined)) {
      const n = /^\d+$/.test(key) ? Number(key) : -1;
      const next = d.type === 'array' ? d.element : d.items?.[n];
      if (n < 0 || next === undefined)
        return unknown(` (${here} is a list: use an index${d.type === 'tuple' ? ` below ${d.items?.length}` : ''})`);
      s = next;
      continue;
    }
    // Unions, lazies and the like: leave the check to the schema after applying.
    if (['union', 'lazy', 'intersection', 'any', 'unknown', 'custom'].includes(d.type)) return E.right(undefined);
    return unknown(` (${here} is a ${d.type}, not an object)`);
  }
  return E.right(undefined);
}

/** A copy of `target` with `value` at `path`, creating objects on the way. */
export function setPath(target: unknown, path: readonly string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (Array.isArray(target) && /^\d+$/.test(head)) {
    const copy = [...target];
    copy[Number(head)] = setPath(copy[Number(head)], rest, value);
    return copy;
  }
  const obj =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? (target as Record<string, unknown>) : {};
  return { ...obj, [head]: setPath(obj[head], rest, value) };
}

/** The default (`.default` or `.prefault`) nearest the surface of `s`'s wrappers, if any. */
function defaultOf(s: z.ZodType): unknown {
  for (;;) {
    const d = defOf(s);
    if ((d.type === 'default' || d.type === 'prefault') && d.defaultValue !== undefined) return d.defaultValue;
    if (d.innerType !== undefined) s = d.innerType;
    else if (d.type === 'pipe' && d.in !== undefined) s = d.in;
    else return undefined;
  }
}

const getPath = (target: unknown, path: readonly string[]): unknown =>
  path.reduce<unknown>(
    (t, k) => (typeof t === 'object' && t !== null ? (t as Record<string, unknown>)[k] : undefined),
    target,
  );

/**
 * `target` with `value` at `path`, where an object on the way that the input lacks starts as its schema default:
 * `--set tune.optimizer.lr=1e-4` then changes one field of the default optimizer instead of replacing it with
 * `{lr: 1e-4}` (which a union of optimizers would refuse for want of its `name`).
 */
function setOverride(
  schema: z.ZodType,
  target: unknown,
  path: readonly string[],
  value: unknown,
): { value: unknown; wrote: readonly string[] } {
  let s: z.ZodType | undefined = schema;
  let wrote = path;
  for (let i = 0; i + 1 < path.length && s !== undefined; i++) {
    const d = defOf(unwrap(s));
    s = d.type === 'object' ? d.shape?.[path[i]] : d.type === 'record' ? d.valueType : undefined;
    if (s === undefined) break;
    const fallback = defaultOf(s);
    const prefix = path.slice(0, i + 1);
    if (fallback !== undefined && getPath(target, prefix) === undefined) {
      target = setPath(target, prefix, structuredClone(fallback));
      if (wrote === path) wrote = prefix;
    }
  }
  return { value: setPath(target, path, value), wrote };
}

const startsWith = (a: readonly PropertyKey[], prefix: readonly string[]): boolean =>
  prefix.every((p, i) => a.length > i && String(a[i]) === p);

export function resolveConfig<S extends z.ZodType>(
  spec: ConfigSpec<S>,
  request: ConfigRequest = {},
): E.Either<string, z.output<S>> {
  let start: unknown;
  let source: string;
  if (request.base !== undefined) {
    start = request.base.value;
    source = request.base.source;
  } else {
    const name = request.preset ?? spec.defaultPreset;
    const names = Object.keys(spec.presets).join(', ');
    if (name === undefined) return E.left(`no preset given (--preset one of: ${names})`);
    if (!Object.prototype.hasOwnProperty.call(spec.presets, name))
      return E.left(`--preset ${name}: unknown preset (one of: ${names})`);
    start = spec.presets[name];
    source = `preset "${name}"`;
  }

  const overrides: Override[] = [];
  for (const text of request.sets ?? []) {
    const o = parseOverride(text);
    if (E.isLeft(o)) return o;
    const known = checkPath(spec.schema, o.right.path, text);
    if (E.isLeft(known)) return known;
    overrides.push(o.right);
  }
  // Where each override wrote: its path, or the defaulted object it started (a field there it made invalid is its
  // fault).
  let value: unknown = structuredClone(start);
  const wrote = overrides.map((o) => {
    const r = setOverride(spec.schema, value, o.path, o.value);
    value = r.value;
    return r.wrote;
  });

  const r = spec.schema.safeParse(value);
  if (r.success) return E.right(r.data);
  const issue = r.error.issues[0];
  const fullPath = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  // The last override that wrote at or above the failing field is the one to blame.
  const culprit = overrides
    .map((o, i) => ({ o, at: wrote[i] }))
    .reverse()
    .find(({ o, at }) => startsWith(fullPath, at) || startsWith(o.path.slice(), fullPath.map(String)))?.o;
  return E.left(zodProblem(r.error, culprit !== undefined ? `--set ${culprit.text}` : source));
}
