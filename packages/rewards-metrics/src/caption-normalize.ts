/**
 * Caption normalisation as coco-caption does it before CIDEr-D / BLEU: Stanford PTBTokenizer (CoreNLP 3.4.1,
 * `-preserveLines -lowerCase`), then dropping the punctuation tokens in pycocoevalcap's `PUNCTUATIONS` list, then
 * joining with single spaces. The Java tokenizer is not available here, so this is a pure-TypeScript approximation
 * of the PTB lexer for the text COCO captions contain.
 *
 * Reproduced PTB behaviour:
 * - lowercasing happens AFTER lexing (PTBTokenizer lowercases each token's text), so bracket tokens become
 *   `-lrb-`/`-rrb-`/`-lsb-`/`-rsb-`/`-lcb-`/`-rcb-`, which pycocoevalcap's upper-case list does not match: they stay.
 * - `, ; ! ? :` and `$ % #` are split off (not inside numbers such as `1,000` or `3:30`); a word-final `.` is split off
 *   unless the word is an acronym (`u.s.`) or a known abbreviation (`mr.`) that does not end the line; `...` and `--`
 *   split.
 * - double quotes become `` `` ``/`''`, lone single quotes `` ` ``/`'`: all removed.
 * - clitics split: `n't 's 're 'll 've 'm 'd` (`don't` → `do n't`, `can't` → `ca n't`), and `cannot` → `can not`,
 *   `gonna`/`gotta`/`wanna` → `gon na`/`got ta`/`wan na`.
 * - curly quotes and apostrophes (‘ ’ “ ”) are treated as their ASCII forms.
 *
 * Known differences from the Java tokenizer (rare in captions, but they exist):
 * - `americanize` (colour → color, …) is not applied.
 * - `/` and `*` are not escaped to `\/` and `\*`.
 * - currency/fraction/ampersand-entity normalisation (`&amp;` → `&`, `½` → `1\/2`) and Unicode dash/ellipsis
 *   normalisation are not applied; URLs, e-mail addresses, emoticons and SGML tags are not recognised as single
 *   tokens.
 * - the abbreviation list is short: PTB's lexer knows many more, and it handles a sentence-final abbreviation by
 *   emitting an extra `.` token (removed anyway).
 */

/** Tokens pycocoevalcap removes after PTB tokenisation (compared case-sensitively, after lowercasing). */
const PUNCTUATION = new Set([
  "''",
  "'",
  '``',
  '`',
  '-LRB-',
  '-RRB-',
  '-LCB-',
  '-RCB-',
  '.',
  '?',
  '!',
  ',',
  ':',
  '-',
  '--',
  '...',
  ';',
]);

// Already lower-cased: PTB emits -LRB- etc. and -lowerCase lowercases them afterwards.
const BRACKETS: Readonly<Record<string, string>> = {
  '(': '-lrb-',
  ')': '-rrb-',
  '[': '-lsb-',
  ']': '-rsb-',
  '{': '-lcb-',
  '}': '-rcb-',
};

/** Words PTB keeps with their final period (a small subset of its list). */
const ABBREVIATIONS = new Set([
  'mr',
  'mrs',
  'ms',
  'dr',
  'st',
  'jr',
  'sr',
  'vs',
  'etc',
  'mt',
  'prof',
  'inc',
  'co',
  'ltd',
  'ave',
  'no',
]);

