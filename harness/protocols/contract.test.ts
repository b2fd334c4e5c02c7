/**
 * Every registered protocol keeps its contract (`harness/protocols/contract.ts`): one action
 * catalog that its machines take, its spec's Next takes (but for the declared exceptions) and its
 * cores emit; every TLC model registered and every invariant rejecting a buggy variant; the seeded
 * bugs the implementation's, each caught by real checks; every property checker shown to catch a
 * seeded bug or exempted with a reason. Each check is shown to catch a seeded violation of it.
 */
import { describe, expect, it } from 'vitest';
import type { ProtocolContract, ProtocolDefinition } from '../protocol.ts';
import { actionProblems, bugProblems, contractProblems, emittedActions, modelProblems, propertyProblems, specSteps } from './contract.ts';
import { protocols } from './index.ts';
import { r2p2 } from './r2p2/index.ts';

describe.each(Object.values(protocols))('contract of $name', (def) => {
  it('the action catalog = the machines\' events = the spec\'s steps (but the declared exceptions) = what the cores emit', () => {
    expect(actionProblems(def)).toEqual([]);
  });
  it('every .cfg is a registered model, every invariant but TypeOK rejects a buggy variant', () => {
    expect(modelProblems(def)).toEqual([]);
  });
  it('the seeded bugs are the implementation\'s, each caught by real checks', () => {
    expect(bugProblems(def)).toEqual([]);
  });
  it('every property checker catches a seeded bug, or is exempted with a reason', () => {
    expect(propertyProblems(def)).toEqual([]);
  });
});

