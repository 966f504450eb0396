// The largest allocation sites of a sampling heap profile (what was live when it was taken).
import { readFileSync } from 'node:fs';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

/** [site, MB] of the `top` sites holding the most, the site named by function, file and line. */
export function topSites(file: string, top = 12): Array<[string, number]> {
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode };
  const bySite = new Map<string, number>();
  const walk = (node: ProfileNode): void => {
    const f = node.callFrame;
    const where = f.url ? `${f.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\//, '').replace(/^.*\/dist\//, '')}:${f.lineNumber + 1}` : '';
    const site = `${f.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    if (node.selfSize > 0) bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child);
  };
  walk(head);
  return [...bySite]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([site, bytes]) => [site, bytes / (1024 * 1024)]);
}
