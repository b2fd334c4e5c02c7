/** TLC's `-tool` output read into a typed verdict. */
import { EC, MessageClass, parseToolOutput, type ToolMessage } from './messages.ts';
import { parsedFiles, parseSanyErrors, type TlaError } from './sany.ts';
import { parseTlaValues, TlaValueParser, type TlaValue } from './values.ts';

export type TlcOutcome = 'ok' | 'invariant-violated' | 'property-violated' | 'deadlock' | 'parse-error' | 'error';

/** One state of a counterexample. */
export interface TlcState {
  /** 1-based position in the behaviour. */
  readonly index: number;
  /** The action that led here (e.g. `RouterDispatch`); absent for the initial state. */
  readonly action?: string;
  /** Where that action is defined, e.g. `line 5, col 8 to line 5, col 41 of module Counter`. */
  readonly location?: string;
  readonly vars: Readonly<Record<string, TlaValue>>;
}

export interface TlcResult {
  readonly outcome: TlcOutcome;
  /** The violated invariant or property (absent for temporal properties: TLC does not name them). */
  readonly violated?: string;
  /** What went wrong, one line; absent when `ok`. */
  readonly message?: string;
  readonly statesGenerated: number;
  readonly distinctStates: number;
  readonly depth: number;
  readonly wallMs: number;
  readonly counterexample?: readonly TlcState[];
  /**
   * For a liveness counterexample (a lasso): the index of the state the behaviour returns to
   * forever; the last state's own index when it stutters.
   */
  readonly loopBackTo?: number;
  /**
   * Values printed by `PrintT`/`Print` while exploring, in order (`Print(out, val)` gives two).
   * Printing during TLC's replay of a counterexample is not included.
   */
  readonly printed: readonly TlaValue[];
  readonly errors: readonly TlaError[];
  /** TLC's full output (stdout, then stderr if any). */
  readonly raw: string;
}

export type TlcVerdict = Omit<TlcResult, 'wallMs' | 'raw'>;

