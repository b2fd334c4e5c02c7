/**
 * Reading TLC output without starting a JVM. The message bodies are copied from real TLC 2.18
 * runs (`-tool`); `run.test.ts` covers the common outcomes against the live tool.
 */
import { describe, expect, it } from 'vitest';
import { formatCounterexample } from './format.ts';
import { parseToolOutput } from './messages.ts';
import { parseState, parseTlcOutput } from './result.ts';
import { parseSanyErrors } from './sany.ts';

const msg = (code: number, cls: number, ...body: string[]) =>
  [`@!@!@STARTMSG ${code}:${cls} @!@!@`, ...body, `@!@!@ENDMSG ${code} @!@!@`].join('\n');
const state = (n: number, header: string, ...vars: string[]) => msg(2217, 4, `${n}: <${header}>`, ...vars, '');
const next = (module: string) => `Next line 5, col 9 to line 5, col 24 of module ${module}`;
const run = (...parts: string[]) =>
  [
    msg(2262, 0, 'TLC2 Version 2.18 of 20 March 2023'),
    msg(2220, 0, 'Starting SANY...'),
    'Parsing file /specs/Loop.tla',
    'Semantic processing of module Loop',
    msg(2219, 0, 'SANY finished.'),
    msg(2185, 0, 'Starting... (2026-11-23 09:24:50)'),
    ...parts,
    msg(2186, 0, 'Finished in 714ms at (2026-11-23 09:24:50)'),
  ].join('\n');

describe('parseToolOutput', () => {
  it('folds a nested message (starting mid-line) into its parent', () => {
    const items = parseToolOutput(
      [
        '@!@!@STARTMSG 1000:1 @!@!@',
        'The exception was a tlc2.tool.ConfigFileException',
        ': @!@!@STARTMSG 5001:0 @!@!@',
        'TLC encountered the following error when trying to read the configuration file nonexist.cfg:',
        'File not found.',
        '@!@!@ENDMSG 5001 @!@!@',
        '@!@!@ENDMSG 1000 @!@!@',
        'printed',
      ].join('\n'),
    );
    expect(items).toEqual([
      {
        kind: 'message',
        code: 1000,
        cls: 1,
        body: 'The exception was a tlc2.tool.ConfigFileException\n: \nTLC encountered the following error when trying to read the configuration file nonexist.cfg:\nFile not found.',
      },
      { kind: 'text', text: 'printed' },
    ]);
  });
});

describe('parseTlcOutput', () => {
  it('reads a liveness lasso (2116, 2264, 2122) and its depth from the progress report', () => {
    const result = parseTlcOutput(
      run(
        msg(2200, 0, 'Progress(3) at 2026-11-23 09:24:50: 4 states generated, 3 distinct states found, 0 states left on queue.'),
        msg(2116, 1, 'Temporal properties were violated.', ''),
        msg(2264, 1, 'The following behavior constitutes a counter-example:', ''),
        state(1, 'Initial predicate', 'x = 0'),
        state(2, next('Loop'), 'x = 1'),
        state(3, next('Loop'), 'x = 2'),
        msg(2122, 4, `1: Back to state: <${next('Loop')}>`, ''),
        msg(2199, 0, '4 states generated, 3 distinct states found, 0 states left on queue.'),
      ),
    );
    expect(result).toMatchObject({
      outcome: 'property-violated',
      message: 'Temporal properties were violated.',
      statesGenerated: 4,
      distinctStates: 3,
      depth: 3,
      loopBackTo: 1,
    });
    expect(result.violated).toBeUndefined();
    expect(result.counterexample?.map((s) => s.vars.x)).toEqual([0, 1, 2]);
    expect(formatCounterexample(result.counterexample!, result)).toBe(
      ['1. Initial state', '     x = 0', '2. Next', '     x: 0 → 1', '3. Next', '     x: 1 → 2', '→ back to state 1'].join('\n'),
    );
  });

  it('reads a stuttering end (2218) and ignores PrintT output replayed with the trace', () => {
    const result = parseTlcOutput(
      run(
        '<<"step", 0>>',
        msg(2116, 1, 'Temporal properties were violated.', ''),
        msg(2264, 1, 'The following behavior constitutes a counter-example:', ''),
        '<<"step", 0>>',
        state(1, 'Initial predicate', 'x = 0'),
        state(2, next('Dead'), 'x = 1'),
        msg(2218, 4, '3: Stuttering'),
      ),
    );
    expect(result).toMatchObject({ outcome: 'property-violated', loopBackTo: 2, printed: [['step', 0]] });
  });

  it('names a violated action property (2112) and a property violated initially (2108)', () => {
    expect(parseTlcOutput(run(msg(2112, 1, 'Action property Act is violated.')))).toMatchObject({
      outcome: 'property-violated',
      violated: 'Act',
    });
    expect(parseTlcOutput(run(msg(2108, 1, 'Property P is violated by the initial state:', 'x = 0', '')))).toMatchObject({
      outcome: 'property-violated',
      violated: 'P',
      counterexample: [{ index: 1, vars: { x: 0 } }],
    });
  });

  it('reads an invariant violated by the initial state (2107), the state inline', () => {
    const result = parseTlcOutput(run(msg(2107, 1, 'Invariant Inv is violated by the initial state:', '/\\ x = 0', '/\\ y = {}', '')));
    expect(result).toMatchObject({
      outcome: 'invariant-violated',
      violated: 'Inv',
      message: 'Invariant Inv is violated by the initial state:',
      counterexample: [{ index: 1, vars: { x: 0, y: { kind: 'set', values: [] } } }],
    });
  });

  it('reports a failed Assert (2132) with the innermost location of the nested expression (2103)', () => {
    const result = parseTlcOutput(
      run(
        msg(2132, 1, 'The first argument of Assert evaluated to FALSE; the second argument was:', '"x too big"'),
        msg(2121, 1, 'The behavior up to this point is:'),
        state(1, 'Initial predicate', 'x = 0'),
        msg(
          2103, 1,
          'The error occurred when TLC was evaluating the nested',
          'expressions at the following positions:',
          '0. Line 5, column 9 to line 5, column 48 in Loop',
          '1. Line 5, column 23 to line 5, column 48 in Loop',
        ),
      ),
    );
    expect(result.outcome).toBe('error');
    expect(result.message).toBe('The first argument of Assert evaluated to FALSE; the second argument was: "x too big"');
    expect(result.errors[1]).toMatchObject({ file: '/specs/Loop.tla', line: 5, column: 23 });
    expect(result.counterexample).toHaveLength(1);
  });

  it('reads an unfinished run as an error', () => {
    expect(parseTlcOutput(msg(2185, 0, 'Starting...'))).toMatchObject({ outcome: 'error', message: 'TLC ended without reporting a result' });
  });
});

