/**
 * Every rule of every registered protocol is held by two independent checks, one on the spec
 * side (a TLC invariant or a spec action's enabling condition under trace validation) and one on
 * the run side (a monitor or a property checker), and every check a rule names exists. The docs'
 * rule table is the one the definition renders.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ProtocolDefinition, ProtocolRule } from '../protocol.ts';
import { protocols } from './index.ts';
import { r2p2 } from './r2p2/index.ts';
import { invariantsOf, parseRuleCheck, renderRulesTable, ruleProblems, RULES_TABLE_BEGIN, RULES_TABLE_END } from './rules.ts';

describe.each(Object.values(protocols))('rules of $name', (def) => {
  it('each rule is held by a spec-side and a run-side check, and every check named exists', () => {
    expect(ruleProblems(def)).toEqual([]);
  });

  it(`the table in docs/${def.name}.md is the one the definition renders`, () => {
    const doc = readFileSync(`docs/${def.name}.md`, 'utf8');
    const begin = doc.indexOf(RULES_TABLE_BEGIN);
    const end = doc.indexOf(RULES_TABLE_END);
    expect(begin, `docs/${def.name}.md has no rules table (run: npx tsx harness/protocols/rules-doc.ts)`).toBeGreaterThanOrEqual(0);
    expect(doc.slice(begin, end + RULES_TABLE_END.length), 'run: npx tsx harness/protocols/rules-doc.ts').toBe(renderRulesTable(def));
  });
});

describe('ruleProblems catches a rule table that is not sound', () => {
  const withRules = (...rules: ProtocolRule[]): ProtocolDefinition<any> => ({ ...r2p2, rules });
  const rule = (checks: ProtocolRule['checks']): ProtocolRule => ({ name: 'r', statement: 's', checks });

  it('a rule held by one check only, or only on one side', () => {
    expect(ruleProblems(withRules(rule(['spec:JbsqBound'])))).toEqual([
      'rule r: held by fewer than two checks', 'rule r: no run-side check (monitor: or property:)',
    ]);
    expect(ruleProblems(withRules(rule(['monitor:router', 'property:jbsq-bound'])))).toEqual([
      'rule r: no spec-side check (spec: or spec-action:)',
    ]);
  });

  it('checks that name nothing real', () => {
    expect(ruleProblems(withRules(rule(['spec:NoSuchInvariant', 'spec-action:NoSuchAction', 'monitor:nobody', 'property:nothing'])))).toEqual([
      'rule r: NoSuchInvariant is not an invariant of a correct model',
      'rule r: no buggy variant is rejected with NoSuchInvariant',
      'rule r: the spec defines no operator NoSuchAction',
      'rule r: no machine machines/r2p2/nobody.ts',
      'rule r: no property checker nothing',
    ]);
    // TypeOK is checked by every model, but no buggy variant is rejected with it.
    expect(ruleProblems(withRules(rule(['spec:TypeOK', 'monitor:router'])))).toEqual([
      'rule r: no buggy variant is rejected with TypeOK',
    ]);
  });

  it('no rules, a rule listed twice, a malformed check', () => {
    expect(ruleProblems(withRules())).toEqual(['r2p2: no rules']);
    const ok = rule(['spec:JbsqBound', 'monitor:router']);
    expect(ruleProblems(withRules(ok, ok))).toEqual(['rule r: listed twice']);
    expect(ruleProblems(withRules(rule(['tlc:JbsqBound' as never, 'monitor:router'])))).toEqual([
      "rule r: rule check 'tlc:JbsqBound': unknown kind 'tlc'",
    ]);
  });

  it('a sound rule has no problem', () => {
    expect(ruleProblems(withRules(rule(['spec:JbsqBound', 'spec-action:RouterDispatch', 'monitor:router', 'property:jbsq-bound'])))).toEqual([]);
  });
});

describe('rule checks', () => {
  it('parse each kind and reject an unknown one', () => {
    expect(parseRuleCheck('spec:JbsqBound')).toEqual({ kind: 'spec', invariant: 'JbsqBound' });
    expect(parseRuleCheck('spec-action:RouterDispatch')).toEqual({ kind: 'spec-action', action: 'RouterDispatch' });
    expect(parseRuleCheck('monitor:router')).toEqual({ kind: 'monitor', role: 'router' });
    expect(parseRuleCheck('property:jbsq-bound')).toEqual({ kind: 'property', name: 'jbsq-bound' });
    expect(() => parseRuleCheck('property:' as never)).toThrow(/names nothing/);
  });
  it('the cfg reader finds the invariants of a config', () => {
    expect(invariantsOf('specs/r2p2/MC.cfg')).toEqual(['TypeOK', 'JbsqBound', 'RouterCountBound', 'ReplyMatchesRequest', 'PendingHasTimer']);
  });
});
