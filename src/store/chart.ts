import type { StoredReading } from './types';

/** One point of a Dashboard 2.0 ui-chart: configure the chart with series key `series`, x key `x`, y key `y`. */
export interface ChartPoint {
  series: string;
  x: number;
  y: number;
}

/**
 * Readings → chart points, one series per numeric field (nested objects flatten to `a.b`),
 * ordered by time. Non-numeric fields are left out: a chart cannot plot them.
 */
export function toChartPoints(rows: StoredReading[], fields?: string[]): ChartPoint[] {
  const wanted = fields && fields.length > 0 ? new Set(fields) : undefined;
  const points: ChartPoint[] = [];
  const sorted = [...rows].sort((a, b) => a.ts - b.ts);
  for (const row of sorted) {
    for (const [series, y] of numericFields(row.data, '')) {
      if (!wanted || wanted.has(series)) points.push({ series, x: row.ts, y });
    }
  }
  return points;
}

function numericFields(data: Record<string, unknown>, prefix: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const [key, value] of Object.entries(data)) {
    const name = prefix + key;
    if (typeof value === 'number' && Number.isFinite(value)) out.push([name, value]);
    else if (typeof value === 'boolean') out.push([name, value ? 1 : 0]);
    else if (value && typeof value === 'object' && !Array.isArray(value)) {
      out.push(...numericFields(value as Record<string, unknown>, `${name}.`));
    }
  }
  return out;
}
