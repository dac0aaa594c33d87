// Synthetic captions: determinism, variety, and — the point — that every claim a caption makes is true of its scene,
// checked by an independent parser of the caption language written here (not the generator's own tables).
import type { ShapeImage, ShapeObject } from '@reward-tune/core-model';
import {
  captionScene,
  generateCaptionedScene,
  REFERENCES_PER_IMAGE,
  spatialRelation,
  absolutePosition,
} from './synthetic';
import { Rng } from '@reward-tune/core-model';

type Shape = ShapeObject['shape'];
type Colour = ShapeObject['colour'];

// The meaning of each noun, spelled out independently of the generator.
const NOUNS: Record<string, { shape?: Shape; plural: boolean }> = {
  square: { shape: 'square', plural: false },
  squares: { shape: 'square', plural: true },
  box: { shape: 'square', plural: false },
  boxes: { shape: 'square', plural: true },
  block: { shape: 'square', plural: false },
  blocks: { shape: 'square', plural: true },
  circle: { shape: 'circle', plural: false },
  circles: { shape: 'circle', plural: true },
  disc: { shape: 'circle', plural: false },
  discs: { shape: 'circle', plural: true },
  ball: { shape: 'circle', plural: false },
  balls: { shape: 'circle', plural: true },
  triangle: { shape: 'triangle', plural: false },
  triangles: { shape: 'triangle', plural: true },
  pyramid: { shape: 'triangle', plural: false },
  pyramids: { shape: 'triangle', plural: true },
  shape: { plural: false },
  shapes: { plural: true },
  object: { plural: false },
  objects: { plural: true },
};
const COLOUR_WORDS = new Set(['red', 'green', 'blue']);
const EXACT: Record<string, number> = { one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8 };
// Words that carry no claim: frames and connectives.
const FILLER = new Set([
  'there',
  'is',
  'are',
  'an',
  'a',
  'image',
  'with',
  'picture',
  'of',
  'drawing',
  'scene',
  'and',
  'including',
]);

interface NounPhrase {
  colour?: Colour;
  shape?: Shape;
  /** Exact count, or undefined for "a"/"an" (at least one). */
  exact?: number;
  where?: string; // 'left' | 'right' | 'top' | 'bottom' | 'top left' ...
}
interface Claims {
  phrases: NounPhrase[];
  relations: { a: NounPhrase; b: NounPhrase; rel: string }[];
  unparsed: string[];
}

function parseCaption(caption: string): Claims {
  const t = caption.split(' ');
  const phrases: NounPhrase[] = [];
  const relations: Claims['relations'] = [];
  const unparsed: string[] = [];
  let i = 0;

  const nounPhrase = (): NounPhrase | undefined => {
    let j = i,
      exact: number | undefined,
      count = 1;
    if ((t[j] === 'a' || t[j] === 'an') && t[j + 1] === 'single') {
      exact = 1;
      j += 2;
    } else if (t[j] === 'a' || t[j] === 'an') {
      j += 1;
    } else if (t[j] in EXACT) {
      exact = count = EXACT[t[j]];
      j += 1;
    } else {
      return undefined;
    }
    const colour = COLOUR_WORDS.has(t[j]) ? (t[j++] as Colour) : undefined;
    const noun = NOUNS[t[j]];
    if (noun === undefined) return undefined;
    expect(noun.plural).toBe(count > 1); // agreement: "two squares", "a square"
    const np: NounPhrase = { colour, shape: noun.shape, exact };
    i = j + 1;
    const place = t.slice(i, i + 5).join(' ');
    const m = /^(?:on the (left|right)|at the (top|bottom)|in the (top|bottom) (left|right) corner)\b/.exec(place);
    if (m) {
      np.where = m[1] ?? m[2] ?? `${m[3]} ${m[4]}`;
      i += m[0].split(' ').length;
    }
    return np;
  };

  let previous: NounPhrase | undefined;
  while (i < t.length) {
    const np = nounPhrase();
    if (np !== undefined) {
      phrases.push(np);
      previous = np;
      continue;
    }
    const rest = t.slice(i).join(' ');
    const rel = /^(to the left of|left of|to the right of|right of|next to|beside|above|below) /.exec(rest);
    if (rel && previous !== undefined) {
      i += rel[1].split(' ').length;
      const b = nounPhrase();
      expect(b).toBeDefined(); // a relation always relates two noun phrases
      phrases.push(b!);
      relations.push({ a: previous, b: b!, rel: rel[1] });
      previous = b;
      continue;
    }
    if (!FILLER.has(t[i])) unparsed.push(t[i]);
    i++;
  }
  return { phrases, relations, unparsed };
}

