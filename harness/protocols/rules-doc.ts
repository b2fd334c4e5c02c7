/**
 * Writes each registered protocol's rule → checks table into `docs/<protocol>.md`, between the
 * table's markers (appended under "## Rules and the checks that hold them" when absent).
 * Run: `npx tsx harness/protocols/rules-doc.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { protocols } from './index.ts';
import { renderRulesTable, RULES_TABLE_BEGIN, RULES_TABLE_END } from './rules.ts';

for (const def of Object.values(protocols)) {
  const path = `docs/${def.name}.md`;
  const doc = readFileSync(path, 'utf8');
  const table = renderRulesTable(def);
  const begin = doc.indexOf(RULES_TABLE_BEGIN);
  const end = doc.indexOf(RULES_TABLE_END);
  const next = begin >= 0 && end > begin
    ? doc.slice(0, begin) + table + doc.slice(end + RULES_TABLE_END.length)
    : `${doc.trimEnd()}\n\n## Rules and the checks that hold them\n\nEach rule is held by a spec-side check (TLC) and a run-side check (a monitor or a property).\n\n${table}\n`;
  writeFileSync(path, next);
  console.log(`${path}: ${def.rules.length} rules`);
}
