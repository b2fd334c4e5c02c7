/** Against the real TLC (a JVM start per test, about a second each). */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCounterexample } from './format.ts';
import { runSany, runTlc } from './run.ts';
import type { TlaValue } from './values.ts';

const SPECS: Record<string, string> = {
  'Counter.tla': String.raw`---- MODULE Counter ----
EXTENDS Naturals
VARIABLES x, y
Init == x = 0 /\ y = 0
Inc == x < 3 /\ x' = x + 1 /\ UNCHANGED y
Bump == y < 2 /\ y' = y + 1 /\ UNCHANGED x
Next == Inc \/ Bump
Small == x < 3
Bounded == x <= 3
====
`,
  'holds.cfg': 'INIT Init\nNEXT Next\nINVARIANT Bounded\n',
  'fails.cfg': 'INIT Init\nNEXT Next\nINVARIANT Small\n',
  'Vals.tla': String.raw`---- MODULE Vals ----
EXTENDS Naturals, Sequences, TLC
CONSTANTS s1, s2
VARIABLES msgs, st, owner, log
Init == /\ msgs = {}
        /\ st = [n |-> 0, who |-> s1, tag |-> "a\"b\\c"]
        /\ owner = (s1 :> "none" @@ s2 :> "none")
        /\ log = <<>>
Send(p) == /\ p = IF st.n = 0 THEN s1 ELSE s2
           /\ st.n < 2
           /\ msgs' = msgs \cup {[src |-> p, seq |-> st.n, body |-> <<st.n, TRUE>>]}
           /\ st' = [st EXCEPT !.n = @ + 1, !.who = p]
           /\ owner' = [owner EXCEPT ![p] = "sent"]
           /\ log' = Append(log, {p})
           /\ PrintT([sent |-> st.n, by |-> p])
Next == Send(s1) \/ Send(s2)
Inv == st.n < 2
====
`,
  'vals.cfg': 'CONSTANTS s1 = s1\n  s2 = s2\nINIT Init\nNEXT Next\nINVARIANT Inv\n',
  'Stop.tla': String.raw`---- MODULE Stop ----
EXTENDS Naturals
VARIABLE x
Init == x = 0
Next == x < 2 /\ x' = x + 1
====
`,
  'next.cfg': 'INIT Init\nNEXT Next\n',
  'Broken.tla': String.raw`---- MODULE Broken ----
EXTENDS Naturals
VARIABLE x
Init == x = 0
Next == x' = x + + 1
====
`,
  'Undefined.tla': String.raw`---- MODULE Undefined ----
EXTENDS Naturals
VARIABLE x
Init == x = 0
Next == x' = y + 1
====
`,
  'Endless.tla': String.raw`---- MODULE Endless ----
EXTENDS Naturals
VARIABLES x, y
Init == x = 0 /\ y = 0
Next == (x' = x + 1 /\ y' = y) \/ (y' = y + 1 /\ x' = x)
====
`,
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'protocheck-tlc-test-'));
  await Promise.all(Object.entries(SPECS).map(([name, text]) => writeFile(join(dir, name), text)));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const model = (name: string): TlaValue => ({ kind: 'model', name });
const rec = (fields: Record<string, TlaValue>): TlaValue => ({ kind: 'record', fields });