describe('parseState', () => {
  it('reads the action name, its location and wrapped values', () => {
    expect(
      parseState(
        [
          '2: <Send line 9, col 12 to line 15, col 37 of module Vals>',
          '/\\ msgs = { [src |-> s1, seq |-> 0],',
          '  [src |-> s1, seq |-> 1] }',
          '/\\ f = << "a",',
          '   "b" >>',
        ].join('\n'),
      ),
    ).toEqual({
      index: 2,
      action: 'Send',
      location: 'line 9, col 12 to line 15, col 37 of module Vals',
      vars: {
        msgs: {
          kind: 'set',
          values: [
            { kind: 'record', fields: { src: { kind: 'model', name: 's1' }, seq: 0 } },
            { kind: 'record', fields: { src: { kind: 'model', name: 's1' }, seq: 1 } },
          ],
        },
        f: ['a', 'b'],
      },
    });
  });
});

describe('parseSanyErrors', () => {
  it('reads semantic errors with their module file', () => {
    const output = [
      'Parsing file /specs/Sem.tla',
      'Semantic errors:',
      '',
      '*** Errors: 1',
      '',
      'line 5, col 14 to line 5, col 14 of module Sem',
      '',
      "Unknown operator: `y'.",
      '',
      '',
    ].join('\n');
    expect(parseSanyErrors(output)).toEqual([{ file: '/specs/Sem.tla', line: 5, column: 14, message: "Unknown operator: `y'." }]);
  });

  it('reads lexical errors and missing modules', () => {
    expect(
      parseSanyErrors(
        'Parsing file /specs/Lex.tla\nLexical error at line 3, column 17.  Encountered: "\\n" (10), after : "\\"abc"\n\nIn module Lex\n',
      ),
    ).toEqual([{ file: '/specs/Lex.tla', line: 3, column: 17, message: 'Lexical error: Encountered: "\\n" (10), after : "\\"abc"' }]);
    expect(parseSanyErrors('*** Abort messages: 1\n\nUnknown location\n\nCannot find source file for module Nope.\n')).toEqual([
      { file: 'Nope.tla', message: 'Cannot find the TLA+ module file Nope.tla' },
    ]);
  });
});

describe('formatCounterexample', () => {
  it('shows the first state in full and then only what changed', () => {
    const text = formatCounterexample([
      { index: 1, vars: { x: 0, y: 'a' } },
      { index: 2, action: 'Inc', vars: { x: 1, y: 'a' } },
      { index: 3, action: 'Noop', vars: { x: 1, y: 'a' } },
      { index: 4, action: 'Bump', vars: { x: 1, y: 'b' } },
    ]);
    expect(text).toBe(
      [
        '1. Initial state',
        '     x = 0',
        '     y = "a"',
        '2. Inc',
        '     x: 0 → 1',
        '3. Noop',
        '     (no change)',
        '4. Bump',
        '     y: "a" → "b"',
      ].join('\n'),
    );
  });
});
