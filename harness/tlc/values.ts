/**
 * TLA+ values as TLC prints them, parsed into JS, and plain JSON serialized into TLA+ text.
 *
 * TLC prints a function whose domain is `1..n` as a sequence `<<…>>` and one whose domain is a set
 * of strings as a record `[a |-> …]`; other functions as `(k1 :> v1 @@ k2 :> v2)`. The parser keeps
 * the printed form: it does not normalize between these three.
 */

export type TlaValue =
  | number
  | string
  | boolean
  /** A sequence or tuple `<<a, b>>`. */
  | TlaValue[]
  /** A set, elements in printed order. An interval `1..3` is parsed into its elements. */
  | { kind: 'set'; values: TlaValue[] }
  | { kind: 'record'; fields: Record<string, TlaValue> }
  /** A function printed as `(k :> v @@ …)`. */
  | { kind: 'function'; entries: [TlaValue, TlaValue][] }
  /** A model value or any other bare identifier, e.g. `s1`. */
  | { kind: 'model'; name: string };

/** What `toJs` gives: plain JS data (lossy; see `toJs`). */
export type JsValue = number | string | boolean | JsValue[] | { [key: string]: JsValue };

/** The text is not a TLA+ value as TLC prints it. */
export class TlaParseError extends Error {
  override name = 'TlaParseError';
  constructor(
    message: string,
    readonly text: string,
    readonly position: number,
  ) {
    super(`${message} at offset ${position} of ${JSON.stringify(excerpt(text, position))}`);
  }
}

const excerpt = (text: string, at: number): string =>
  text.length <= 80 ? text : `…${text.slice(Math.max(0, at - 30), at + 30)}…`;

const IDENT_CHAR = /[A-Za-z0-9_]/;
const IDENT = /^[A-Za-z0-9_]*[A-Za-z][A-Za-z0-9_]*$/;
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', f: '\f', '"': '"', '\\': '\\' };

/** A recursive-descent parser over one text; `pos` advances as values are read. */
export class TlaValueParser {
  pos = 0;

  constructor(readonly text: string) {}

  /** Skips whitespace; true when the text is exhausted. */
  atEnd(): boolean {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
    return this.pos >= this.text.length;
  }

  /** Consumes `token` (after whitespace) if it is next. */
  eat(token: string): boolean {
    if (this.atEnd() || !this.text.startsWith(token, this.pos)) return false;
    this.pos += token.length;
    return true;
  }

  expect(token: string): void {
    if (!this.eat(token)) throw this.fail(`expected "${token}"`);
  }

  fail(message: string): TlaParseError {
    return new TlaParseError(message, this.text, this.pos);
  }

  /** An identifier or integer-like word: `[A-Za-z0-9_]+`. */
  word(): string {
    this.atEnd();
    const start = this.pos;
    while (this.pos < this.text.length && IDENT_CHAR.test(this.text[this.pos]!)) this.pos++;
    if (this.pos === start) throw this.fail('expected a value');
    return this.text.slice(start, this.pos);
  }

  value(): TlaValue {
    if (this.atEnd()) throw this.fail('unexpected end of text');
    const first = this.primary();
    if (typeof first === 'number' && this.eat('..')) {
      const last = this.integer();
      return { kind: 'set', values: Array.from({ length: Math.max(0, last - first + 1) }, (_, i) => first + i) };
    }
    return first;
  }

  private primary(): TlaValue {
    const c = this.text[this.pos]!;
    if (c === '"') return this.string();
    if (this.eat('<<')) return this.list('>>');
    if (this.eat('{')) return { kind: 'set', values: this.list('}') };
    if (this.eat('[')) return this.record();
    if (this.eat('(')) return this.function();
    if (c === '-' || /[0-9]/.test(c)) {
      const start = this.pos;
      if (c === '-') this.pos++;
      const word = this.word();
      if (/^[0-9]+$/.test(word)) return Number(this.text.slice(start, this.pos));
      if (c === '-') throw this.fail('expected digits after "-"');
      return { kind: 'model', name: word };
    }
    const word = this.word();
    if (word === 'TRUE') return true;
    if (word === 'FALSE') return false;
    return { kind: 'model', name: word };
  }

  private integer(): number {
    const v = this.primary();
    if (typeof v !== 'number') throw this.fail('expected an integer');
    return v;
  }

  private string(): string {
    let out = '';
    for (this.pos++; this.pos < this.text.length; this.pos++) {
      const c = this.text[this.pos]!;
      if (c === '"') {
        this.pos++;
        return out;
      }
      if (c === '\\') {
        const escaped = ESCAPES[this.text[++this.pos] ?? ''];
        if (escaped === undefined) throw this.fail('unknown escape in string');
        out += escaped;
      } else out += c;
    }
    throw this.fail('unterminated string');
  }

  private list(close: string): TlaValue[] {
    const values: TlaValue[] = [];
    if (this.eat(close)) return values;
    do values.push(this.value());
    while (this.eat(','));
    this.expect(close);
    return values;
  }

  private record(): TlaValue {
    const fields: [string, TlaValue][] = [];
    do {
      const name = this.word();
      this.expect('|->');
      fields.push([name, this.value()]);
    } while (this.eat(','));
    this.expect(']');
    return { kind: 'record', fields: Object.fromEntries(fields) };
  }

  private function(): TlaValue {
    const entries: [TlaValue, TlaValue][] = [];
    do {
      const key = this.value();
      this.expect(':>');
      entries.push([key, this.value()]);
    } while (this.eat('@@'));
    this.expect(')');
    return { kind: 'function', entries };
  }
}