const centre = (o: ShapeObject): [number, number] => [o.bbox[0] + o.bbox[2] / 2, o.bbox[1] + o.bbox[3] / 2];
const matches = (scene: ShapeImage, np: NounPhrase): ShapeObject[] =>
  scene.objects.filter(
    (o) => (np.colour === undefined || o.colour === np.colour) && (np.shape === undefined || o.shape === np.shape),
  );

function placedTrue(o: ShapeObject, where: string, size: number): boolean {
  const [x, y] = centre(o);
  return where
    .split(' ')
    .every((w) =>
      w === 'left' ? x < size / 2 : w === 'right' ? x > size / 2 : w === 'top' ? y < size / 2 : y > size / 2,
    );
}

function relationTrue(a: ShapeObject, b: ShapeObject, rel: string): boolean {
  const [ax, ay] = centre(a),
    [bx, by] = centre(b);
  const dx = bx - ax,
    dy = by - ay;
  const horizontal = Math.abs(dx) > Math.abs(dy),
    vertical = Math.abs(dy) > Math.abs(dx);
  if (rel.includes('left')) return horizontal && dx > 0;
  if (rel.includes('right')) return horizontal && dx < 0;
  if (rel === 'next to' || rel === 'beside') return horizontal;
  if (rel === 'above') return vertical && dy > 0; // image y grows downwards
  if (rel === 'below') return vertical && dy < 0;
  throw new Error(rel);
}

/** The problems with a caption for a scene; empty when every claim holds. */
function falseClaims(scene: ShapeImage, caption: string): string[] {
  const problems: string[] = [];
  const { phrases, relations, unparsed } = parseCaption(caption);
  if (unparsed.length > 0) problems.push(`unparsed words ${unparsed.join(',')}`);
  if (phrases.length === 0) problems.push('no noun phrase');
  for (const np of phrases) {
    const m = matches(scene, np);
    if (np.exact !== undefined ? m.length !== np.exact : m.length === 0)
      problems.push(`count of ${JSON.stringify(np)} is ${m.length}`);
    if (np.where !== undefined && !m.some((o) => placedTrue(o, np.where!, scene.width)))
      problems.push(`nothing ${np.where}`);
  }
  for (const r of relations) {
    const ok = matches(scene, r.a).some((a) => matches(scene, r.b).some((b) => a !== b && relationTrue(a, b, r.rel)));
    if (!ok) problems.push(`relation ${r.rel} false`);
  }
  // Every colour and shape word must sit inside a parsed phrase (no claims the parser skipped over).
  const words = caption.split(' ');
  const coloured = phrases.filter((p) => p.colour !== undefined).length;
  if (words.filter((w) => COLOUR_WORDS.has(w)).length !== coloured) problems.push('stray colour word');
  if (words.filter((w) => w in NOUNS).length !== phrases.length) problems.push('stray noun');
  return problems;
}

const obj = (colour: Colour, shape: Shape, bbox: [number, number, number, number]): ShapeObject => ({
  categoryId: 1,
  colour,
  shape,
  bbox,
  area: bbox[2] * bbox[3],
});

