'use strict';
// The demo's flow file: every example flow in examples/, config nodes shared between examples
// (same id) kept once. Used by `npm start` and by the test that runs the demo.
const fs = require('fs');
const path = require('path');
// Built by `npm run build` (start and test build first).
const { normaliseWebhookPath } = require('../dist/src/tts/protocol');

function exampleFlows(root) {
  const dir = path.join(root, 'examples');
  const byId = new Map();
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    for (const node of JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'))) {
      if (!byId.has(node.id)) byId.set(node.id, node);
    }
  }
  return [...byId.values()];
}

/** The paths of the enabled tts-webhook-in nodes, normalised as the node does. */
function webhookPaths(flows) {
  const paths = new Set();
  for (const node of flows) {
    if (node.type !== 'tts-webhook-in' || node.d) continue;
    paths.add(normaliseWebhookPath(String(node.path || '/')));
  }
  return [...paths];
}

module.exports = { exampleFlows, webhookPaths };
