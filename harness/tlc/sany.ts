/**
 * SANY's (the TLA+ parser's) error report. SANY has no machine-readable mode: even under TLC's
 * `-tool` it prints plain text, so this reads the text forms of SANY2 2.1 (tla2tools 1.1.0 /
 * TLC 2.18), each seen in real output:
 *
 *   Encountered "1" at line 5, column 20 and token "+"         (parse error; module from "In module Bad")
 *   Lexical error at line 3, column 17.  Encountered: …          (lexical error)
 *   *** Errors: 1 \n\n line 5, col 14 to line 5, col 14 of module Sem \n\n Unknown operator: `y'.
 *   Cannot find source file for module Nope.  /  Cannot find the specified file Nope.tla.
 */

export interface TlaError {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly message: string;
}

/** Module name → path of the file SANY parsed it from ("Parsing file /abs/Mod.tla" lines). */
export function parsedFiles(output: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const m of output.matchAll(/^Parsing file (.*[\\/]([^\\/\n]+)\.tla)$/gm)) files.set(m[2]!, m[1]!);
  return files;
}

/** The errors SANY reported in `output`; [] when it reported none. */
export function parseSanyErrors(output: string): TlaError[] {
  const files = parsedFiles(output);
  const fileOf = (module: string | undefined) => (module === undefined ? undefined : (files.get(module) ?? `${module}.tla`));
  const errors: TlaError[] = [];

  const abortModule = /^In module (\w+)$/m.exec(output)?.[1];
  const parse = /\*\*\*Parse Error\*\*\*\s*\n([\s\S]*?Encountered .*? at line (\d+), column (\d+).*)/.exec(output);
  if (parse) {
    const message = parse[1]!.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
    errors.push({ file: fileOf(abortModule), line: Number(parse[2]), column: Number(parse[3]), message });
  }
  const lexical = /^Lexical error at line (\d+), column (\d+)\.\s*(.*)$/m.exec(output);
  if (lexical) {
    errors.push({ file: fileOf(abortModule), line: Number(lexical[1]), column: Number(lexical[2]), message: `Lexical error: ${lexical[3]}` });
  }
  const semantic = /^\*\*\* Errors: \d+\s*$([\s\S]*)/m.exec(output)?.[1] ?? '';
  for (const m of semantic.matchAll(/^\s*line (\d+), col (\d+) to line \d+, col \d+ of module (\w+)\s*\n\s*\n([\s\S]*?)(?=\n\s*\n|(?![\s\S]))/gm)) {
    errors.push({ file: fileOf(m[3]), line: Number(m[1]), column: Number(m[2]), message: m[4]!.trim() });
  }
  const missing = /^Cannot find source file for module (\w+)\.$|^Cannot find the specified file (.+)\.$/m.exec(output);
  if (missing) {
    const file = missing[2] ?? `${missing[1]}.tla`;
    errors.push({ file, message: `Cannot find the TLA+ module file ${file}` });
  }
  const abort = /\*\*\* Abort messages: \d+\s*\n([\s\S]*)/.exec(output)?.[1]?.trim();
  if (errors.length === 0 && abort) errors.push({ file: fileOf(abortModule), message: abort.replace(/\s*\n\s*/g, ' ') });
  return errors;
}
