/**
 * The protocol contract (`ProtocolDefinition.contract`, the rules of ARCHITECTURE.md that a test
 * can check): one action catalog shared by spec, machines, trace and cores; every TLC model
 * registered and every invariant shown to catch a buggy variant; the definition's seeded bugs the
 * implementation's; every property checker shown to catch a seeded bug or exempted with a reason.
 * Each check returns the problems it finds (empty when the contract holds), so a test can show
 * that it catches a seeded violation. `contract.test.ts` holds every registered protocol to them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { machineEventTypes } from '../monitor/monitor.ts';
import type { ProtocolDefinition } from '../protocol.ts';
import { invariantsOf } from './rules.ts';

/** The checks a `Violation.check` or a `caughtBy` may name besides the property checkers. */
export const BUILT_IN_CHECKS = ['monitor', 'tlc'] as const;

const diff = (a: Iterable<string>, b: ReadonlySet<string>): string[] => [...new Set(a)].filter((x) => !b.has(x)).sort();

// ---------------------------------------------------------------- the spec's steps

/** A TLA+ module's source without comments and string literals. */
function stripTla(src: string): string {
  return src
    .replace(/\(\*[\s\S]*?\*\)/g, ' ')
    .replace(/\\\*.*$/gm, '')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""');
}

/** The operators a module defines at its first column, each with its body (up to the next one). */
export function tlaDefinitions(src: string): Map<string, string> {
  const defs = new Map<string, string>();
  let current: string | undefined;
  for (const line of stripTla(src).split('\n')) {
    const op = /^([A-Za-z]\w*)\s*(\(|==)/.exec(line);
    if (op) {
      current = op[1]!;
      defs.set(current, line.slice(line.indexOf('==') + 2));
    } else if (/^(-{4,}|={4,}|[A-Z]+\b)/.test(line)) {
      current = undefined; // a separator, or a keyword section (VARIABLES, CONSTANTS, ASSUME, …)
    } else if (current !== undefined) {
      defs.set(current, `${defs.get(current)!}\n${line}`);
    }
  }
  return defs;
}

/** Whether a definition's own body changes a variable (a primed name, or UNCHANGED). */
const changesState = (body: string): boolean => /[\w)\]]'/.test(body) || /\bUNCHANGED\b/.test(body);

/**
 * The spec's steps: the operators that `Next` reaches (through the operators it names, and
 * theirs) and that change a variable themselves, stopping at `stopAt` (an action is not searched
 * for steps inside it: its helpers are part of it). An operator that only combines others
 * (`NodeStep`, `Receive`) is searched through.
 */
export function specSteps(src: string, stopAt: ReadonlySet<string>): Set<string> {
  const defs = tlaDefinitions(src);
  const steps = new Set<string>();
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const body = defs.get(name)!;
    if (name !== 'Next' && (stopAt.has(name) || changesState(body))) {
      steps.add(name);
      return;
    }
    for (const [, ref] of body.matchAll(/\b([A-Za-z]\w*)\b/g)) if (defs.has(ref!) && ref !== name) visit(ref!);
  };
  if (!defs.has('Next')) return steps;
  visit('Next');
  return steps;
}

// ---------------------------------------------------------------- what the cores emit

/** The source files of a folder (not its tests), recursively. */
function sources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((f) => f.isFile() && f.name.endsWith('.ts') && !f.name.endsWith('.test.ts'))
    .map((f) => `${f.parentPath}/${f.name}`);
}

/**
 * The actions named in `action:` positions (`action: 'X'`, or a type `action: 'X' | 'Y'`) of the
 * sources of `impl/<name>/` — the trace events the cores emit. The catalog file itself, which
 * lists every name, is left out.
 */
export function emittedActions(name: string): Set<string> {
  const out = new Set<string>();
  for (const file of sources(`impl/${name}`)) {
    if (file.endsWith('/actions.ts')) continue;
    for (const [, list] of readFileSync(file, 'utf8').matchAll(/\baction\??\s*:\s*('\w+'(?:\s*\|\s*'\w+')*)/g)) {
      for (const [, a] of list!.matchAll(/'(\w+)'/g)) out.add(a!);
    }
  }
  return out;
}

// ---------------------------------------------------------------- the checks

/**
 * The action catalog against the machines (the union of the roles' events, each taken by one
 * role), the spec (its steps, but for the declared exceptions) and the cores (what they emit).
 */
