/** TLC runner: find the tools, run SANY/TLC, read verdicts, counterexamples and TLA+ values. */
export { ensureTools, TlcSetupError, TLATOOLS, type Tools, type ToolsOptions } from './tools.ts';
export { runSany, runTlc, DEFAULT_TIMEOUT_MS, type SanyResult, type TlcOptions } from './run.ts';
export { parseTlcOutput, type TlcOutcome, type TlcResult, type TlcState } from './result.ts';
export type { TlaError } from './sany.ts';
export {
  formatTlaValue,
  isTlaIdentifier,
  parseTlaValue,
  parseTlaValues,
  toJs,
  toTla,
  TlaParseError,
  TlaSerializeError,
  type JsValue,
  type TlaValue,
} from './values.ts';
export { formatCounterexample } from './format.ts';
export { runTraceCheck, TraceValidationError, type GeneratedModule, type TraceCheckRun } from './trace-check.ts';
