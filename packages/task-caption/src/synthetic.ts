/**
 * Synthetic captioned scenes: core-model's shapes renderer draws the image, and a small grammar over the scene's
 * objects writes 5 different reference captions for it, the way COCO gives 5 human captions per image.
 *
 * The references differ in what they mention and how (counts, colours, shape synonyms, relative and absolute
 * positions, word order and framing), but every claim is true of the scene, so CIDEr against them rewards
 * truthful descriptions. Captions come out lowercase, words separated by single spaces, with no punctuation:
 * already in the form the caption normaliser produces.
 *
 * Claims a caption can make (the spec's truthfulness test checks each against the scene):
 *   - "a/an <colour?> <noun>": at least one such object exists;
 *   - "one / a single / two … eight <colour?> <noun>": exactly that many objects match;
 *   - "<np> to the left of / left of / to the right of / right of / next to / beside / above / below <np>": two
 *     distinct matching objects whose box centres are separated mostly along that axis (`spatialRelation`);
 *   - "<np> on the left / on the right / at the top / at the bottom / in the <top|bottom> <left|right> corner":
 *     the object's box centre lies in that outer third of the image (`absolutePosition`).
 */
import { generateShapeImage, Rng, type ShapeImage, type ShapeObject } from '@reward-tune/core-model';

export const REFERENCES_PER_IMAGE = 5;
/** Scenes for captioning keep to a few objects, so that a sentence can describe them all. */
export const DEFAULT_MAX_OBJECTS = 4;

type Shape = ShapeObject['shape'];
type Colour = ShapeObject['colour'];
type Noun = readonly [singular: string, plural: string];

/** Synonyms per shape; the first is the canonical name and is drawn more often. */
export const SHAPE_NOUNS: Readonly<Record<Shape, readonly Noun[]>> = {
  square: [
    ['square', 'squares'],
    ['box', 'boxes'],
    ['block', 'blocks'],
  ],
  circle: [
    ['circle', 'circles'],
    ['disc', 'discs'],
    ['ball', 'balls'],
  ],
  triangle: [
    ['triangle', 'triangles'],
    ['pyramid', 'pyramids'],
  ],
};
/** Nouns that say nothing about the shape. */
export const GENERIC_NOUNS: readonly Noun[] = [
  ['shape', 'shapes'],
  ['object', 'objects'],
];
export const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight'] as const;

export interface CaptionedScene {
  readonly image: ShapeImage;
  /** REFERENCES_PER_IMAGE distinct captions, all true of `image`. */
  readonly captions: readonly string[];
}

export interface SceneOptions {
  readonly seed: number;
  /** Which stream of scenes: the train and val splits of one seed must not share images. */
  readonly stream: number;
  readonly size: number;
  readonly maxObjects?: number;
}

/** A 32-bit hash of (seed, stream, index): each scene gets its own generator, independent of the dataset size. */
function sceneSeed(seed: number, stream: number, index: number): number {
  let h = 0x811c9dc5;
  for (const v of [seed, stream, index]) {
    h = Math.imul(h ^ (v >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  }
  return h;
}

/**
 * Scene `index` of a stream: the image (redrawn from the same generator until at least one object is visible,
 * which a heavily occluded draw can lose) and its references, from a second generator so that changing the
 * grammar never changes the images.
 */
export function generateCaptionedScene(opts: SceneOptions, index: number): CaptionedScene {
  const maxObjects = opts.maxObjects ?? DEFAULT_MAX_OBJECTS;
  if (!(maxObjects >= 1 && maxObjects < NUMBER_WORDS.length))
    throw new RangeError(`maxObjects must be in 1..${NUMBER_WORDS.length - 1}`);
  const s = sceneSeed(opts.seed, opts.stream, index);
  const rng = Rng.fromSeed(s);
  let image = generateShapeImage(rng, opts.size, maxObjects);
  while (image.objects.length === 0) image = generateShapeImage(rng, opts.size, maxObjects);
  return { image, captions: captionScene(image, Rng.fromSeed(s ^ 0x5bd1e995)) };
}

// ---- geometry -------------------------------------------------------------------------------------------------

const centre = (o: ShapeObject): [number, number] => [o.bbox[0] + o.bbox[2] / 2, o.bbox[1] + o.bbox[3] / 2];

/** 'left' means a is left of b. */
export type Relation = 'left' | 'right' | 'above' | 'below';

/**
 * The relation of a to b when it is clear: centres at least 15% of the image apart along one axis and at least
 * twice as far apart along it as along the other (a diagonal neighbour is neither "left of" nor "above").
 */
export function spatialRelation(a: ShapeObject, b: ShapeObject, imageSize: number): Relation | undefined {
  const [ax, ay] = centre(a),
    [bx, by] = centre(b);
  const dx = bx - ax,
    dy = by - ay,
    minSep = 0.15 * imageSize;
  if (Math.abs(dx) >= 2 * Math.abs(dy) && Math.abs(dx) >= minSep) return dx > 0 ? 'left' : 'right';
  if (Math.abs(dy) >= 2 * Math.abs(dx) && Math.abs(dy) >= minSep) return dy > 0 ? 'above' : 'below';
  return undefined;
}

/** Which outer thirds of the image hold the object's centre (either part may be absent). */
export function absolutePosition(
  o: ShapeObject,
  width: number,
  height: number,
): { x?: 'left' | 'right'; y?: 'top' | 'bottom' } {
  const [cx, cy] = centre(o);
  return {
    x: cx < width / 3 ? 'left' : cx > (2 * width) / 3 ? 'right' : undefined,
    y: cy < height / 3 ? 'top' : cy > (2 * height) / 3 ? 'bottom' : undefined,
  };
}

// ---- grammar --------------------------------------------------------------------------------------------------

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)];
const article = (next: string): string => (/^[aeiou]/.test(next) ? 'an' : 'a');

