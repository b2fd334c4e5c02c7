/**
 * The harness's side of `protocheck agent`: what the agent is, how far its clock is from ours,
 * processes started on it (`AgentProcess`), and killing them all. Every failure is an
 * `AgentError` naming the agent (unreachable, secret refused, request refused, timeout).
 */
import { AgentProcess } from './remote-process.ts';
import { isAgentInfo, isClockResponse, isKillAllResponse, isSpawnResponse, type AgentInfo, type SpawnRequest } from './protocol.ts';
import { AgentError, Transport } from './transport.ts';

export { AgentError, type AgentErrorKind } from './transport.ts';
export { AgentProcess, type AgentProcessEvents } from './remote-process.ts';
export type { AgentInfo, AgentSignal, ExitStatus } from './protocol.ts';

export interface ClockOffset {
  /** Agent clock minus local `process.hrtime.bigint()`, in ns. */
  readonly offsetNs: bigint;
  /** Round trip of the sample the offset comes from, in ns (the offset is within ±rtt/2). */
  readonly rttNs: bigint;
}

export class AgentClient {
  private readonly transport: Transport;

  constructor(url: string, secret: string, timeoutMs = 5000) {
    this.transport = new Transport(url, secret, timeoutMs);
  }

  get url(): string {
    return this.transport.url;
  }

  async info(): Promise<AgentInfo> {
    const r = await this.transport.request('GET', '/v1/info');
    if (!isAgentInfo(r)) throw this.malformed('/v1/info', r);
    return r;
  }

  /**
   * Estimates the agent's clock offset NTP-style: `samples` sequential readings, each
   * offset = agentNs − (t0 + t1) / 2 around the request; the one with the smallest round trip wins.
   */
  async clockOffsetNs(samples = 8): Promise<ClockOffset> {
    if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`clockOffsetNs: samples must be a positive integer, got ${samples}`);
    let best: ClockOffset | undefined;
    for (let i = 0; i < samples; i++) {
      const t0 = process.hrtime.bigint();
      const r = await this.transport.request('GET', '/v1/clock');
      const t1 = process.hrtime.bigint();
      if (!isClockResponse(r)) throw this.malformed('/v1/clock', r);
      const rttNs = t1 - t0;
      if (!best || rttNs < best.rttNs) best = { offsetNs: BigInt(r.ns) - (t0 + t1) / 2n, rttNs };
    }
    return best!;
  }

  /** Starts `protocheck <argv>` on the agent; `id` labels it in messages. */
  async spawn(id: string, argv: readonly string[]): Promise<AgentProcess> {
    const body: SpawnRequest = { id, argv };
    const r = await this.transport.request('POST', '/v1/procs', body);
    if (!isSpawnResponse(r)) throw this.malformed('/v1/procs', r);
    return new AgentProcess(this.transport, id, r.proc, r.pid);
  }

  /** Kills every process the agent started; resolves with how many were still alive. */
  async killAll(): Promise<number> {
    const r = await this.transport.request('DELETE', '/v1/procs');
    if (!isKillAllResponse(r)) throw this.malformed('/v1/procs', r);
    return r.killed;
  }

  private malformed(path: string, body: unknown): AgentError {
    return new AgentError(`agent at ${this.url}: malformed answer from ${path}: ${JSON.stringify(body).slice(0, 200)}`, 'protocol');
  }
}
