/**
 * Human-readable reports: campaign summaries, violations with the events that show them, TLC
 * results. Plain text for the terminal.
 */
import type { Violation } from '../protocol.ts';
import type { TraceEvent } from '../trace/schema.ts';
import type { RunReport } from '../run/run-scenario.ts';
import type { CampaignResult } from '../run/campaign.ts';

export function formatEvent(e: TraceEvent, index?: number): string {
  const { t, node, action, ...fields } = e;
  const f = Object.entries(fields).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');
  const at = `${(t / 1000).toFixed(3).padStart(10)}ms`;
  return `${index === undefined ? '' : `#${String(index).padEnd(5)} `}${at}  ${node.padEnd(9)} ${action}${f ? ' ' + f : ''}`;
}

/** The last events of a trace up to (and a few past) the first event a violation names. */
export function traceExcerpt(trace: readonly TraceEvent[], violations: readonly Violation[], count = 15): string {
  const marked = new Set(violations.flatMap((v) => v.events ?? []));
  const focus = marked.size > 0 ? Math.max(...marked) : trace.length - 1;
  const end = Math.min(trace.length, focus + 3);
  const start = Math.max(0, end - count);
  const lines: string[] = [];
  if (start > 0) lines.push(`   … ${start} earlier events`);
  for (let i = start; i < end; i++) lines.push(`${marked.has(i) ? ' ▶ ' : '   '}${formatEvent(trace[i]!, i)}`);
  if (end < trace.length) lines.push(`   … ${trace.length - end} later events`);
  return lines.join('\n');
}

export function formatViolations(violations: readonly Violation[]): string {
  return violations.map((v) => `  ✗ [${v.check}] ${v.message}`).join('\n');
}

export function formatRunFailure(title: string, report: RunReport, replayFile?: string): string {
  return [
    title,
    formatViolations(report.violations),
    '',
    `  scenario (${report.testbed}, seed ${report.scenario.seed}):`,
    indent(JSON.stringify(report.scenario), 4),
    ...(replayFile ? ['', `  replay: protocheck replay ${replayFile}`] : []),
    '',
    `  last events of the trace (${report.trace.length} events; ▶ marks the events the check names):`,
    traceExcerpt(report.trace, report.violations),
  ].join('\n');
}

export function formatCampaign(r: CampaignResult): string {
  const out: string[] = [];
  if (r.failure) {
    const f = r.failure;
    out.push(formatRunFailure(
      `VIOLATION in ${r.protocol} on ${r.testbed} (campaign seed ${r.seed}, run ${r.runs}, shrunk in ${f.shrinkSteps} steps):`,
      f.shrunk, f.replayFile,
    ));
  }
  for (const v of r.tlcViolations) {
    out.push(formatRunFailure(`TLC REJECTED a trace of ${r.protocol} on ${r.testbed}:`, { ...v.report, violations: [v.violation] }, v.replayFile));
  }
  return out.join('\n\n');
}

/**
 * The campaign's load figures on one line, e.g. `load (summed over 200 runs): runs-at-bound 61,
 * announces-at-bound 1840, …`; empty when the protocol defines none.
 */
export function formatLoadFigures(r: Pick<CampaignResult, 'runs' | 'loadFigures'>): string {
  const figures = Object.entries(r.loadFigures ?? {});
  if (figures.length === 0) return '';
  return `load (summed over ${r.runs} run${r.runs === 1 ? '' : 's'}): ${figures.map(([k, v]) => `${k} ${v}`).join(', ')}`;
}

export function indent(text: string, n: number): string {
  const pad = ' '.repeat(n);
  return text.split('\n').map((l) => pad + l).join('\n');
}

/** A plain text table with a header row. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
