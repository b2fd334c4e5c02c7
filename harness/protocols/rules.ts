/**
 * The rule → checks table of a protocol: which independent checks hold each rule. The same table
 * is rendered into `docs/<protocol>.md`, and `rules.test.ts` holds every protocol to it.
 */
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
