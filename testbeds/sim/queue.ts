/**
 * The simulator's event queue: events ordered by (time, insertion sequence) — equal times pop in
 * the order they were pushed. A binary min-heap, plus a FIFO for events pushed at the current time
 * (the common case: a packet entering the switch, a delivery to a host), which skips the heap.
 *
 * Why the FIFO keeps the order exact: every event pushed at the current time `now` has a larger
 * sequence number than any heap event with time `now` (those were pushed before `now` became the
 * current time, or they would be in the FIFO). So heap events at `now` pop first, then the FIFO.
 */
export interface Queued {
  /** Virtual time, integer µs. Set by `push`. */
  t: number;
  /** Insertion sequence. Set by `push`. */
  seq: number;
}

export class EventQueue<E extends Queued> {
  private readonly heap: E[] = [];
  private fifo: E[] = [];
  private head = 0;
  private seq = 0;
  /** The time of the last popped event (events are never scheduled before it). */
  now = 0;

  get size(): number {
    return this.heap.length + this.fifo.length - this.head;
  }

  /** Schedules `e` at `t` (clamped to `now`). */
  push(t: number, e: E): void {
    e.seq = this.seq++;
    if (t <= this.now) {
      e.t = this.now;
      this.fifo.push(e);
      return;
    }
    e.t = t;
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent]!;
      if (p.t < t || (p.t === t && p.seq < e.seq)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = e;
  }

  /** The time of the next event, or `Infinity` when empty. */
  peekTime(): number {
    if (this.heap.length && this.heap[0]!.t <= this.now) return this.now;
    if (this.head < this.fifo.length) return this.now;
    return this.heap.length ? this.heap[0]!.t : Infinity;
  }

  pop(): E | undefined {
    const h = this.heap;
    if (h.length && (h[0]!.t <= this.now || this.head >= this.fifo.length)) {
      const top = h[0]!;
      const last = h.pop()!;
      if (h.length) this.siftDown(last);
      this.now = top.t;
      if (this.head >= this.fifo.length && this.head > 0) {
        this.fifo = [];
        this.head = 0;
      }
      return top;
    }
    if (this.head < this.fifo.length) {
      const e = this.fifo[this.head]!;
      (this.fifo as (E | undefined)[])[this.head++] = undefined;
      if (this.head === this.fifo.length) {
        this.fifo = [];
        this.head = 0;
      }
      return e;
    }
    return undefined;
  }

  private siftDown(e: E): void {
    const h = this.heap;
    const n = h.length;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n && (h[r]!.t < h[c]!.t || (h[r]!.t === h[c]!.t && h[r]!.seq < h[c]!.seq))) c = r;
      const ch = h[c]!;
      if (e.t < ch.t || (e.t === ch.t && e.seq < ch.seq)) break;
      h[i] = ch;
      i = c;
    }
    h[i] = e;
  }
}
