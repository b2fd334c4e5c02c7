/**
 * TLC's `-tool` output: messages framed by `@!@!@STARTMSG <code>:<class> @!@!@` and
 * `@!@!@ENDMSG <code> @!@!@` lines, and the text between them (SANY's report, `Print`/`PrintT`
 * output). Messages nest (e.g. a config-file error inside a general error).
 *
 * Codes are `tlc2.output.EC` constants of tla2tools, checked against TLC 2.18 output.
 */

export const EC = {
  GENERAL: 1000,
  /** Body: "Invariant <name> is violated by the initial state:" and the state. */
  INVARIANT_VIOLATED_INITIAL: 2107,
  /** Body: "Property <name> is violated by the initial state:" and the state. */
  PROPERTY_VIOLATED_INITIAL: 2108,
  /** Body: "Invariant <name> is violated." */
  INVARIANT_VIOLATED_BEHAVIOR: 2110,
  /** Body: "Action property <name> is violated." */
  ACTION_PROPERTY_VIOLATED_BEHAVIOR: 2112,
  DEADLOCK_REACHED: 2114,
  /** Body: "Temporal properties were violated." (no name). */
  TEMPORAL_PROPERTY_VIOLATED: 2116,
  /** Before the trace of a safety violation or an error: "The behavior up to this point is:". */
  BEHAVIOR_UP_TO_THIS_POINT: 2121,
  /** Last line of a lasso: "<n>: Back to state: <Action line …>". */
  BACK_TO_STATE: 2122,
  /** Before the trace of a liveness violation: "The following behavior constitutes a counter-example:". */
  COUNTER_EXAMPLE: 2264,
  STARTING: 2185,
  FINISHED: 2186,
  SUCCESS: 2193,
  /** Body: "The depth of the complete state graph search is <n>." */
  SEARCH_DEPTH: 2194,
  /** Body: "<g> states generated, <d> distinct states found, <q> states left on queue." */
  STATS: 2199,
  /** Body: "Progress(<depth>) at …: <g> states generated…, <d> distinct states found…" */
  PROGRESS_STATS: 2200,
  /** A state of a trace: "<n>: <Action line …>" or "<n>: <Initial predicate>", then `/\ var = value` lines. */
  STATE_PRINT2: 2217,
  /** Last line of a liveness trace that stutters: "<n>: Stuttering". */
  STATE_PRINT3: 2218,
  /** SANY failed; its report is the unframed text before (the message body is empty). */
  PARSING_FAILED: 3002,
} as const;

/** `tlc2.output.MP` message classes. */
export const MessageClass = { NONE: 0, ERROR: 1, TLCBUG: 2, WARNING: 3, STATE: 4 } as const;

export interface ToolMessage {
  readonly code: number;
  readonly cls: number;
  /** The text inside the frame, nested messages' frames removed (their text kept). */
  readonly body: string;
}

/** A top-level item of the output, in order: a message or a run of unframed text. */
export type ToolItem = ({ kind: 'message' } & ToolMessage) | { kind: 'text'; text: string };

/** A nested message may start mid-line (e.g. after "The exception was a …ConfigFileException\n: "). */
const START = /@!@!@STARTMSG (\d+):(\d+) @!@!@$/;
const END = /^@!@!@ENDMSG (\d+) @!@!@$/;

/**
 * Splits `-tool` output into top-level messages and unframed text. A nested message is folded
 * into its parent's body. Lines after an unterminated frame (TLC was killed) end up in its body.
 */
export function parseToolOutput(output: string): ToolItem[] {
  const items: ToolItem[] = [];
  const open: { code: number; cls: number; lines: string[] }[] = [];
  let text: string[] = [];
  const flushText = () => {
    if (text.some((l) => l.trim() !== '')) items.push({ kind: 'text', text: text.join('\n') });
    text = [];
  };
  const close = () => {
    const m = open.pop()!;
    const body = m.lines.join('\n');
    const parent = open.at(-1);
    if (parent) parent.lines.push(body);
    else items.push({ kind: 'message', code: m.code, cls: m.cls, body });
  };
  for (const line of output.split(/\r?\n/)) {
    const start = START.exec(line);
    const end = END.exec(line);
    if (start) {
      const before = line.slice(0, start.index);
      if (open.length > 0 && before !== '') open.at(-1)!.lines.push(before);
      if (open.length === 0) {
        if (before !== '') text.push(before);
        flushText();
      }
      open.push({ code: Number(start[1]), cls: Number(start[2]), lines: [] });
    } else if (end && open.length > 0) close();
    else if (open.length > 0) open.at(-1)!.lines.push(line);
    else text.push(line);
  }
  while (open.length > 0) close();
  flushText();
  return items;
}