export function actionProblems(def: ProtocolDefinition<any>): string[] {
  const c = def.contract;
  const problems: string[] = [];
  const catalog = new Set(c.actions);
  if (catalog.size === 0) problems.push(`${def.name}: the action catalog is empty`);
  if (catalog.size !== c.actions.length) problems.push(`${def.name}: the action catalog lists a name twice`);
  // machines
  const takenBy = new Map<string, string[]>();
  for (const [role, machine] of Object.entries(c.machines)) {
    for (const type of machineEventTypes(machine)) takenBy.set(type, [...(takenBy.get(type) ?? []), role]);
  }
  for (const a of diff(catalog, new Set(takenBy.keys()))) problems.push(`action ${a}: no machine takes it`);
  for (const a of diff(takenBy.keys(), catalog)) problems.push(`machine event ${a} (${takenBy.get(a)!.join(', ')}): not in the action catalog`);
  for (const [a, r] of takenBy) if (r.length > 1) problems.push(`action ${a}: taken by more than one machine (${r.join(', ')})`);
  // spec
  const { module, leavesOut, specOnly } = c.spec;
  if (!existsSync(module)) {
    problems.push(`spec module ${module}: no such file`);
  } else {
    const src = readFileSync(module, 'utf8');
    const defined = new Set(tlaDefinitions(src).keys());
    if (!defined.has('Next')) problems.push(`spec module ${module}: defines no Next`);
    const steps = specSteps(src, catalog);
    for (const a of Object.keys(leavesOut)) {
      if (!catalog.has(a)) problems.push(`spec leaves out ${a}, which is not in the action catalog`);
      else if (steps.has(a)) problems.push(`spec leaves out ${a}, but Next of ${module} takes it`);
    }
    for (const a of diff(catalog, steps)) {
      if (leavesOut[a] !== undefined) continue;
      problems.push(defined.has(a) ? `action ${a}: Next of ${module} never reaches it` : `action ${a}: ${module} defines no operator ${a}`);
    }
    for (const s of diff(steps, catalog)) if (specOnly[s] === undefined) problems.push(`spec step ${s}: not in the action catalog, and not declared spec-only`);
    for (const s of Object.keys(specOnly)) {
      if (catalog.has(s)) problems.push(`spec-only ${s}: it is in the action catalog`);
      else if (!steps.has(s)) problems.push(`spec-only ${s}: not a step of ${module}`);
    }
    for (const [a, why] of [...Object.entries(leavesOut), ...Object.entries(specOnly)]) {
      if (why.trim() === '') problems.push(`spec exception ${a}: no reason given`);
    }
  }
  // cores
  const emitted = emittedActions(def.name);
  for (const a of diff(catalog, emitted)) problems.push(`action ${a}: no core in impl/${def.name}/ emits it`);
  for (const a of diff(emitted, catalog)) problems.push(`impl/${def.name}/ emits ${a}, which is not in the action catalog`);
  return problems;
}

/**
 * Every `.cfg` of `specs/<name>/` is a registered model and every registered model's files exist;
 * every invariant but TypeOK that a correct model checks has a buggy variant TLC must reject with
 * it; a buggy variant names the invariant it violates, and its config checks it.
 */
export function modelProblems(def: ProtocolDefinition<any>): string[] {
  const problems: string[] = [];
  const dir = `specs/${def.name}`;
  const registered = new Set(def.models.map((m) => m.config));
  const onDisk = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cfg')).map((f) => `${dir}/${f}`) : [];
  if (onDisk.length === 0) problems.push(`${dir}: no .cfg`);
  for (const cfg of diff(onDisk, registered)) problems.push(`${cfg}: not registered in the definition's models`);
  for (const m of def.models) {
    for (const f of [m.module, m.config]) if (!existsSync(f)) problems.push(`model ${m.config}: no such file ${f}`);
  }
  const present = def.models.filter((m) => existsSync(m.config));
  const rejected = new Set<string>();
  for (const m of present.filter((x) => x.expect === 'violation')) {
    if (m.violates === undefined) problems.push(`buggy variant ${m.config}: names no invariant it violates`);
    else if (!invariantsOf(m.config).includes(m.violates)) problems.push(`buggy variant ${m.config}: its config does not check ${m.violates}`);
    else rejected.add(m.violates);
  }
  if (!def.models.some((m) => m.expect === 'ok')) problems.push(`${def.name}: no correct model`);
  const checked = new Set(present.filter((m) => m.expect === 'ok').flatMap((m) => invariantsOf(m.config)));
  for (const inv of diff(checked, rejected)) if (inv !== 'TypeOK') problems.push(`invariant ${inv}: no buggy variant TLC rejects with it`);
  return problems;
}

/**
 * The definition's seeded bugs are the implementation's bug list, each described once; each
 * `caughtBy` names at least one check, and only real ones (`monitor`, `tlc` or a property checker).
 */
export function bugProblems(def: ProtocolDefinition<any>): string[] {
  const problems: string[] = [];
  const names = def.bugs.map((b) => b.name);
  for (const n of new Set(names)) if (names.filter((x) => x === n).length > 1) problems.push(`seeded bug ${n}: listed twice`);
  const impl = new Set(def.contract.implBugs);
  for (const b of diff(names, impl)) problems.push(`seeded bug ${b}: not in the implementation's bug list`);
  for (const b of diff(impl, new Set(names))) problems.push(`implementation bug ${b}: not a seeded bug of the definition`);
  const checks = new Set<string>([...BUILT_IN_CHECKS, ...def.properties.map((p) => p.name)]);
  for (const bug of def.bugs) {
    if (bug.caughtBy.length === 0) problems.push(`seeded bug ${bug.name}: caught by no check`);
    for (const c of bug.caughtBy) if (!checks.has(c)) problems.push(`seeded bug ${bug.name}: caughtBy names ${c}, which is no check`);
  }
  return problems;
}

/**
 * Every property checker is in some seeded bug's `caughtBy`, or exempted with a reason; an
 * exemption names a real property checker that no bug's `caughtBy` holds.
 */
export function propertyProblems(def: ProtocolDefinition<any>): string[] {
  const problems: string[] = [];
  const caught = new Set(def.bugs.flatMap((b) => b.caughtBy));
  const properties = new Set(def.properties.map((p) => p.name));
  const exempt = def.contract.propertiesWithoutBug;
  for (const p of diff(properties, caught)) {
    if (exempt[p] === undefined) problems.push(`property ${p}: no seeded bug is caught by it, and it has no exemption`);
    else if (exempt[p]!.trim() === '') problems.push(`property ${p}: its exemption gives no reason`);
  }
  for (const p of Object.keys(exempt)) {
    if (!properties.has(p)) problems.push(`exemption of ${p}: no such property checker`);
    else if (caught.has(p)) problems.push(`exemption of ${p}: a seeded bug is caught by it`);
  }
  return problems;
}

/** Every problem of a protocol's contract. */
export function contractProblems(def: ProtocolDefinition<any>): string[] {
  return [...actionProblems(def), ...modelProblems(def), ...bugProblems(def), ...propertyProblems(def)];
}
