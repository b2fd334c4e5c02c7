/**
 * TLC trace validation of HovercRaft traces: real sim runs of the correct implementation (3 nodes,
 * each mode, with host faults) are accepted; the same traces with one edited event, and a run with
 * the seeded bug `replier-reassigned`, are rejected near the defect. All in ONE batch (one TLC run).
 * A second batch holds the middlebox and the replies to account: the seed-5 regression (a NACKed
 * put whose duplicate is admitted later) and a run where a replier restarts and applies an entry it
 * answered before are accepted; the same with a repeated reply, an admission above the threshold
 * or a FEEDBACK that frees a slot twice are rejected at that event.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TraceValidationInput, TraceValidationResult } from '../../protocol.ts';
import { runScenario } from '../../run/run-scenario.ts';
import { isHostAnnotation, isNetAnnotation, type TraceEvent } from '../../trace/schema.ts';
import { SimTestbed } from '../../../testbeds/sim/sim.ts';
import type { Mode } from '../../../impl/hovercraft/actions.ts';
import { hovercraft, type HovercraftScenario } from './index.ts';
import { appliedNotOverstated } from './properties.ts';
import {
  EVENT_PARAMS, HOVERCRAFT_SPEC, MESSAGE_READERS, UNMODELLED_ACTIONS, generateHovercraftTraceModule, specVariables,
  validateHovercraftTraces,
} from './trace-validation.ts';

const MODES: readonly Mode[] = ['raft', 'hovercraft', 'hovercraft++'];
const tb = new SimTestbed();

/** Whether the validation passes the event to TLC (the index `matchedPrefix` counts in). */
const isSpecEvent = (e: TraceEvent): boolean =>
  !isNetAnnotation(e) && !UNMODELLED_ACTIONS.has(e.action) && (!isHostAnnotation(e) || (e.action === 'HostRestart' && e.node === 'aggregator'));
/** The number of spec events before trace index j. */
const specIndex = (trace: readonly TraceEvent[], j: number): number => trace.slice(0, j).filter(isSpecEvent).length;

async function runs(seed: number, n: number, bugs: string[] = [], firstMode = 0): Promise<TraceValidationInput[]> {
  const scenarios = fc.sample(hovercraft.scenarios({ hostFaults: true, bugs }), { numRuns: n, seed });
  const out: TraceValidationInput[] = [];
  for (const [i, b] of scenarios.entries()) {
    const s: HovercraftScenario = { ...b, topology: { ...b.topology, nodes: 3, mode: MODES[(firstMode + i) % MODES.length]!, replierPolicy: 'jbsq' } };
    const r = await runScenario(hovercraft, s, tb);
    out.push({ trace: r.trace, addrs: r.addrs, scenario: s });
  }
  return out;
}