const STATE_HEADER = /^(\d+): <(.*)>$/;
const ACTION = /^([^\s(]+)(?:\(.*\))? (line \d+, col \d+ to line \d+, col \d+ of module \w+)$/;

/** `/\ x = 1 /\ y = "a"` (or `x = 1` for a single variable) as a record of values. */
export function parseStateVars(text: string): Record<string, TlaValue> {
  const parser = new TlaValueParser(text);
  const vars: [string, TlaValue][] = [];
  while (!parser.atEnd()) {
    parser.eat('/\\');
    const name = parser.word();
    parser.expect('=');
    vars.push([name, parser.value()]);
  }
  return Object.fromEntries(vars);
}

/** A `2217` message body: `<n>: <Action line … of module M>` and the variables. */
export function parseState(body: string): TlcState {
  const [header = '', ...rest] = body.split('\n');
  const m = STATE_HEADER.exec(header.trim());
  if (!m) throw new Error(`not a TLC state header: ${JSON.stringify(header)}`);
  const vars = parseStateVars(rest.join('\n'));
  const label = ACTION.exec(m[2]!);
  return label ? { index: Number(m[1]), action: label[1]!, location: label[2]!, vars } : { index: Number(m[1]), vars };
}

/** The innermost `line L, col C … of module M` / `Line L, column C … in M` of an error text. */
function locate(text: string, files: Map<string, string>): Omit<TlaError, 'message'> {
  const m = [...text.matchAll(/line (\d+), col(?:umn)? (\d+) to line \d+, col(?:umn)? \d+ (?:of module|in) (\w+)/gi)].at(-1);
  return m ? { file: files.get(m[3]!) ?? `${m[3]}.tla`, line: Number(m[1]), column: Number(m[2]) } : {};
}

const count = (s: string | undefined) => Number((s ?? '0').replace(/,/g, ''));
const firstLine = (s: string) => s.trim().split('\n')[0]!.trim();
const oneLine = (s: string) => s.trim().replace(/\s*\n\s*/g, ' ');

/** Reads TLC's `-tool` output. A run that stopped without any verdict reads as `error`. */
export function parseTlcOutput(output: string): TlcVerdict {
  const files = parsedFiles(output);
  let outcome: TlcOutcome | undefined;
  let violated: string | undefined;
  let message: string | undefined;
  let succeeded = false;
  let statesGenerated = 0;
  let distinctStates = 0;
  let depth: number | undefined;
  let progressDepth = 0;
  let loopBackTo: number | undefined;
  const counterexample: TlcState[] = [];
  const printed: TlaValue[] = [];
  const errors: TlaError[] = [];
  let sanyText = '';
  let started = false;
  let collecting = false;

  const verdict = (o: TlcOutcome, msg: ToolMessage, name?: RegExp) => {
    outcome ??= o;
    message ??= firstLine(msg.body);
    violated ??= name?.exec(msg.body)?.[1];
  };

  for (const item of parseToolOutput(output)) {
    if (item.kind === 'text') {
      if (!started) sanyText += `${item.text}\n`;
      else if (collecting) printed.push(...parseTlaValues(item.text));
      continue;
    }
    if (item.cls === MessageClass.ERROR || item.cls === MessageClass.TLCBUG) collecting = false;
    const { body } = item;
    switch (item.code) {
      case EC.STARTING:
        started = collecting = true;
        break;
      case EC.SUCCESS:
        succeeded = true;
        break;
      case EC.INVARIANT_VIOLATED_INITIAL:
      case EC.PROPERTY_VIOLATED_INITIAL: {
        const invariant = item.code === EC.INVARIANT_VIOLATED_INITIAL;
        verdict(invariant ? 'invariant-violated' : 'property-violated', item, /^\s*(?:Invariant|Property) (\S+) is violated/);
        counterexample.push({ index: 1, vars: parseStateVars(body.split('\n').slice(1).join('\n')) });
        break;
      }
      case EC.INVARIANT_VIOLATED_BEHAVIOR:
        verdict('invariant-violated', item, /^\s*Invariant (\S+) is violated/);
        break;
      case EC.ACTION_PROPERTY_VIOLATED_BEHAVIOR:
        verdict('property-violated', item, /^\s*Action property (\S+) is violated/);
        break;
      case EC.TEMPORAL_PROPERTY_VIOLATED:
        verdict('property-violated', item);
        break;
      case EC.DEADLOCK_REACHED:
        verdict('deadlock', item);
        break;
      case EC.STATE_PRINT2:
        counterexample.push(parseState(body));
        break;
      case EC.STATE_PRINT3:
        loopBackTo = counterexample.at(-1)?.index;
        break;
      case EC.BACK_TO_STATE:
        loopBackTo = Number(/^\s*(\d+):/.exec(body)?.[1]);
        break;
      case EC.BEHAVIOR_UP_TO_THIS_POINT:
      case EC.COUNTER_EXAMPLE:
        break;
      case EC.STATS: {
        const m = /([\d,]+) states generated, ([\d,]+) distinct states found/.exec(body);
        statesGenerated = count(m?.[1]);
        distinctStates = count(m?.[2]);
        break;
      }
      case EC.PROGRESS_STATS:
        progressDepth = count(/Progress\(([\d,]+)\)/.exec(body)?.[1]);
        break;
      case EC.SEARCH_DEPTH:
        depth = count(/ is ([\d,]+)/.exec(body)?.[1]);
        break;
      case EC.PARSING_FAILED: {
        const sany = parseSanyErrors(sanyText);
        errors.push(...sany);
        outcome ??= 'parse-error';
        message ??= sany[0] ? `${sany[0].file ?? ''}:${sany[0].line ?? ''}: ${oneLine(sany[0].message)}` : 'SANY could not parse the spec';
        break;
      }
      default:
        if (item.cls === MessageClass.ERROR || item.cls === MessageClass.TLCBUG) {
          errors.push({ ...locate(body, files), message: oneLine(body) });
          outcome ??= 'error';
          message ??= oneLine(body);
        }
    }
  }

  if (outcome === undefined && !succeeded) {
    outcome = 'error';
    message = 'TLC ended without reporting a result';
  }
  return {
    outcome: outcome ?? 'ok',
    ...(violated !== undefined && { violated }),
    ...(message !== undefined && { message }),
    statesGenerated,
    distinctStates,
    depth: depth ?? progressDepth,
    ...(counterexample.length > 0 && { counterexample }),
    ...(loopBackTo !== undefined && { loopBackTo }),
    printed,
    errors,
  };
}
