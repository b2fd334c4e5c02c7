import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatTlaValue,
  isTlaIdentifier,
  parseTlaValue,
  parseTlaValues,
  TlaParseError,
  TlaSerializeError,
  toJs,
  toTla,
  type TlaValue,
} from './values.ts';

const rec = (fields: Record<string, TlaValue>): TlaValue => ({ kind: 'record', fields });
const set = (...values: TlaValue[]): TlaValue => ({ kind: 'set', values });
const model = (name: string): TlaValue => ({ kind: 'model', name });

const identifier = fc.stringMatching(/^[a-z][A-Za-z0-9_]{0,6}$/).filter(isTlaIdentifier);

const tlaValue: fc.Arbitrary<TlaValue> = fc.letrec<{ value: TlaValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    fc.string({ unit: 'binary' }),
    fc.boolean(),
    identifier.map(model),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(tie('value'), { maxLength: 4 }).map((values) => set(...values)),
    fc.uniqueArray(fc.tuple(identifier, tie('value')), { minLength: 1, maxLength: 4, selector: ([k]) => k })
      .map((fields) => rec(Object.fromEntries(fields))),
    fc.array(fc.tuple(tie('value'), tie('value')), { minLength: 1, maxLength: 3 })
      .map((entries): TlaValue => ({ kind: 'function', entries })),
  ),
})).value;

describe('parseTlaValue', () => {
  it('reads every kind of value TLC prints', () => {
    expect(parseTlaValue('[n |-> 0, who |-> s1, tag |-> "a\\"b\\\\c"]')).toEqual(
      rec({ n: 0, who: model('s1'), tag: 'a"b\\c' }),
    );
    expect(parseTlaValue('{[src |-> s1, body |-> <<0, TRUE>>]}')).toEqual(set(rec({ src: model('s1'), body: [0, true] })));
    expect(parseTlaValue('(a :> 1 @@ b :> {})')).toEqual({ kind: 'function', entries: [[model('a'), 1], [model('b'), set()]] });
    expect(parseTlaValue('<<>>')).toEqual([]);
    expect(parseTlaValue('-3..-1')).toEqual(set(-3, -2, -1));
    expect(parseTlaValue('"l1\\nl2\\tt"')).toEqual('l1\nl2\tt');
    expect(parseTlaValue('FALSE')).toBe(false);
  });

  it('reads values TLC wrapped over several lines', () => {
    const printed = [
      '<< -3,',
      '   "l1\\nl2\\tt",',
      '   1..4,',
      '   (a :> 1 @@ b :> {}),',
      '   [k |-> 2],',
      '   (5 :> 5 @@ 7 :> 7),',
      '   {{}, {1}},',
      '   <<>>,',
      '   {},',
      '   (2 :> 3),',
      '   [u |-> a] >>',
    ].join('\n');
    expect(toJs(parseTlaValue(printed))).toEqual([
      -3, 'l1\nl2\tt', [1, 2, 3, 4], { a: 1, b: [] }, { k: 2 }, { '5': 5, '7': 7 }, [[], [1]], [], [], { '2': 3 }, { u: 'a' },
    ]);
  });

  it('reports where the text stops being a value', () => {
    expect(() => parseTlaValue('[a |-> 1')).toThrow(TlaParseError);
    expect(() => parseTlaValue('<<1, 2>> 3')).toThrow(/unexpected text after the value at offset 9/);
    expect(() => parseTlaValue('"open')).toThrow(/unterminated string/);
  });

  it('reads a run of printed values, skipping lines that are not values', () => {
    expect(parseTlaValues('<<"p", s1>>  TRUE\nWarning: something odd\n[k |-> 1]\n')).toEqual([
      ['p', model('s1')],
      true,
      rec({ k: 1 }),
    ]);
  });
});

describe('formatTlaValue', () => {
  it('writes TLC style', () => {
    expect(formatTlaValue(rec({ a: 1, b: 'x"\\' }))).toBe('[a |-> 1, b |-> "x\\"\\\\"]');
    expect(formatTlaValue({ kind: 'function', entries: [[1, 'a'], [2, 'b']] })).toBe('(1 :> "a" @@ 2 :> "b")');
    expect(formatTlaValue([set(1, 2), model('s1'), true])).toBe('<<{1, 2}, s1, TRUE>>');
  });

  it('round-trips through parseTlaValue', () => {
    fc.assert(fc.property(tlaValue, (v) => {
        expect(parseTlaValue(formatTlaValue(v))).toEqual(v);
      }),
    );
  });
});

describe('toTla', () => {
  const json = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.string({ unit: 'grapheme' }),
      fc.boolean(),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(identifier, tie('value'), { minKeys: 1, maxKeys: 4 }),
    ),
  })).value;

  it('writes JSON as TLA+ that reads back as the same JSON', () => {
    fc.assert(fc.property(json, (j) => {
        expect(toJs(parseTlaValue(toTla(j)))).toEqual(j);
      }),
    );
  });

  it('writes records, sequences and escaped strings', () => {
    expect(toTla({ node: 'client1', seq: [1, -2], ok: true, note: 'say "hi"\\' })).toBe(
      '[node |-> "client1", seq |-> <<1, -2>>, ok |-> TRUE, note |-> "say \\"hi\\"\\\\"]',
    );
  });

  it('refuses what TLA+ cannot express, saying where', () => {
    expect(() => toTla({ a: [1, 0.5] })).toThrow(new TlaSerializeError('$.a[1]: 0.5 is not a 32-bit integer, the only numbers TLC has'));
    expect(() => toTla({ 'src-port': 1 })).toThrow(/key "src-port" is not a TLA\+ identifier/);
    expect(() => toTla({ ELSE: 1 })).toThrow(TlaSerializeError);
    expect(() => toTla(null)).toThrow(/null has no TLA\+ counterpart/);
    expect(() => toTla(2 ** 31)).toThrow(TlaSerializeError);
  });
});