function shapeNoun(rng: Rng, shape: Shape): Noun {
  const nouns = SHAPE_NOUNS[shape];
  return rng.next() < 0.5 ? nouns[0] : pick(rng, nouns);
}

/**
 * A noun phrase for `count` objects. With `exact`, a single object may be "one" / "a single" (claims exactly one);
 * without, it is always "a"/"an" (claims at least one), for phrases that single out one of several.
 */
function nounPhrase(rng: Rng, count: number, colour: Colour | undefined, noun: Noun, exact: boolean): string {
  const head = `${colour === undefined ? '' : `${colour} `}${count === 1 ? noun[0] : noun[1]}`;
  if (count > 1) return `${NUMBER_WORDS[count]} ${head}`;
  const r = exact ? rng.next() : 0;
  return r < 0.7 ? `${article(head)} ${head}` : r < 0.85 ? `one ${head}` : `a single ${head}`;
}

function joinList(items: readonly string[]): string {
  return items.length === 1 ? items[0] : `${items.slice(0, -1).join(' ')} and ${items[items.length - 1]}`;
}

const FRAMES = ['', 'there is', 'an image with', 'a picture of', 'a drawing of', 'a scene with'] as const;

/** Puts a frame before a list whose first phrase has `firstCount` objects ("there is" / "there are" agree). */
function frame(rng: Rng, body: string, firstCount: number): string {
  const f = pick(rng, FRAMES);
  if (f === '') return body;
  if (f === 'there is' && firstCount > 1) return `there are ${body}`;
  return `${f} ${body}`;
}

function absolutePhrase(p: { x?: 'left' | 'right'; y?: 'top' | 'bottom' }, rng: Rng): string | undefined {
  if (p.x !== undefined && p.y !== undefined && rng.next() < 0.5) return `in the ${p.y} ${p.x} corner`;
  if (p.x !== undefined && (p.y === undefined || rng.next() < 0.5)) return `on the ${p.x}`;
  if (p.y !== undefined) return `at the ${p.y}`;
  return undefined;
}

function groupBy<K>(objects: readonly ShapeObject[], key: (o: ShapeObject) => K): [K, ShapeObject[]][] {
  const m = new Map<K, ShapeObject[]>();
  for (const o of objects) m.set(key(o), [...(m.get(key(o)) ?? []), o]);
  return [...m];
}

/**
 * Every category group with its exact count, in random order; sometimes one single object is placed (only one:
 * a list of placed objects reads badly and makes the longest captions much longer).
 */
function enumerateScene(rng: Rng, scene: ShapeImage): string {
  const groups = rng.shuffle(groupBy(scene.objects, (o) => `${o.colour} ${o.shape}`).map(([, g]) => g));
  const singles = groups.filter((g) => g.length === 1);
  const placed = singles.length > 0 && rng.next() < 0.4 ? pick(rng, singles) : undefined;
  const phrases = groups.map((g) => {
    const np = nounPhrase(rng, g.length, g[0].colour, shapeNoun(rng, g[0].shape), true);
    const where = g === placed ? absolutePhrase(absolutePosition(g[0], scene.width, scene.height), rng) : undefined;
    return where === undefined ? np : `${np} ${where}`;
  });
  return frame(rng, joinList(phrases), groups[0].length);
}

