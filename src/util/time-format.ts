// How this package shows a point in time to a person: in the viewer's own time zone and
// locale. That is what Node-RED's debug sidebar does (toLocaleString in the browser), and what
// Dashboard 2.0 does with chart axes and with a table column of type "Date & Time"
// (toLocaleString in the viewer's browser too), so a time read in the sidebar, the debug sidebar
// and the dashboard is the same text. UTC shown beside a local debug timestamp made one uplink
// look an hour or more apart.
//
// This file imports nothing: the build also serves it to the editor as resources/tts-time.js
// (window.TtsTime), and the sidebar formats every time through it. Code that runs in Node-RED
// does not format times for people (it cannot know the viewer's time zone): it hands on epoch
// milliseconds, and the browser formats them.

export type TimeValue = number | string | Date | null | undefined;

function toDate(value: TimeValue): Date | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Date and time in the viewer's time zone and locale (en-US: "12/2/2026, 6:07:34 PM"); '' for none. */
export function formatDateTime(value: TimeValue): string {
  return toDate(value)?.toLocaleString() ?? '';
}

/**
 * The short form, for lists and axes: the time of day alone (en-US: "6:07:34 PM") for a time of
 * the viewer's today, the date and time otherwise (a bucket's newest rows may be days old);
 * '' for none.
 */
export function formatShortTime(value: TimeValue, now: number = Date.now()): string {
  const date = toDate(value);
  if (!date) return '';
  return date.toDateString() === new Date(now).toDateString() ? date.toLocaleTimeString() : date.toLocaleString();
}