describe('the contract checks catch a seeded violation of each rule', () => {
  const withContract = (over: Partial<ProtocolContract>, spec: Partial<ProtocolContract['spec']> = {}): ProtocolDefinition<any> => ({
    ...r2p2, contract: { ...r2p2.contract, ...over, spec: { ...r2p2.contract.spec, ...spec } },
  });

  it('the unmodified definition has no problem', () => {
    expect(contractProblems(r2p2)).toEqual([]);
  });

  it('an action missing from the catalog: a machine, the spec and a core still have it', () => {
    expect(actionProblems(withContract({ actions: r2p2.contract.actions.filter((a) => a !== 'ClientSend') }))).toEqual([
      'machine event ClientSend (client): not in the action catalog',
      'spec step ClientSend: not in the action catalog, and not declared spec-only',
      'impl/r2p2/ emits ClientSend, which is not in the action catalog',
    ]);
  });

  it('an action only the catalog has, or listed twice', () => {
    expect(actionProblems(withContract({ actions: [...r2p2.contract.actions, 'ClientCancel'] }))).toEqual([
      'action ClientCancel: no machine takes it',
      'action ClientCancel: specs/r2p2/R2P2.tla defines no operator ClientCancel',
      'action ClientCancel: no core in impl/r2p2/ emits it',
    ]);
    expect(actionProblems(withContract({ actions: [...r2p2.contract.actions, 'ClientSend'] }))).toEqual([
      'r2p2: the action catalog lists a name twice',
    ]);
  });

  it('a role without its machine, a machine given to two roles', () => {
    const { router, ...rest } = r2p2.contract.machines;
    expect(actionProblems(withContract({ machines: rest }))).toEqual([
      'action RouterDispatch: no machine takes it', 'action RouterDrop: no machine takes it',
      'action RouterEnqueue: no machine takes it', 'action RouterFeedback: no machine takes it',
      'action RouterServerJoin: no machine takes it', 'action RouterServerLeave: no machine takes it',
    ]);
    expect(actionProblems(withContract({ machines: { ...r2p2.contract.machines, proxy: router! } }))).toEqual(
      ['RouterServerJoin', 'RouterServerLeave', 'RouterEnqueue', 'RouterDrop', 'RouterDispatch', 'RouterFeedback']
        .map((a) => `action ${a}: taken by more than one machine (router, proxy)`));
  });

  it('spec exceptions: an undeclared spec step, a stale or unfounded exception, a missing reason, a missing module', () => {
    const { ServerCrash: _, ...specOnly } = r2p2.contract.spec.specOnly;
    expect(actionProblems(withContract({}, { specOnly }))).toEqual([
      'spec step ServerCrash: not in the action catalog, and not declared spec-only',
    ]);
    expect(actionProblems(withContract({}, { leavesOut: {} }))).toEqual(['action ServerAnnounce: Next of specs/r2p2/R2P2.tla never reaches it']);
    expect(actionProblems(withContract({}, { leavesOut: { ...r2p2.contract.spec.leavesOut, ClientSend: 'x', Nothing: 'y' } }))).toEqual([
      'spec leaves out ClientSend, but Next of specs/r2p2/R2P2.tla takes it',
      'spec leaves out Nothing, which is not in the action catalog',
    ]);
    expect(actionProblems(withContract({}, { specOnly: { ...r2p2.contract.spec.specOnly, ClientSend: 'x', Init: 'y', ServerCrash: ' ' } }))).toEqual([
      'spec-only ClientSend: it is in the action catalog',
      'spec-only Init: not a step of specs/r2p2/R2P2.tla',
      'spec exception ServerCrash: no reason given',
    ]);
    expect(actionProblems(withContract({}, { module: 'specs/r2p2/Nope.tla' }))).toEqual(['spec module specs/r2p2/Nope.tla: no such file']);
  });

  it('an unregistered .cfg, a model whose files are missing, an invariant without a buggy variant', () => {
    const models = r2p2.models.filter((m) => m.config !== 'specs/r2p2/MCDup.cfg');
    expect(modelProblems({ ...r2p2, models })).toEqual(['specs/r2p2/MCDup.cfg: not registered in the definition\'s models']);
    const ghost = { ...r2p2.models[0]!, config: 'specs/r2p2/Ghost.cfg' };
    expect(modelProblems({ ...r2p2, models: [...r2p2.models, ghost] })).toEqual(['model specs/r2p2/Ghost.cfg: no such file specs/r2p2/Ghost.cfg']);
    const noVariant = r2p2.models.filter((m) => m.violates !== 'PendingHasTimer');
    expect(modelProblems({ ...r2p2, models: [...noVariant, { ...r2p2.models.find((m) => m.violates === 'PendingHasTimer')!, expect: 'ok', violates: undefined }] }))
      .toEqual(['invariant PendingHasTimer: no buggy variant TLC rejects with it']);
  });

  it('a buggy variant that names no invariant, or one its config does not check', () => {
    const swap = (violates: string | undefined) => r2p2.models.map((m) => (m.config === 'specs/r2p2/R2P2AckDisarms.cfg' ? { ...m, violates } : m));
    expect(modelProblems({ ...r2p2, models: swap(undefined) })).toEqual([
      'buggy variant specs/r2p2/R2P2AckDisarms.cfg: names no invariant it violates',
      'invariant PendingHasTimer: no buggy variant TLC rejects with it',
    ]);
    expect(modelProblems({ ...r2p2, models: swap('JbsqBound') })).toEqual([
      'buggy variant specs/r2p2/R2P2AckDisarms.cfg: its config does not check JbsqBound',
      'invariant PendingHasTimer: no buggy variant TLC rejects with it',
    ]);
  });

  it('a seeded bug the implementation lacks, an implementation bug the definition lacks, caughtBy naming nothing', () => {
    const extra = { name: 'router-loses-queue', description: 'd', caughtBy: ['monitor'] };
    expect(bugProblems({ ...r2p2, bugs: [...r2p2.bugs, extra] })).toEqual(['seeded bug router-loses-queue: not in the implementation\'s bug list']);
    expect(bugProblems({ ...r2p2, bugs: r2p2.bugs.slice(1) })).toEqual([`implementation bug ${r2p2.bugs[0]!.name}: not a seeded bug of the definition`]);
    const [first, ...rest] = r2p2.bugs;
    expect(bugProblems({ ...r2p2, bugs: [{ ...first!, caughtBy: ['monitor', 'jbsq-bounds', 'TLC'] }, ...rest] })).toEqual([
      `seeded bug ${first!.name}: caughtBy names jbsq-bounds, which is no check`,
      `seeded bug ${first!.name}: caughtBy names TLC, which is no check`,
    ]);
    expect(bugProblems({ ...r2p2, bugs: [{ ...first!, caughtBy: [] }, ...rest, first!] })).toEqual([
      `seeded bug ${first!.name}: listed twice`, `seeded bug ${first!.name}: caught by no check`,
    ]);
  });

  it('a property no bug trips and none exempts; an exemption of nothing, of a caught property, without a reason', () => {
    const bugs = r2p2.bugs.map((b) => ({ ...b, caughtBy: b.caughtBy.filter((c) => c !== 'jbsq-bound') }));
    expect(propertyProblems({ ...r2p2, bugs })).toEqual(['property jbsq-bound: no seeded bug is caught by it, and it has no exemption']);
    expect(propertyProblems({ ...withContract({ propertiesWithoutBug: { ...r2p2.contract.propertiesWithoutBug, 'jbsq-bound': '' } }), bugs })).toEqual([
      'property jbsq-bound: its exemption gives no reason',
    ]);
    expect(propertyProblems(withContract({ propertiesWithoutBug: { ...r2p2.contract.propertiesWithoutBug, 'jbsq-bound': 'r', 'no-such': 'r' } }))).toEqual([
      'exemption of jbsq-bound: a seeded bug is caught by it', 'exemption of no-such: no such property checker',
    ]);
  });
});

describe('the readers the contract checks use', () => {
  it('the spec\'s steps: what Next reaches and changes a variable, through combinators, not into actions', () => {
    const tla = [
      '---- MODULE M ----', 'VARIABLES x, y', 'Helper(v) == x\' = v  \\* a step inside an action: not its own',
      'A(v) == Guard /\\ Helper(v)', 'B == y\' = 1 /\\ x\' = x', 'Dead == x\' = 0', 'Guard == x > 0',
      '(* C(v) == x\' = v *)', 'Step == Guard /\\ (A(1) \\/ B)', 'Next ==', '    \\/ Step', '    \\/ "Dead" = "x"', '====',
    ].join('\n');
    expect([...specSteps(tla, new Set(['A']))].sort()).toEqual(['A', 'B']);
    expect([...specSteps(tla, new Set())].sort()).toEqual(['B', 'Helper']);
  });
  it('what the cores emit: `action:` literals and literal unions, not the catalog file', () => {
    const hc = emittedActions('hovercraft');
    expect(hc.has('MiddleboxExpire')).toBe(true); // emitted through `action: 'MiddleboxFeedback' | 'MiddleboxExpire'`
    expect(hc.has('ClientSend')).toBe(false);
    expect(emittedActions('no-such-protocol').size).toBe(0);
  });
});
