import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { KvStore, decodeOp, decodeResult, encodeOp, encodeResult, isReadOnly, type KvOp } from './kv.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const isError = (v: unknown): v is { error: string } =>
  typeof v === 'object' && v !== null && typeof (v as { error?: unknown }).error === 'string';

const arbOp: fc.Arbitrary<KvOp> = fc.oneof(
  fc.record({ op: fc.constant('get' as const), key: fc.string() }),
  fc.record({ op: fc.constant('put' as const), key: fc.string(), value: fc.string() }),
  fc.record({ op: fc.constant('cas' as const), key: fc.string(), expected: fc.option(fc.string(), { nil: null }), value: fc.string() }),
);

describe('KvStore.apply', () => {
  it('get of an unset key is null; put stores and answers true; get reads it back', () => {
    const s = new KvStore();
    expect(s.apply({ op: 'get', key: 'a' })).toBeNull();
    expect(s.apply({ op: 'put', key: 'a', value: '1' })).toBe(true);
    expect(s.apply({ op: 'get', key: 'a' })).toBe('1');
    expect(s.apply({ op: 'put', key: 'a', value: '2' })).toBe(true);
    expect(s.apply({ op: 'get', key: 'a' })).toBe('2');
    expect(s.size).toBe(1);
  });

  it('a put of the empty string is a value, not an unset key', () => {
    const s = new KvStore();
    s.apply({ op: 'put', key: 'k', value: '' });
    expect(s.apply({ op: 'get', key: 'k' })).toBe('');
    expect(s.apply({ op: 'cas', key: 'k', expected: null, value: 'x' })).toBe(false);
    expect(s.apply({ op: 'cas', key: 'k', expected: '', value: 'x' })).toBe(true);
  });

  it('cas swaps only when the current value equals expected (null: unset)', () => {
    const s = new KvStore();
    expect(s.apply({ op: 'cas', key: 'k', expected: 'v', value: 'w' })).toBe(false);
    expect(s.apply({ op: 'get', key: 'k' })).toBeNull();
    expect(s.apply({ op: 'cas', key: 'k', expected: null, value: 'v' })).toBe(true);
    expect(s.apply({ op: 'get', key: 'k' })).toBe('v');
    expect(s.apply({ op: 'cas', key: 'k', expected: null, value: 'z' })).toBe(false);
    expect(s.apply({ op: 'cas', key: 'k', expected: 'x', value: 'z' })).toBe(false);
    expect(s.apply({ op: 'get', key: 'k' })).toBe('v');
    expect(s.apply({ op: 'cas', key: 'k', expected: 'v', value: 'w' })).toBe(true);
    expect(s.apply({ op: 'get', key: 'k' })).toBe('w');
  });

  it('get leaves the store unchanged; snapshot is sorted by key', () => {
    const s = new KvStore();
    s.apply({ op: 'put', key: 'b', value: '2' });
    s.apply({ op: 'put', key: 'a', value: '1' });
    s.apply({ op: 'put', key: 'c', value: '3' });
    const before = s.snapshot();
    s.apply({ op: 'get', key: 'a' });
    s.apply({ op: 'get', key: 'zz' });
    expect(s.snapshot()).toEqual(before);
    expect(before).toEqual([['a', '1'], ['b', '2'], ['c', '3']]);
  });

  it('is deterministic: two stores given the same operations agree on every result and state', () => {
    fc.assert(fc.property(fc.array(arbOp, { maxLength: 40 }), (ops) => {
      const a = new KvStore();
      const b = new KvStore();
      expect(ops.map((o) => a.apply(o))).toEqual(ops.map((o) => b.apply(o)));
      expect(a.snapshot()).toEqual(b.snapshot());
    }));
  });

  it('only get is read-only', () => {
    expect(isReadOnly({ op: 'get', key: 'k' })).toBe(true);
    expect(isReadOnly({ op: 'put', key: 'k', value: 'v' })).toBe(false);
    expect(isReadOnly({ op: 'cas', key: 'k', expected: null, value: 'v' })).toBe(false);
  });
});

describe('operation encoding', () => {
  it('round-trips every operation', () => {
    fc.assert(fc.property(arbOp, (op) => {
      expect(decodeOp(encodeOp(op))).toEqual(op);
    }));
  });

  it('round-trips non-ASCII keys and values, lone surrogates included', () => {
    const op: KvOp = { op: 'cas', key: 'clé', expected: 'ünï', value: '値🙂\ud800' };
    expect(decodeOp(encodeOp(op))).toEqual(op);
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 24 }), fc.string({ unit: 'binary', maxLength: 24 }), (key, value) => {
      expect(decodeOp(encodeOp({ op: 'put', key, value }))).toEqual({ op: 'put', key, value });
    }));
  });

  it('drops fields an operation does not take', () => {
    expect(decodeOp(enc('{"op":"get","key":"k","value":"v","expected":"e"}'))).toEqual({ op: 'get', key: 'k' });
    expect(decodeOp(enc('{"op":"put","key":"k","value":"v","expected":"e"}'))).toEqual({ op: 'put', key: 'k', value: 'v' });
  });

  it.each([
    ['empty body', ''],
    ['not JSON', '{op:get}'],
    ['JSON null', 'null'],
    ['JSON number', '42'],
    ['JSON string', '"get"'],
    ['no key', '{"op":"get"}'],
    ['numeric key', '{"op":"get","key":1}'],
    ['unknown op', '{"op":"del","key":"k"}'],
    ['no op', '{"key":"k"}'],
    ['put without value', '{"op":"put","key":"k"}'],
    ['put with null value', '{"op":"put","key":"k","value":null}'],
    ['cas without value', '{"op":"cas","key":"k","expected":null}'],
    ['cas with numeric expected', '{"op":"cas","key":"k","expected":1,"value":"v"}'],
    ['cas without expected', '{"op":"cas","key":"k","value":"v"}'],
  ])('a malformed operation body gives an error: %s', (_, text) => {
    const r = decodeOp(enc(text));
    expect(isError(r)).toBe(true);
  });

  it('a body that is not UTF-8 gives an error, never throws', () => {
    expect(isError(decodeOp(Uint8Array.of(0xff, 0xfe, 0x7b)))).toBe(true);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const r = decodeOp(bytes);
      expect(isError(r) || typeof (r as KvOp).op === 'string').toBe(true);
    }));
  });
});

describe('result encoding', () => {
  it.each([['a string', 'v'], ['the empty string', ''], ['null', null], ['true', true], ['false', false]] as const)(
    'round-trips %s',
    (_, r) => {
      expect(decodeResult(encodeResult(r))).toBe(r);
    },
  );

  it('round-trips any string', () => {
    fc.assert(fc.property(fc.string(), (s) => {
      expect(decodeResult(encodeResult(s))).toBe(s);
    }));
  });

  it.each([
    ['empty body', ''],
    ['not JSON', 'result'],
    ['JSON null', 'null'],
    ['no result', '{}'],
    ['numeric result', '{"result":1}'],
    ['object result', '{"result":{}}'],
    ['array result', '{"result":["v"]}'],
  ])('a malformed result body gives an error: %s', (_, text) => {
    expect(isError(decodeResult(enc(text)))).toBe(true);
  });

  it('a body that is not UTF-8 gives an error, never throws', () => {
    expect(isError(decodeResult(Uint8Array.of(0xc3, 0x28)))).toBe(true);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const r = decodeResult(bytes);
      expect(r === null || typeof r === 'string' || typeof r === 'boolean' || isError(r)).toBe(true);
    }));
  });
});
