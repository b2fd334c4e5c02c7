/**
 * The rule → checks table of a protocol: which independent checks hold each rule. The same table
 * is rendered into `docs/<protocol>.md`, and `rules.test.ts` holds every protocol to it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { match, P } from 'ts-pattern';
import type { ProtocolDefinition, RuleCheck } from '../protocol.ts';

export type ParsedCheck =
  | { readonly kind: 'spec'; readonly invariant: string }
  | { readonly kind: 'spec-action'; readonly action: string }
  | { readonly kind: 'monitor'; readonly role: string }
  | { readonly kind: 'property'; readonly name: string };

export function parseRuleCheck(check: RuleCheck): ParsedCheck {
  const colon = check.indexOf(':');
  const kind = check.slice(0, colon);
  const arg = check.slice(colon + 1);
  if (arg === '') throw new Error(`rule check '${check}' names nothing after its kind`);
  return match(kind)
    .with('spec', () => ({ kind: 'spec' as const, invariant: arg }))
    .with('spec-action', () => ({ kind: 'spec-action' as const, action: arg }))
    .with('monitor', () => ({ kind: 'monitor' as const, role: arg }))
    .with('property', () => ({ kind: 'property' as const, name: arg }))
    .otherwise(() => { throw new Error(`rule check '${check}': unknown kind '${kind}'`); });
}

/** The check's side: the spec (TLC) or the run (monitor, property). */
export function checkSide(c: ParsedCheck): 'spec' | 'run' {
  return match(c)
    .with({ kind: P.union('spec', 'spec-action') }, () => 'spec' as const)
    .with({ kind: P.union('monitor', 'property') }, () => 'run' as const)
    .exhaustive();
}

function describeCheck(c: ParsedCheck): string {
  return match(c)
    .with({ kind: 'spec' }, ({ invariant }) => `TLC: invariant \`${invariant}\``)
    .with({ kind: 'spec-action' }, ({ action }) => `TLC trace validation: \`${action}\``)
    .with({ kind: 'monitor' }, ({ role }) => `monitor: ${role} machine`)
    .with({ kind: 'property' }, ({ name }) => `property \`${name}\``)
    .exhaustive();
}

export const RULES_TABLE_BEGIN = '<!-- rules table: generated from the protocol definition; rules.test.ts keeps it in step -->';
export const RULES_TABLE_END = '<!-- end of rules table -->';

/** The markdown table of a protocol's rules, between the two markers. */
export function renderRulesTable(def: ProtocolDefinition<any>): string {
  const rows = def.rules.map((r) => {
    const checks = r.checks.map((c) => describeCheck(parseRuleCheck(c))).join('; ');
    return `| \`${r.name}\` | ${r.statement.replaceAll('|', '\\|')} | ${checks} |`;
  });
  return [RULES_TABLE_BEGIN, '', '| rule | what must hold | held by |', '| --- | --- | --- |', ...rows, '', RULES_TABLE_END].join('\n');
}

/** The invariants a TLC config checks (its INVARIANT / INVARIANTS sections). */
export function invariantsOf(cfg: string): string[] {
  const out: string[] = [];
  let inSection = false;
  for (const raw of readFileSync(cfg, 'utf8').split('\n')) {
    const line = raw.replace(/\\\*.*$/, '').trim();
    if (line === '') continue;
    const words = line.split(/\s+/);
    if (/^[A-Z_]+$/.test(words[0]!)) {
      inSection = words[0] === 'INVARIANT' || words[0] === 'INVARIANTS';
      words.shift();
    }
    if (inSection) out.push(...words.filter((w) => /^[A-Za-z]\w*$/.test(w)));
  }
  return out;
}

/** The operators defined in the .tla modules of the folders that hold the protocol's models. */
function specOperators(def: ProtocolDefinition<any>): Set<string> {
  const names = new Set<string>();
  const dirs = new Set(def.models.map((m) => m.module.slice(0, m.module.lastIndexOf('/'))));
  for (const dir of dirs) {
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.tla'))) {
      for (const line of readFileSync(`${dir}/${f}`, 'utf8').split('\n')) {
        // A definition starts at the line's first column: `Name ==` or `Name(params` (the
        // parameter list may run over several lines).
        const op = /^([A-Za-z]\w*)\s*(\(|==)/.exec(line);
        if (op) names.add(op[1]!);
      }
    }
  }
  return names;
}

/**
 * What is wrong with a protocol's rule table: a rule held by fewer than two checks, or not by one
 * spec-side and one run-side check; a check that names an invariant no correct model checks (or
 * that no buggy variant violates), an operator the spec lacks, a machine or a property that does
 * not exist. Empty when the table is sound.
 */
export function ruleProblems(def: ProtocolDefinition<any>): string[] {
  const problems: string[] = [];
  if (def.rules.length === 0) problems.push(`${def.name}: no rules`);
  const names = def.rules.map((r) => r.name);
  for (const n of new Set(names)) if (names.filter((x) => x === n).length > 1) problems.push(`rule ${n}: listed twice`);
  const correct = def.models.filter((m) => m.expect === 'ok');
  const checkedInvariants = new Set(correct.flatMap((m) => invariantsOf(m.config)));
  const rejectedBy = new Set(def.models.filter((m) => m.expect === 'violation').map((m) => m.violates));
  const operators = specOperators(def);
  const properties = new Set(def.properties.map((p) => p.name));
  for (const rule of def.rules) {
    let parsed: ParsedCheck[];
    try {
      parsed = rule.checks.map(parseRuleCheck);
    } catch (err) {
      problems.push(`rule ${rule.name}: ${(err as Error).message}`);
      continue;
    }
    if (new Set(rule.checks).size < 2) problems.push(`rule ${rule.name}: held by fewer than two checks`);
    const sides = new Set(parsed.map(checkSide));
    if (!sides.has('spec')) problems.push(`rule ${rule.name}: no spec-side check (spec: or spec-action:)`);
    if (!sides.has('run')) problems.push(`rule ${rule.name}: no run-side check (monitor: or property:)`);
    for (const c of parsed) {
      match(c)
        .with({ kind: 'spec' }, ({ invariant }) => {
          if (!checkedInvariants.has(invariant)) problems.push(`rule ${rule.name}: ${invariant} is not an invariant of a correct model`);
          if (!rejectedBy.has(invariant)) problems.push(`rule ${rule.name}: no buggy variant is rejected with ${invariant}`);
        })
        .with({ kind: 'spec-action' }, ({ action }) => {
          if (!operators.has(action)) problems.push(`rule ${rule.name}: the spec defines no operator ${action}`);
        })
        .with({ kind: 'monitor' }, ({ role }) => {
          if (!existsSync(`machines/${def.name}/${role}.ts`)) problems.push(`rule ${rule.name}: no machine machines/${def.name}/${role}.ts`);
        })
        .with({ kind: 'property' }, ({ name }) => {
          if (!properties.has(name)) problems.push(`rule ${rule.name}: no property checker ${name}`);
        })
        .exhaustive();
    }
  }
  return problems;
}