/** Pids of processes whose command line mentions `text`. */
async function processesMentioning(text: string): Promise<string[]> {
  const pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid);
  const cmdlines = await Promise.all(pids.map((p) => readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')));
  return pids.filter((_, i) => cmdlines[i]!.includes(text));
}

describe('runTlc', () => {
  it('checks a model whose invariant holds, with exact counts and no deadlock check by default', async () => {
    const result = await runTlc({ module: 'Counter', config: 'holds.cfg', cwd: dir });
    expect(result).toMatchObject({ outcome: 'ok', statesGenerated: 18, distinctStates: 12, depth: 6, printed: [], errors: [] });
    expect(result.counterexample).toBeUndefined();
    expect(result.wallMs).toBeGreaterThan(0);
    expect(await readdir(dir)).not.toContain('states');
  });

  it('reports a violated invariant with its counterexample', async () => {
    const result = await runTlc({ module: join(dir, 'Counter.tla'), config: join(dir, 'fails.cfg') });
    expect(result).toMatchObject({
      outcome: 'invariant-violated',
      violated: 'Small',
      message: 'Invariant Small is violated.',
      statesGenerated: 8,
      distinctStates: 7,
      depth: 4,
    });
    expect(result.counterexample).toEqual([
      { index: 1, vars: { x: 0, y: 0 } },
      ...[1, 2, 3].map((x) => ({
        index: x + 1,
        action: 'Inc',
        location: 'line 5, col 8 to line 5, col 41 of module Counter',
        vars: { x, y: 0 },
      })),
    ]);
    expect(formatCounterexample(result.counterexample!)).toBe(
      ['1. Initial state', '     x = 0', '     y = 0', '2. Inc', '     x: 0 → 1', '3. Inc', '     x: 1 → 2', '4. Inc', '     x: 2 → 3'].join('\n'),
    );
  });

  it('reads records, sets, functions, sequences, strings and model values, and PrintT output', async () => {
    const result = await runTlc({ module: 'Vals.tla', config: 'vals.cfg', cwd: dir });
    expect(result).toMatchObject({ outcome: 'invariant-violated', violated: 'Inv' });
    expect(result.counterexample?.map((s) => s.action)).toEqual([undefined, 'Send', 'Send']);
    const msg = (src: string, seq: number) => rec({ src: model(src), seq, body: [seq, true] });
    expect(result.counterexample?.[2]?.vars).toEqual({
      msgs: { kind: 'set', values: [msg('s1', 0), msg('s2', 1)] },
      st: rec({ n: 2, who: model('s2'), tag: 'a"b\\c' }),
      owner: { kind: 'function', entries: [[model('s1'), 'sent'], [model('s2'), 'sent']] },
      log: [{ kind: 'set', values: [model('s1')] }, { kind: 'set', values: [model('s2')] }],
    });
    expect(result.printed).toEqual([rec({ sent: 0, by: model('s1') }), rec({ sent: 1, by: model('s2') })]);
  });

  it('reports a deadlock when asked to check for one', async () => {
    const result = await runTlc({ module: 'Stop', config: 'next.cfg', cwd: dir, deadlock: true });
    expect(result).toMatchObject({ outcome: 'deadlock', message: 'Deadlock reached.' });
    expect(result.counterexample?.map((s) => s.vars.x)).toEqual([0, 1, 2]);
  });

  it('reports a parse error with its file and line', async () => {
    const result = await runTlc({ module: 'Broken', config: 'next.cfg', cwd: dir });
    expect(result.outcome).toBe('parse-error');
    expect(result.errors[0]).toMatchObject({ file: join(dir, 'Broken.tla'), line: 5, column: 20 });
    expect(result.message).toMatch(/Broken\.tla:5: Was expecting .* Encountered "1" at line 5, column 20/);
  });

  it('reports a missing module or config without starting TLC', async () => {
    expect(await runTlc({ module: 'Nope', config: 'next.cfg', cwd: dir })).toMatchObject({
      outcome: 'error',
      message: `TLA+ module not found: ${join(dir, 'Nope.tla')}`,
    });
    expect(await runTlc({ module: 'Stop', config: 'nope.cfg', cwd: dir })).toMatchObject({
      outcome: 'error',
      message: `TLC config not found: ${join(dir, 'nope.cfg')}`,
    });
  });

  it('kills TLC when it runs past the timeout', async () => {
    const result = await runTlc({ module: 'Endless', config: 'next.cfg', cwd: dir, timeoutMs: 2000 });
    expect(result.outcome).toBe('error');
    expect(result.message).toMatch(/did not finish within 2000 ms and was killed/);
    expect(result.wallMs).toBeLessThan(5000);
    expect(await processesMentioning(join(dir, 'Endless.tla'))).toEqual([]);
  });
});

describe('runSany', () => {
  it('accepts a correct module and reports semantic errors with their location', async () => {
    expect(await runSany(join(dir, 'Counter.tla'))).toMatchObject({ ok: true, errors: [] });
    const result = await runSany('Undefined.tla', { cwd: dir });
    expect(result.ok).toBe(false);
    expect(result.errors).toEqual([{ file: join(dir, 'Undefined.tla'), line: 5, column: 14, message: "Unknown operator: `y'." }]);
  });
});
