import type { TtsStore } from './store';
import type { StoredReading } from './types';

export type ExportFormat = 'csv' | 'jsonl';

export function isExportFormat(value: unknown): value is ExportFormat {
  return value === 'csv' || value === 'jsonl';
}

export interface ExportRange {
  from?: number;
  to?: number;
}

/** The row shape of query results and JSON lines exports. */
export function readingToRow(r: StoredReading): Record<string, unknown> {
  const row: Record<string, unknown> = {
    time: new Date(r.ts).toISOString(),
    f_cnt: r.fCnt,
    f_port: r.fPort,
    data: r.data,
  };
  if (r.radio) row.radio = r.radio;
  return row;
}

function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  // Spreadsheets run cells that start like a formula; neutralise text (not numbers).
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * A bucket as CSV or JSON lines, page by page (the store yields to the event loop between pages,
 * and the consumer's backpressure paces the reads). CSV columns are time, f_cnt, f_port, the data
 * fields seen in the first page, and `other` holding (as JSON) any field that appears only later.
 */
export async function* exportBucket(
  store: TtsStore,
  bucket: string,
  format: ExportFormat,
  range: ExportRange = {},
): AsyncGenerator<string> {
  const pages = store.readAll({ bucket, ...range, order: 'asc' });
  if (format === 'jsonl') {
    for await (const page of pages) yield page.map((r) => `${JSON.stringify(readingToRow(r))}\n`).join('');
    return;
  }
  let fields: string[] | undefined;
  for await (const page of pages) {
    if (!fields) {
      const seen = new Set<string>();
      for (const r of page) for (const key of Object.keys(r.data)) seen.add(key);
      fields = [...seen];
      yield `${['time', 'f_cnt', 'f_port', ...fields, 'other'].map(csvCell).join(',')}\r\n`;
    }
    const known = new Set(fields);
    let text = '';
    for (const r of page) {
      const other: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(r.data)) if (!known.has(k)) other[k] = v;
      const cells = [new Date(r.ts).toISOString(), r.fCnt, r.fPort, ...fields.map((f) => r.data[f])];
      cells.push(Object.keys(other).length > 0 ? other : undefined);
      text += `${cells.map(csvCell).join(',')}\r\n`;
    }
    yield text;
  }
  if (!fields) yield 'time,f_cnt,f_port,other\r\n';
}
