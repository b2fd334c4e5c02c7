/**
 * Online merge of per-process traces. Each part (one process incarnation, or the harness's own
 * annotations) delivers its events in non-decreasing `t` (each is stamped by one process from the
 * monotonic clock), but the parts interleave arbitrarily in the pipes. An event is released to the
 * observer once the watermark passes it: the caller's estimate of a time before which no part will
 * still deliver an event. Released events come out in exactly the order `mergeTraces` gives the
 * final trace: (t, part, index within the part).
 *
 * If an event arrives behind an already released one (the watermark was too optimistic, e.g. a
 * process was descheduled between stamping and writing), streaming stops for the rest of the run:
 * the observer then has seen fewer events than the trace holds, which tells `runScenario` to
 * re-check the final trace (its documented fallback). The final trace is always right.
 */
import { mergeTraces, type TraceEvent } from '../../harness/trace/schema.ts';

interface Keyed {
  readonly e: TraceEvent;
  readonly part: number;
  readonly i: number;
}

function before(a: Keyed, b: Keyed): boolean {
  return a.e.t < b.e.t || (a.e.t === b.e.t && (a.part < b.part || (a.part === b.part && a.i < b.i)));
}

export class StreamMerger {
  private readonly parts: TraceEvent[][] = [];
  private pending: Keyed[] = [];
  private last: Keyed | undefined;
  private released = 0;
  /** Streaming stopped because an event arrived behind the watermark. */
  broken = false;

  constructor(private readonly observe?: (e: TraceEvent) => void) {}

  addPart(): number {
    this.parts.push([]);
    return this.parts.length - 1;
  }

  push(part: number, e: TraceEvent): void {
    const p = this.parts[part]!;
    const k: Keyed = { e, part, i: p.length };
    p.push(e);
    if (!this.observe || this.broken) return;
    if (this.last && before(k, this.last)) {
      this.broken = true;
      this.pending = [];
      return;
    }
    this.pending.push(k);
  }

  /** Releases every pending event with t ≤ watermark, in merge order. */
  release(watermark: number): void {
    if (!this.observe || this.broken || this.pending.length === 0) return;
    const ready: Keyed[] = [];
    const keep: Keyed[] = [];
    for (const k of this.pending) (k.e.t <= watermark ? ready : keep).push(k);
    if (ready.length === 0) return;
    this.pending = keep;
    ready.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
    for (const k of ready) {
      this.last = k;
      this.released++;
      this.observe(k.e);
    }
  }

  /** Releases the rest and returns the whole merged trace. */
  finish(): TraceEvent[] {
    this.release(Number.POSITIVE_INFINITY);
    return mergeTraces(this.parts);
  }

  get streamed(): number {
    return this.released;
  }
}