const ALWAYS_SPLIT = new Set(['...', '--', ';', '!', '?', '$', '%', '#']);
const PLAIN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const CLITIC = /^(.+?)(n't|'s|'re|'ll|'ve|'m|'d)$/i;
const SPLIT_WORDS: Readonly<Record<string, readonly string[]>> = {
  cannot: ['can', 'not'],
  gonna: ['gon', 'na'],
  gotta: ['got', 'ta'],
  wanna: ['wan', 'na'],
};

/** Splits one whitespace-free chunk into PTB tokens (original case). */
function lexChunk(chunk: string, lineEnd: boolean, out: string[]): void {
  // Most caption words are plain (letters, digits, inner single hyphens) and stay one token: skip the regexes below.
  if (PLAIN.test(chunk) && !SPLIT_WORDS[chunk]) {
    out.push(chunk);
    return;
  }
  // Separators that split everywhere: brackets, double quotes, `...`, `--`, `; ! ?`, and `$ % #` (PTB: `$5` → `$ 5`,
  // `50%` → `50 %`).
  const pieces = chunk.split(/(\.\.\.|--|[()[\]{}";!?$%#])/);
  for (let k = 0; k < pieces.length; k++) {
    const piece = pieces[k];
    if (piece === '') continue;
    if (piece in BRACKETS) out.push(BRACKETS[piece]);
    else if (piece === '"') out.push("''");
    else if (piece.length <= 3 && ALWAYS_SPLIT.has(piece)) out.push(piece);
    else
      lexWordish(
        piece,
        lineEnd && pieces.slice(k + 1).every((p) => p === '' || /^[)\]}"]$/.test(p) || p === '...'),
        out,
      );
  }
}

/** A piece with no always-split characters: commas/colons (not between digits), quotes, final period, clitics. */
function lexWordish(piece: string, lineEnd: boolean, out: string[]): void {
  // Commas and colons split unless both neighbours are digits (1,000 and 3:30 stay whole).
  const parts = piece.split(/((?<!\d)[,:]|[,:](?!\d))/);
  for (let k = 0; k < parts.length; k++) {
    const p = parts[k];
    if (p === '') continue;
    if (p === ',' || p === ':') out.push(p);
    else lexWord(p, lineEnd && parts.slice(k + 1).every((q) => q === '' || q === ',' || q === ':'), out);
  }
}

function lexWord(word: string, lineEnd: boolean, out: string[]): void {
  let w = word;
  const lead: string[] = [];
  while (w.length > 0 && (w[0] === "'" || w[0] === '`')) {
    // A leading apostrophe starts a clitic only for the contraction forms ('s, 're, …) standing alone.
    if (/^'(s|re|ll|ve|m|d)$/i.test(w)) break;
    lead.push('`');
    w = w.slice(1);
  }
  const trail: string[] = [];
  for (;;) {
    if (w.endsWith("'") && !/^'+$/.test(w)) {
      // `dogs'` → `dogs '`; `n'`-style forms are rare enough to ignore.
      trail.unshift("'");
      w = w.slice(0, -1);
    } else if (w.endsWith('.') && w.length > 1 && !keepsPeriod(w, lineEnd && trail.length === 0)) {
      trail.unshift('.');
      w = w.slice(0, -1);
    } else {
      break;
    }
  }
  out.push(...lead);
  if (w !== '') splitClitics(w, out);
  out.push(...trail);
}

function keepsPeriod(w: string, lineEnd: boolean): boolean {
  if (/^([a-z]\.){2,}$/i.test(w)) return true; // acronyms such as u.s. keep their period
  return !lineEnd && ABBREVIATIONS.has(w.slice(0, -1).toLowerCase());
}

function splitClitics(w: string, out: string[]): void {
  const whole = SPLIT_WORDS[w.toLowerCase()];
  if (whole) {
    // Keep the original case of each half; lowercasing happens later.
    out.push(w.slice(0, whole[0].length), w.slice(whole[0].length));
    return;
  }
  const m = CLITIC.exec(w);
  if (m && /[a-z0-9]/i.test(m[1])) {
    out.push(m[1], m[2]);
    return;
  }
  out.push(w);
}

/**
 * PTB tokens of one caption, lower-cased as `-lowerCase` does (punctuation not yet removed). No lexing rule here
 * depends on letter case, so lowercasing the text first gives the same tokens as lowercasing each token after.
 */
export function ptbTokens(caption: string): string[] {
  let text = caption.toLowerCase();
  if (/[\u2018\u2019\u201c\u201d\u2026]/.test(text)) {
    text = text
      .replace(/[\u2018\u2019]/g, "'")
      .replace(/[\u201c\u201d]/g, '"')
      .replace(/\u2026/g, '...');
  }
  const chunks = text.split(/\s+/);
  const out: string[] = [];
  let last = chunks.length - 1;
  while (last >= 0 && chunks[last] === '') last--;
  for (let i = 0; i <= last; i++) if (chunks[i] !== '') lexChunk(chunks[i], i === last, out);
  return out;
}

/** Captions of plain words, single spaces and at most a final full stop (most COCO captions, once lower-cased). */
const PLAIN_CAPTION = /^[a-z0-9 -]*$/;
/** A plain caption holding a word the lexer splits. */
const HAS_SPLIT_WORD = new RegExp(`(?:^| )(?:${Object.keys(SPLIT_WORDS).join('|')})(?: |$)`);
/** A plain caption that is not yet its own result: an edge space, a double space or a lone `-` (punctuation). */
const NEEDS_REJOIN = /^ | $| {2}|(?:^| )-(?: |$)/;

/** A caption as coco-caption scores it: PTB tokens, lower-cased, punctuation tokens removed, single spaces. */
export function normalizeCaption(caption: string): string {
  const fast = plainCaption(caption.toLowerCase());
  if (fast !== undefined) return fast;
  let s = '';
  for (const t of ptbTokens(caption)) if (!PUNCTUATION.has(t)) s = s === '' ? t : `${s} ${t}`;
  return s;
}

/**
 * The same result as the lexer for a plain caption, without it: every space-separated chunk is then one PTB token
 * (a final `.` splits off, `-` alone is punctuation). Undefined when the caption needs the lexer.
 */
function plainCaption(text: string): string | undefined {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 32) end--;
  if (end > 0 && text.charCodeAt(end - 1) === 46) end--; // a final full stop
  const body = text.slice(0, end);
  if (!PLAIN_CAPTION.test(body) || body.includes('--') || HAS_SPLIT_WORD.test(body)) return undefined;
  // Most captions: the body already is the result, so build no new string (the hot path of a whole-corpus run).
  if (!NEEDS_REJOIN.test(body)) return body;
  let s = '';
  for (const t of body.split(' ')) {
    if (t === '' || t === '-') continue;
    s = s === '' ? t : `${s} ${t}`;
  }
  return s;
}
