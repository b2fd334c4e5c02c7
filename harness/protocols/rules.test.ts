/**
 * Every rule of every registered protocol is held by two independent checks, one on the spec
 * side (a TLC invariant or a spec action's enabling condition under trace validation) and one on
 * the run side (a monitor or a property checker), and every check a rule names exists. The docs'
 * rule table is the one the definition renders.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { protocols } from './index.ts';
import { checkSide, parseRuleCheck, renderRulesTable, RULES_TABLE_BEGIN, RULES_TABLE_END } from './rules.ts';

function invariantsOf(cfg: string): string[] {
  const text = readFileSync(cfg, 'utf8');
  const out: string[] = [];
  const re = /^\s*INVARIANTS?\b([\s\S]*?)(?=^\s*[A-Z_]+\b(?!\s*==)|$(?![\s\S]))/gm;
  for (const m of text.matchAll(re)) out.push(...m[1]!.split(/\s+/).filter((w) => /^[A-Za-z]\w*$/.test(w)));
  return out;
}

function specOperators(def: (typeof protocols)[string]): Set<string> {
  const names = new Set<string>();
  const modules = new Set(def.models.map((m) => m.module));
  for (const m of modules) {
    // The model modules EXTEND the protocol's spec; read every .tla module in the spec folder.
    const dir = m.slice(0, m.lastIndexOf('/'));
    for (const f of readdirTla(dir)) {
      for (const line of readFileSync(`${dir}/${f}`, 'utf8').split('\n')) {
        const op = /^([A-Za-z]\w*)\s*(\([^)]*\))?\s*==/.exec(line);
        if (op) names.add(op[1]!);
      }
    }
  }
  return names;
}

function readdirTla(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.tla'));
}

describe.each(Object.values(protocols))('rules of $name', (def) => {
  it('has rules, with distinct names', () => {
    expect(def.rules.length).toBeGreaterThan(0);
    expect(new Set(def.rules.map((r) => r.name)).size).toBe(def.rules.length);
  });

  it.each(def.rules.map((r) => [r.name, r] as const))('%s is held by a spec check and a run check', (_name, rule) => {
    const sides = new Set(rule.checks.map((c) => checkSide(parseRuleCheck(c))));
    expect(rule.checks.length, `${rule.name}: fewer than two checks`).toBeGreaterThanOrEqual(2);
    expect([...sides].sort(), `${rule.name}: needs one spec-side and one run-side check`).toEqual(['run', 'spec']);
  });

  it('every check a rule names exists', () => {
    const correct = def.models.filter((m) => m.expect === 'ok');
    const checkedInvariants = new Set(correct.flatMap((m) => invariantsOf(m.config)));
    const rejectedBy = new Set(def.models.filter((m) => m.expect === 'violation').map((m) => m.violates));
    const operators = specOperators(def);
    const properties = new Set(def.properties.map((p) => p.name));
    const machineDir = `machines/${def.name}`;
    for (const rule of def.rules) {
      for (const raw of rule.checks) {
        const c = parseRuleCheck(raw);
        const where = `${rule.name}: ${raw}`;
        switch (c.kind) {
          case 'spec':
            expect(checkedInvariants.has(c.invariant), `${where}: not an invariant of a correct model`).toBe(true);
            expect(rejectedBy.has(c.invariant), `${where}: no buggy variant TLC rejects with it`).toBe(true);
            break;
          case 'spec-action':
            expect(operators.has(c.action), `${where}: no such operator in the spec`).toBe(true);
            break;
          case 'monitor':
            expect(existsSync(`${machineDir}/${c.role}.ts`), `${where}: no machine ${machineDir}/${c.role}.ts`).toBe(true);
            break;
          case 'property':
            expect(properties.has(c.name), `${where}: no such property checker`).toBe(true);
            break;
        }
      }
    }
  });

  it(`the table in docs/${def.name}.md is the one the definition renders`, () => {
    const doc = readFileSync(`docs/${def.name}.md`, 'utf8');
    const begin = doc.indexOf(RULES_TABLE_BEGIN);
    const end = doc.indexOf(RULES_TABLE_END);
    expect(begin, `docs/${def.name}.md has no rules table (run: npx tsx harness/protocols/rules-doc.ts)`).toBeGreaterThanOrEqual(0);
    expect(doc.slice(begin, end + RULES_TABLE_END.length)).toBe(renderRulesTable(def));
  });
});

describe('rule checks', () => {
  it('parse each kind and reject an unknown one', () => {
    expect(parseRuleCheck('spec:JbsqBound')).toEqual({ kind: 'spec', invariant: 'JbsqBound' });
    expect(parseRuleCheck('monitor:router')).toEqual({ kind: 'monitor', role: 'router' });
    expect(() => parseRuleCheck('tlc:Foo' as never)).toThrow(/unknown kind/);
    expect(() => parseRuleCheck('property:' as never)).toThrow(/names nothing/);
  });
  it('the cfg reader finds invariants', () => {
    expect(invariantsOf('specs/r2p2/MC.cfg')).toContain('JbsqBound');
  });
});
