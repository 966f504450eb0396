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

/*
 * TTS posts every message of an application to each of its webhooks, so two webhook paths fed
 * by one application receive everything twice (every downlink event included). The demo gives
 * each tts-webhook-in path its own simulated application instead: one webhook per application.
 * The first is the application examples 2 and 3 work with (devices sim-device-01…, its API on
 * the examples' profile server port); the others get their own devices, so registry ids never
 * collide in the shared store.
 */
const KNOWN_APPLICATIONS = [
  { path: '/tts-store', applicationId: 'sim-app', devicePrefix: 'sim-device' },
  { path: '/tts', applicationId: 'sim-receive', devicePrefix: 'receive-device' },
  { path: '/tts-dashboard', applicationId: 'sim-dashboard', devicePrefix: 'dashboard-device' },
];

/** One simulated application per webhook path: `{ path, applicationId, devicePrefix, port }`. */
function demoApplications(flows, firstPort) {
  const paths = webhookPaths(flows);
  const known = KNOWN_APPLICATIONS.filter((app) => paths.includes(app.path));
  const others = paths
    .filter((p) => !KNOWN_APPLICATIONS.some((app) => app.path === p))
    .map((p, i) => ({ path: p, applicationId: `sim-app-${i + 2}`, devicePrefix: `device-${i + 2}` }));
  return [...known, ...others].map((app, i) => ({ ...app, port: firstPort + i }));
}

module.exports = { exampleFlows, webhookPaths, demoApplications };