describe('HovercRaft trace validation', () => {
  let good: TraceValidationInput[] = [];
  let buggy: TraceValidationInput | undefined;

  beforeAll(async () => {
    good = await runs(11, 3);
    [buggy] = await runs(5, 1, ['replier-reassigned'], 1); // hovercraft mode: JBSQ picks among nodes
  }, 60_000);

  it('maps every trace action the spec has to an action of the same name and parameters', () => {
    const spec = readFileSync(HOVERCRAFT_SPEC, 'utf8');
    for (const [action, params] of Object.entries(EVENT_PARAMS)) {
      const m = new RegExp(`^${action}(?:\\(([^)]*)\\))? ==`, 'm').exec(spec);
      expect(m, `HovercRaft.tla has no action ${action}`).not.toBeNull();
      const specParams = (m![1] ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '');
      expect(specParams, action).toEqual(params.map((p) => p.replace(/^(set|fn):/, '')));
    }
    expect(specVariables(spec)).toContain('msgs');
  });

  it('gives keys to exactly the actions whose spec action reads the network (retirement keeps what they read)', () => {
    const spec = readFileSync(HOVERCRAFT_SPEC, 'utf8');
    const defs = spec.split(/\n(?=[A-Z]\w*(?:\([^)]*\))? ==)/);
    const readers = new Set<string>();
    for (const d of defs) {
      const name = /^([A-Z]\w*)/.exec(d)?.[1];
      if (name && name in EVENT_PARAMS && /\bDeliver\(|\bmsgs\b|\bTermMsgsTo\(/.test(d.replace(/\\\*.*$/gm, ''))) readers.add(name);
    }
    expect([...readers].sort()).toEqual([...MESSAGE_READERS].sort());
  });

  it('puts every trace of a batch into one module, with identities instead of addresses', () => {
    const gen = generateHovercraftTraceModule(good, specVariables(readFileSync(HOVERCRAFT_SPEC, 'utf8')));
    expect(gen.included).toEqual([0, 1, 2]);
    expect(gen.tla).toContain('TMode == <<"raft", "hovercraft", "hovercraft++">>');
    expect(gen.tla).toContain('TNodes == <<{"node1", "node2", "node3"}');
    expect(gen.tla).toContain('client |-> "client1"');
    expect(gen.tla).toContain('"0.0.0.0:0"');
    expect(gen.tla).not.toMatch(/"10\.0\./);
    expect(gen.tla).not.toMatch(/Net(Drop|Duplicate)/);
    // The middlebox is modelled: its events go to TLC, with the run's threshold.
    expect(gen.tla).toContain('action |-> "MiddleboxForward"');
    expect(gen.tla).toContain(`TThreshold == <<${good.map((g) => (g.scenario.topology as { threshold: number }).threshold).join(', ')}>>`);
    expect(gen.cfg).toContain('VIEW TView');
  });

  it('accepts the correct implementation\'s runs and rejects edited traces and a seeded bug, in one TLC run', { timeout: 300_000 }, async () => {
    const base = good[1]!.trace; // hovercraft mode
    // An Apply of a client entry at a follower, with another replier.
    const applyAt = base.findIndex((e) => e.action === 'Apply' && e['client'] !== '0.0.0.0:0' &&
      base.some((l) => l.action === 'BecomeLeader' && l.node !== e.node));
    expect(applyAt).toBeGreaterThan(0);
    const applied = base[applyAt]!;
    const otherReplier = ['node1', 'node2', 'node3'].find((n) => n !== applied['replier'])!;
    const editedApply = base.map((e, j) => (j === applyAt ? { ...e, replier: otherReplier } : e));
    // A second leader of the first leader's term.
    const leaderAt = base.findIndex((e) => e.action === 'BecomeLeader');
    const leader = base[leaderAt]!;
    const intruder = ['node1', 'node2', 'node3'].find((n) => n !== leader.node)!;
    const twoLeaders = [...base.slice(0, leaderAt + 1), { ...leader, node: intruder }, ...base.slice(leaderAt + 1)];

    const batch: TraceValidationInput[] = [
      ...good,
      { ...good[1]!, trace: editedApply },
      { ...good[1]!, trace: twoLeaders },
      buggy!,
      { ...good[0]!, trace: [] },
    ];
    const t0 = Date.now();
    const results: TraceValidationResult[] = await validateHovercraftTraces(batch);
    const ms = Date.now() - t0;
    const events = batch.reduce((n, b) => n + b.trace.filter(isSpecEvent).length, 0);
    console.log(`TLC validated ${batch.length} HovercRaft traces (${events} spec events) in ${ms} ms`);

    for (const [j, r] of results.slice(0, 3).entries()) {
      expect(r, `${MODES[j]}: ${r.message}`).toEqual({ accepted: true, matchedPrefix: good[j]!.trace.filter(isSpecEvent).length });
    }
    expect(results[3]).toMatchObject({ accepted: false, matchedPrefix: specIndex(editedApply, applyAt) });
    expect(results[3]!.message).toMatch(/no behaviour of HovercRaft.tla matches spec event .* Apply at/);
    expect(results[4]).toMatchObject({ accepted: false, matchedPrefix: specIndex(twoLeaders, leaderAt + 1) });
    expect(results[4]!.message).toMatch(/BecomeLeader at/);
    // The seeded bug: the leader re-picks an announced entry's replier when it resends the entry;
    // the spec stops at the first event that carries (or acts on) the re-picked replier.
    const bug = results[5]!;
    expect(bug.accepted).toBe(false);
    const firstReassigned = firstReassignedSend(buggy!.trace);
    expect(firstReassigned).toBeGreaterThan(0);
    expect(bug.matchedPrefix).toBeLessThanOrEqual(specIndex(buggy!.trace, firstReassigned));
    expect(bug.matchedPrefix).toBeGreaterThan(specIndex(buggy!.trace, firstReassigned) - 20);
    expect(results[6]).toEqual({ accepted: true, matchedPrefix: 0 });
  });

  it('takes AGG_COMMIT\'s applied array as a function of the nodes, and rejects the seeded bug aggregator-overstates-applied at an AggCommit', { timeout: 300_000 }, async () => {
    const [pp] = await runs(31, 1, ['aggregator-overstates-applied'], 2); // hovercraft++
    const gen = generateHovercraftTraceModule([pp!], specVariables(readFileSync(HOVERCRAFT_SPEC, 'utf8')));
    expect(gen.tla).toMatch(/action \|-> "AggCommit", .*applied \|-> \("node1" :> \d+ @@ "node2" :> \d+ @@ "node3" :> \d+\)/);
    const [r] = await validateHovercraftTraces([pp!]);
    expect(r!.accepted).toBe(false);
    expect(r!.message).toMatch(/matches spec event .* AggCommit at aggregator/);
    // No later than the property sees an applied index above the truth.
    const [first] = appliedNotOverstated.check(pp!.trace, pp!.scenario, pp!.addrs);
    expect(first).toBeDefined();
    expect(r!.matchedPrefix).toBeLessThanOrEqual(specIndex(pp!.trace, first!.events![0]!));
  });

  it('admits a NACKed request whose duplicate is admitted and a restarted replier that does not answer again; ' +
    'rejects a repeated reply, an admission above the threshold and a FEEDBACK that frees twice', { timeout: 600_000 }, async () => {
    // A hovercraft run where a replier answers an entry, restarts and applies the entry again.
    const [restart] = await runs(11, 1, [], 1);
    const base = restart!.trace;
    const reapplied = reappliedAnswered(base);
    expect(reapplied).toBeGreaterThan(0);
    const reply = base.find((e) => e.action === 'Reply' && e.node === base[reapplied]!.node && e['index'] === base[reapplied]!['index'])!;
    // Edited: the restarted replier answers the entry again right after applying it.
    const repeated = [...base.slice(0, reapplied + 1), { ...reply, t: base[reapplied]!.t }, ...base.slice(reapplied + 1)];
    // Edited scenario: one slot fewer than the run used, so the admission that filled the last slot is above it.
    const maxInflight = Math.max(...base.filter((e) => e.action === 'MiddleboxForward').map((e) => e['inflight'] as number));
    expect(maxInflight).toBeGreaterThanOrEqual(1);
    const overAt = base.findIndex((e) => e.action === 'MiddleboxForward' && e['inflight'] === maxInflight);
    const lowThreshold = { ...restart!.scenario, topology: { ...(restart!.scenario.topology as object), threshold: maxInflight - 1 } };
    // Edited: a FEEDBACK frees the same slot twice.
    const fbAt = base.findIndex((e) => e.action === 'MiddleboxFeedback');
    expect(fbAt).toBeGreaterThan(0);
    const twice = [...base.slice(0, fbAt + 1), base[fbAt]!, ...base.slice(fbAt + 1)];
    // The seed-5 regression: a NACKed put's duplicate is admitted, ordered, applied and answered.
    const seed5: HovercraftScenario = JSON.parse(readFileSync(new URL('./fixtures/nack-then-duplicate-admitted.json', import.meta.url), 'utf8'));
    const r5 = await runScenario(hovercraft, seed5, tb);
    expect(r5.violations).toEqual([]);
    const nack = r5.trace.findIndex((e) => e.action === 'MiddleboxNack');
    expect(r5.trace.some((e, j) => j > nack && e.action === 'MiddleboxForward' && e['client'] === r5.trace[nack]!['client'] &&
      e['rid'] === r5.trace[nack]!['rid'])).toBe(true);

    const batch: TraceValidationInput[] = [
      restart!,
      { ...restart!, trace: repeated },
      { ...restart!, scenario: lowThreshold },
      { ...restart!, trace: twice },
      { trace: r5.trace, addrs: r5.addrs, scenario: seed5 },
    ];
    const results = await validateHovercraftTraces(batch);
    expect(results[0], results[0]!.message).toEqual({ accepted: true, matchedPrefix: base.filter(isSpecEvent).length });
    expect(results[1]).toMatchObject({ accepted: false, matchedPrefix: specIndex(repeated, reapplied + 1) });
    expect(results[1]!.message).toMatch(/Reply at/);
    expect(results[2]).toMatchObject({ accepted: false, matchedPrefix: specIndex(base, overAt) });
    expect(results[2]!.message).toMatch(/MiddleboxForward at/);
    expect(results[3]).toMatchObject({ accepted: false, matchedPrefix: specIndex(twice, fbAt + 1) });
    expect(results[3]!.message).toMatch(/MiddleboxFeedback at/);
    expect(results[4], results[4]!.message).toEqual({ accepted: true, matchedPrefix: r5.trace.filter(isSpecEvent).length });
  });

  it('admits a follower\'s success reply to a point-to-point append while the aggregator is in use', { timeout: 300_000 }, async () => {
    // HovercRaft++, 5 nodes: node3 rejects a forwarded append, the leader resends straight to it,
    // and node3's success goes back to the leader; a later forwarded append gets a reply with the
    // same fields through the aggregator. The reply's route is the append's, not the later one's.
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/aggregator-route.json', import.meta.url), 'utf8')) as { scenario: HovercraftScenario };
    const r = await runScenario(hovercraft, fixture.scenario, tb);
    expect(r.violations).toEqual([]);
    const handled = r.trace.findIndex((e) => e.action === 'HandleAppendEntries' && e.node === 'node3' && e['success'] === true &&
      r.trace.some((s, k) => k < r.trace.indexOf(e) && s.action === 'SendAppendEntries' && s['to'] === 'node3'));
    expect(handled).toBeGreaterThan(0);
    const [res] = await validateHovercraftTraces([{ trace: r.trace, addrs: r.addrs, scenario: fixture.scenario }]);
    expect(res, res!.message).toEqual({ accepted: true, matchedPrefix: r.trace.filter(isSpecEvent).length });
  });
});

describe('hovercraft trace validation regressions', () => {
  it('admits a node that commits up to the prefix it verified in the term when a delayed append carries a shorter ' +
    'prefix (raft mode, a paused old leader: TLC rejected the Commit)', { timeout: 300_000 }, async () => {
    const scenario: HovercraftScenario = JSON.parse(readFileSync(new URL('./fixtures/stale-append-commits-verified-prefix.json', import.meta.url), 'utf8'));
    const r = await runScenario(hovercraft, scenario, tb);
    expect(r.violations).toEqual([]);
    // The phenomenon: a successful HandleAppendEntries whose own end (matchIndex) is below the
    // Commit it is followed by at that node.
    const shortAppendCommit = r.trace.some((e, j) => e.action === 'HandleAppendEntries' && e['success'] === true &&
      r.trace[j + 1]?.action === 'Commit' && r.trace[j + 1]!.node === e.node &&
      Number(r.trace[j + 1]!['index']) > Number(e['matchIndex']));
    expect(shortAppendCommit).toBe(true);
    const [res] = await validateHovercraftTraces([{ trace: r.trace, addrs: r.addrs, scenario }]);
    expect(res, res!.message).toEqual({ accepted: true, matchedPrefix: r.trace.filter(isSpecEvent).length });
  });
});

/** Trace index of an Apply by a restarted node of an entry it answered (Reply) before its restart; -1 if none. */
function reappliedAnswered(trace: readonly TraceEvent[]): number {
  const answered = new Set<string>();
  const restarted = new Set<string>();
  for (const [j, e] of trace.entries()) {
    const key = `${e.node}/${String(e['index'])}`;
    if (e.action === 'Reply') answered.add(key);
    if (e.action === 'NodeStart' && [...answered].some((k) => k.startsWith(`${e.node}/`))) restarted.add(e.node);
    if (e.action === 'Apply' && restarted.has(e.node) && answered.has(key) && e['replier'] === e.node) return j;
  }
  return -1;
}

/** Trace index of the first SendAppendEntries carrying an entry with a replier other than its Announce's. */
function firstReassignedSend(trace: readonly TraceEvent[]): number {
  const announced = new Map<string, unknown>();
  for (const [j, e] of trace.entries()) {
    if (e.action === 'Announce') announced.set(`${e['term']}/${e['index']}`, e['replier']);
    if (e.action === 'BecomeLeader') announced.set(`${e['term']}/noop`, e.node);
    if (e.action === 'SendAppendEntries') {
      const entries = e['entries'] as [number, string, number, string, boolean][];
      for (const [k, en] of entries.entries()) {
        const index = (e['prevIndex'] as number) + k + 1;
        const r = announced.get(`${en[0]}/${index}`);
        if (r !== undefined && r !== en[3]) return j;
      }
    }
  }
  return -1;
}