/** Parses exactly one value (surrounding whitespace allowed). */
export function parseTlaValue(text: string): TlaValue {
  const parser = new TlaValueParser(text);
  const value = parser.value();
  if (!parser.atEnd()) throw parser.fail('unexpected text after the value');
  return value;
}

/**
 * Parses the values in a run of printed text (e.g. several `PrintT` outputs, or `Print`'s
 * `out  val`). A line that is not made of values (e.g. a warning) is skipped.
 */
export function parseTlaValues(text: string): TlaValue[] {
  const parser = new TlaValueParser(text);
  const values: { start: number; value: TlaValue }[] = [];
  while (!parser.atEnd()) {
    const start = parser.pos;
    try {
      values.push({ start, value: parser.value() });
    } catch (err) {
      if (!(err instanceof TlaParseError)) throw err;
      const lineStart = text.lastIndexOf('\n', start - 1) + 1;
      while (values.length > 0 && values.at(-1)!.start >= lineStart) values.pop();
      const nextLine = text.indexOf('\n', start);
      parser.pos = nextLine < 0 ? text.length : nextLine + 1;
    }
  }
  return values.map((v) => v.value);
}

const escapeString = (s: string): string =>
  `"${s.replace(/[\\"\n\t\r\f]/g, (c) => `\\${{ '\n': 'n', '\t': 't', '\r': 'r', '\f': 'f' }[c] ?? c}`)}"`;

/**
 * TLA+ text of a value, in TLC's one-line style. An empty record or function has no syntax of
 * its own and is written `<<>>` (the empty function, which is what TLC prints for it).
 */
export function formatTlaValue(v: TlaValue): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return escapeString(v);
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (Array.isArray(v)) return `<<${v.map(formatTlaValue).join(', ')}>>`;
  switch (v.kind) {
    case 'set':
      return `{${v.values.map(formatTlaValue).join(', ')}}`;
    case 'record': {
      const fields = Object.entries(v.fields);
      return fields.length === 0 ? '<<>>' : `[${fields.map(([k, x]) => `${k} |-> ${formatTlaValue(x)}`).join(', ')}]`;
    }
    case 'function':
      return v.entries.length === 0
        ? '<<>>'
        : `(${v.entries.map(([k, x]) => `${formatTlaValue(k)} :> ${formatTlaValue(x)}`).join(' @@ ')})`;
    case 'model':
      return v.name;
  }
}

/**
 * Plain JS data for assertions and reports. Lossy: sets become arrays (printed order), model
 * values their names, and functions objects keyed by the key's string (a string key as is, any
 * other key by its TLA+ text).
 */
export function toJs(v: TlaValue): JsValue {
  if (typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(toJs);
  switch (v.kind) {
    case 'set':
      return v.values.map(toJs);
    case 'record':
      return Object.fromEntries(Object.entries(v.fields).map(([k, x]) => [k, toJs(x)]));
    case 'function':
      return Object.fromEntries(v.entries.map(([k, x]) => [typeof k === 'string' ? k : formatTlaValue(k), toJs(x)]));
    case 'model':
      return v.name;
  }
}

/** Words that cannot be record fields or model values. */
const RESERVED = new Set(
  ('ASSUME ASSUMPTION AXIOM BOOLEAN CASE CHOOSE CONSTANT CONSTANTS DOMAIN ELSE ENABLED EXCEPT EXTENDS ' +
    'FALSE IF IN INSTANCE LET LOCAL MODULE OTHER SF_ STRING SUBSET THEN THEOREM TRUE UNCHANGED UNION ' +
    'VARIABLE VARIABLES WF_ WITH LAMBDA RECURSIVE ACTION HAVE HIDE OBVIOUS OMITTED PROOF PROVE QED ' +
    'SUFFICES TAKE USE WITNESS BY DEF DEFINE DEFS NEW ONLY PICK STATE TEMPORAL')
    .split(' '),
);

/** Whether `name` can be written as a TLA+ record field or model value. */
export const isTlaIdentifier = (name: string): boolean => IDENT.test(name) && !RESERVED.has(name);

/** TLC's integers are 32-bit. */
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

/** A JSON value TLA+ cannot express. */
export class TlaSerializeError extends Error {
  override name = 'TlaSerializeError';
}

/**
 * TLA+ text of plain JSON: objects become records, arrays sequences; strings, 32-bit integers and
 * booleans as themselves. Throws `TlaSerializeError` for null, non-integers, out-of-range
 * integers and object keys that are not TLA+ identifiers. Negative integers need `Integers`.
 */
export function toTla(json: unknown, path = '$'): string {
  if (typeof json === 'string') return escapeString(json);
  if (typeof json === 'boolean') return json ? 'TRUE' : 'FALSE';
  if (typeof json === 'number') {
    if (!Number.isInteger(json) || json < INT_MIN || json > INT_MAX) {
      throw new TlaSerializeError(`${path}: ${json} is not a 32-bit integer, the only numbers TLC has`);
    }
    return String(json);
  }
  if (Array.isArray(json)) return `<<${json.map((x, i) => toTla(x, `${path}[${i}]`)).join(', ')}>>`;
  if (json !== null && typeof json === 'object') {
    const fields = Object.entries(json);
    if (fields.length === 0) return '<<>>';
    return `[${fields
      .map(([k, x]) => {
        if (!isTlaIdentifier(k)) {
          throw new TlaSerializeError(`${path}: key ${JSON.stringify(k)} is not a TLA+ identifier (letters, digits, _; not a keyword)`);
        }
        return `${k} |-> ${toTla(x, `${path}.${k}`)}`;
      })
      .join(', ')}]`;
  }
  throw new TlaSerializeError(`${path}: ${String(json)} has no TLA+ counterpart (use a string, integer, boolean, array or object)`);
}
