#!/usr/bin/env node
// Compiles TypeScript into dist/ and puts each node's editor HTML, locales and icons beside
// its compiled .js, which is where Node-RED's loader looks for them.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.resolve(__dirname, '..');
// `--out DIR` builds elsewhere (parallel work on one checkout must not clobber dist/).
const outArg = process.argv.indexOf('--out');
const dist = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(root, 'dist');

fs.rmSync(dist, { recursive: true, force: true });
let typecheckFailed = false;
try {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', root, '--outDir', dist], { stdio: 'inherit' });
} catch {
  // tsc still emits; copy assets so the output is usable, then fail the build.
  typecheckFailed = true;
}

function copyTree(from, to, filter) {
  if (!fs.existsSync(from)) return;
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(src, dst, filter);
    else if (!filter || filter(entry.name)) {
      fs.mkdirSync(to, { recursive: true });
      fs.copyFileSync(src, dst);
    }
  }
}

const nodesDir = path.join(root, 'nodes');
for (const entry of fs.readdirSync(nodesDir, { withFileTypes: true })) {
  if (!entry.isDirectory() || entry.name === 'shared') continue;
  const from = path.join(nodesDir, entry.name);
  const to = path.join(dist, 'nodes', entry.name);
  copyTree(from, to, (name) => !name.endsWith('.ts'));
  copyTree(path.join(root, 'icons'), path.join(to, 'icons'));
}
// Test fixtures and browser assets are read at run time from beside the compiled tests.
copyTree(path.join(root, 'test'), path.join(dist, 'test'), (name) => !name.endsWith('.ts'));

if (typecheckFailed) {
  console.error('build: TypeScript reported errors (see above)');
  process.exit(1);
}