/** "three shapes", "two red objects", "four shapes including two blue discs". */
function countScene(rng: Rng, scene: ShapeImage): string {
  const n = scene.objects.length;
  const colours = new Set(scene.objects.map((o) => o.colour));
  const colour = colours.size === 1 && rng.next() < 0.6 ? scene.objects[0].colour : undefined;
  const total = nounPhrase(rng, n, colour, pick(rng, GENERIC_NOUNS), true);
  const groups = groupBy(scene.objects, (o) => `${o.colour} ${o.shape}`).map(([, g]) => g);
  if (groups.length > 1 && rng.next() < 0.5) {
    const g = pick(rng, groups);
    return frame(
      rng,
      `${total} including ${nounPhrase(rng, g.length, g[0].colour, shapeNoun(rng, g[0].shape), true)}`,
      n,
    );
  }
  return frame(rng, total, n);
}

/** Grouped by colour only ("two red shapes and a blue object") or by shape only ("two boxes and a circle"). */
function partialScene(rng: Rng, scene: ShapeImage): string {
  const byColour = rng.next() < 0.5;
  const groups = rng.shuffle(groupBy<string>(scene.objects, (o) => (byColour ? o.colour : o.shape)).map(([, g]) => g));
  const phrases = groups.map((g) =>
    byColour
      ? nounPhrase(rng, g.length, g[0].colour, pick(rng, GENERIC_NOUNS), true)
      : nounPhrase(rng, g.length, undefined, shapeNoun(rng, g[0].shape), true),
  );
  return frame(rng, joinList(phrases), groups[0].length);
}

const RELATION_PHRASES: Readonly<Record<Relation, readonly string[]>> = {
  left: ['to the left of', 'left of', 'next to', 'beside'],
  right: ['to the right of', 'right of', 'next to', 'beside'],
  above: ['above'],
  below: ['below'],
};

/** One object described relative to another, or undefined when no pair stands in a clear relation. */
function relateScene(rng: Rng, scene: ShapeImage): string | undefined {
  const pairs: [ShapeObject, ShapeObject, Relation][] = [];
  for (const a of scene.objects)
    for (const b of scene.objects) {
      const r = a === b ? undefined : spatialRelation(a, b, scene.width);
      if (r !== undefined) pairs.push([a, b, r]);
    }
  if (pairs.length === 0) return undefined;
  const [a, b, r] = pick(rng, pairs);
  const np = (o: ShapeObject): string =>
    nounPhrase(rng, 1, rng.next() < 0.85 ? o.colour : undefined, shapeNoun(rng, o.shape), false);
  const body = `${np(a)} ${pick(rng, RELATION_PHRASES[r])} ${np(b)}`;
  return rng.next() < 0.6 ? body : `${pick(rng, ['there is', 'an image with', 'a picture of'])} ${body}`;
}

/** One object placed in the frame ("a red square in the top left corner"), if one sits in an outer third. */
function placeObject(rng: Rng, scene: ShapeImage): string | undefined {
  const placed = scene.objects.flatMap((o) => {
    const p = absolutePosition(o, scene.width, scene.height);
    return p.x === undefined && p.y === undefined ? [] : [{ o, p }];
  });
  if (placed.length === 0) return undefined;
  const { o, p } = pick(rng, placed);
  const np = nounPhrase(rng, 1, o.colour, shapeNoun(rng, o.shape), false);
  return frame(rng, `${np} ${absolutePhrase(p, rng) ?? ''}`.trim(), 1);
}

const TEMPLATES: readonly [weight: number, write: (rng: Rng, scene: ShapeImage) => string | undefined][] = [
  [3, enumerateScene],
  [1.5, countScene],
  [1.5, partialScene],
  [2.5, relateScene],
  [1.5, placeObject],
];

/** REFERENCES_PER_IMAGE distinct captions of a scene with at least one object. */
export function captionScene(scene: ShapeImage, rng: Rng): string[] {
  if (scene.objects.length === 0) throw new RangeError('captionScene: the scene has no objects');
  const total = TEMPLATES.reduce((s, [w]) => s + w, 0);
  const out = new Set<string>();
  // Hundreds of distinct sentences exist for any scene (frames × articles × synonyms), so this ends quickly.
  for (let attempt = 0; out.size < REFERENCES_PER_IMAGE; attempt++) {
    if (attempt > 1000) throw new Error('captionScene: could not write distinct captions');
    let u = rng.next() * total,
      k = 0;
    while (u >= TEMPLATES[k][0] && k < TEMPLATES.length - 1) u -= TEMPLATES[k++][0];
    const caption = TEMPLATES[k][1](rng, scene);
    if (caption !== undefined) out.add(caption);
  }
  return [...out];
}