describe('synthetic captions', () => {
  it('writes 5 distinct, normalised captions, every claim true of its scene (300 scenes, 1–4 and 1–8 objects)', () => {
    const failures: string[] = [];
    const cases = [
      { seed: 7, stream: 0, size: 32, n: 200 },
      { seed: 8, stream: 1, size: 48, maxObjects: 8, n: 100 },
    ];
    for (const { n, ...opts } of cases)
      for (let i = 0; i < n; i++) {
        const { image, captions } = generateCaptionedScene(opts, i);
        expect(image.objects.length).toBeGreaterThan(0);
        expect(image.objects.length).toBeLessThanOrEqual(opts.maxObjects ?? 4);
        expect(captions).toHaveLength(REFERENCES_PER_IMAGE);
        expect(new Set(captions).size).toBe(REFERENCES_PER_IMAGE);
        for (const c of captions) {
          expect(c).toMatch(/^[a-z]+( [a-z]+)*$/);
          for (const p of falseClaims(image, c)) failures.push(`${JSON.stringify(image.objects)} "${c}": ${p}`);
        }
      }
    expect(failures).toEqual([]);
  });

  it('the checker itself catches false claims', () => {
    const scene: ShapeImage = {
      width: 30,
      height: 30,
      rgb: new Uint8Array(30 * 30 * 3),
      objects: [
        obj('red', 'square', [0, 10, 6, 6]),
        obj('blue', 'circle', [20, 12, 6, 6]),
        obj('red', 'square', [12, 0, 4, 4]),
      ],
    };
    expect(falseClaims(scene, 'two red boxes and a blue disc')).toEqual([]);
    expect(falseClaims(scene, 'a red square to the left of a blue ball')).toEqual([]);
    expect(falseClaims(scene, 'a single red square')).toEqual([
      'count of {"colour":"red","shape":"square","exact":1} is 2',
    ]);
    expect(falseClaims(scene, 'a green square')).toHaveLength(1);
    expect(falseClaims(scene, 'a blue circle to the left of a red square')).toEqual(['relation to the left of false']);
    expect(falseClaims(scene, 'a blue circle on the left')).toEqual(['nothing left']);
    expect(falseClaims(scene, 'three shapes near a tree')).toEqual(['unparsed words near,tree']);
  });

  it('is deterministic per scene and the streams differ', () => {
    const a = generateCaptionedScene({ seed: 3, stream: 0, size: 32 }, 5);
    const b = generateCaptionedScene({ seed: 3, stream: 0, size: 32 }, 5);
    expect(b.captions).toEqual(a.captions);
    expect(Buffer.from(b.image.rgb).equals(Buffer.from(a.image.rgb))).toBe(true);
    const other = generateCaptionedScene({ seed: 3, stream: 1, size: 32 }, 5);
    expect(Buffer.from(other.image.rgb).equals(Buffer.from(a.image.rgb))).toBe(false);
  });

  it('varies the wording: synonyms, counts, frames and relations all occur', () => {
    const words = new Set<string>();
    for (let i = 0; i < 60; i++)
      for (const c of generateCaptionedScene({ seed: 1, stream: 0, size: 32 }, i).captions)
        c.split(' ').forEach((w) => words.add(w));
    for (const w of [
      'box',
      'block',
      'disc',
      'ball',
      'pyramid',
      'shapes',
      'two',
      'three',
      'four',
      'there',
      'image',
      'including',
      'left',
      'right',
      'above',
      'below',
      'beside',
      'corner',
      'single',
    ])
      expect(words).toContain(w);
  });

  it('relates objects only when their centres are clearly apart along one axis', () => {
    const a = obj('red', 'square', [0, 0, 4, 4]); // centre (2, 2)
    expect(spatialRelation(a, obj('blue', 'circle', [10, 1, 4, 4]), 32)).toBe('left'); // dx 10, dy 1
    expect(spatialRelation(a, obj('blue', 'circle', [1, 20, 4, 4]), 32)).toBe('above');
    expect(spatialRelation(obj('blue', 'circle', [10, 1, 4, 4]), a, 32)).toBe('right');
    expect(spatialRelation(a, obj('blue', 'circle', [10, 6, 4, 4]), 32)).toBeUndefined(); // dx 10 < 2·dy 12: diagonal
    expect(spatialRelation(a, obj('blue', 'circle', [4, 0, 4, 4]), 32)).toBeUndefined(); // 4 px < 15% of 32
    expect(absolutePosition(obj('red', 'square', [26, 0, 4, 4]), 32, 32)).toEqual({ x: 'right', y: 'top' });
    expect(absolutePosition(obj('red', 'square', [14, 14, 4, 4]), 32, 32)).toEqual({ x: undefined, y: undefined });
  });

  it('refuses a scene with no objects', () => {
    expect(() => captionScene({ width: 4, height: 4, rgb: new Uint8Array(48), objects: [] }, Rng.fromSeed(1))).toThrow(
      'no objects',
    );
  });
});
