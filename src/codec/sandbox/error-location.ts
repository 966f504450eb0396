// Finds where in the user's script an error happened. The script is compiled with a wrapper line
// above it and `lineOffset: -1`, so V8 already reports user line numbers; these helpers read them
// out of V8's texts.

export interface SourcePosition {
  line: number;
  column?: number;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Clamps a line into the script (errors at the wrapper's closing lines belong to the last line). */
function clamp(line: number, userLines: number): number {
  return Math.min(Math.max(line, 1), Math.max(userLines, 1));
}

/** Innermost stack frame in the user's script: `at fn (<filename>:12:5)`. */
export function positionFromStack(stack: string, filename: string, userLines: number): SourcePosition | undefined {
  const match = new RegExp(`${escapeRegExp(filename)}:(\\d+):(\\d+)`).exec(stack);
  if (!match) return undefined;
  const line = Number(match[1]);
  return { line: clamp(line, userLines), column: line > userLines ? undefined : Number(match[2]) };
}

/**
 * A SyntaxError from `new vm.Script` carries `<filename>:<line>`, the source line and a caret line
 * at the head of its stack.
 */
export function positionFromSyntaxError(stack: string, filename: string, userLines: number): SourcePosition | undefined {
  const lines = stack.split('\n');
  const head = new RegExp(`^${escapeRegExp(filename)}:(\\d+)$`).exec(lines[0] ?? '');
  if (!head) return undefined;
  const line = Number(head[1]);
  const caret = (lines[2] ?? '').indexOf('^');
  return { line: clamp(line, userLines), column: caret >= 0 && line <= userLines ? caret + 1 : undefined };
}

export function describePosition(position: SourcePosition | undefined): string {
  if (!position) return '';
  return position.column === undefined ? ` (line ${position.line})` : ` (line ${position.line}, column ${position.column})`;
}
