// The largest allocation sites of a sampling heap profile (what was live when it was taken).
import { readFileSync } from 'node:fs';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const nameOf = (node: ProfileNode): string => {
  const f = node.callFrame;
  const where = f.url ? `${f.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\//, '').replace(/^.*\/dist\//, '')}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
};

/** Bytes by site; a site is the allocating function and its `frames - 1` callers (innermost first, joined by " < "). */
function bySite(file: string, frames: number): Map<string, number> {
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode };
  const sites = new Map<string, number>();
  const walk = (node: ProfileNode, stack: string[]): void => {
    const here = [nameOf(node), ...stack].slice(0, frames);
    if (node.selfSize > 0) {
      const site = here.join(' < ');
      sites.set(site, (sites.get(site) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(head, []);
  return sites;
}

/**
 * [site, MB] of the `top` sites holding the most, the site named by function, file and line;
 * `minus` (an earlier profile of the same process) is subtracted site by site, `frames` > 1 names
 * callers too (a JSON.parse or an object literal alone rarely says whose it is).
 */
export function topSites(file: string, top = 12, options: { minus?: string; frames?: number } = {}): Array<[string, number]> {
  const frames = options.frames ?? 1;
  const sites = bySite(file, frames);
  if (options.minus) for (const [site, bytes] of bySite(options.minus, frames)) sites.set(site, (sites.get(site) ?? 0) - bytes);
  return [...sites]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([site, bytes]) => [site, bytes / (1024 * 1024)]);
}
