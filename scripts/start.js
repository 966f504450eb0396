#!/usr/bin/env node
// `npm start`: Node-RED 4.1 on 127.0.0.1:1880 with this package, Dashboard 2.0 and the example
// flows, fed by the TTS simulator: one simulated application per webhook path, each with one
// webhook (APIs on 127.0.0.1:1881 and up). State lives in .node-red-demo/ (TTS_DEMO_DIR); delete
// that folder to start from the examples again.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const http = require('http');
const { spawn } = require('child_process');
const { exampleFlows, demoApplications } = require('./demo-flows');

const root = path.resolve(__dirname, '..');
const pkg = require(path.join(root, 'package.json'));
const userDir = path.resolve(process.env.TTS_DEMO_DIR || path.join(root, '.node-red-demo'));
const port = Number(process.env.PORT || 1880);
const simPort = Number(process.env.TTS_SIM_PORT || 1881);
const credentialSecret = 'node-red-contrib-the-things-stack-demo';

function encryptCredentials(credentials) {
  // Node-RED's own format: aes-256-ctr, key = sha256(credentialSecret), iv hex-prefixed.
  const key = crypto.createHash('sha256').update(credentialSecret).digest();
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv('aes-256-ctr', key, iv);
  const body = cipher.update(JSON.stringify(credentials), 'utf8', 'base64') + cipher.final('base64');
  return { $: iv.toString('hex') + body };
}

function readFlows() {
  return JSON.parse(fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8'));
}

function prepareUserDir() {
  fs.mkdirSync(path.join(userDir, 'node_modules'), { recursive: true });
  const link = path.join(userDir, 'node_modules', pkg.name);
  if (!fs.existsSync(link)) fs.symlinkSync(root, link, 'dir');
  const flowFile = path.join(userDir, 'flows.json');
  if (!fs.existsSync(flowFile)) {
    // The examples' profile points at the simulator's default port; follow TTS_SIM_PORT.
    const flows = exampleFlows(root).map((n) => (n.type === 'tts-profile' && n.server === 'http://127.0.0.1:1881' ? { ...n, server: `http://127.0.0.1:${simPort}` } : n));
    fs.writeFileSync(flowFile, JSON.stringify(flows, null, 2));
    // The demo profile reads its token from the environment (${ENV} works in credentials).
    const creds = {};
    for (const node of flows.filter((n) => n.type === 'tts-profile')) {
      creds[node.id] = { webhookToken: '${TTS_DEMO_WEBHOOK_TOKEN}', apiKey: '${TTS_DEMO_API_KEY}' };
    }
    fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(encryptCredentials(creds)));
  }
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    flowFile: 'flows.json',
    credentialSecret,
    // A first open shows the flows: no welcome tour, no "enable update notifications?" prompt.
    editorTheme: { tours: false },
    telemetry: { enabled: false },
  };
  fs.writeFileSync(path.join(userDir, 'settings.js'), `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
}

/**
 * Resolves once Node-RED answers on its port. The addresses are printed then: printed at once
 * they came before Node-RED's start-up log, scrolled away, and did not answer yet.
 */
function whenServing(url, child) {
  return new Promise((resolve) => {
    const attempt = () => {
      if (child.exitCode !== null) return;
      http.get(url, (res) => {
        res.resume();
        resolve();
      }).on('error', () => setTimeout(attempt, 200));
    };
    attempt();
  });
}

function main() {
  prepareUserDir();
  const token = process.env.TTS_DEMO_WEBHOOK_TOKEN || crypto.randomBytes(24).toString('base64url');
  const apiKey = process.env.TTS_DEMO_API_KEY || `NNSXS.DEMO${crypto.randomBytes(8).toString('hex').toUpperCase()}.${crypto.randomBytes(16).toString('hex').toUpperCase()}`;
  const env = { ...process.env, TTS_DEMO_WEBHOOK_TOKEN: token, TTS_DEMO_API_KEY: apiKey };
  const children = [];
  const stopAll = (code) => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGINT');
    process.exitCode = code;
  };

  const red = spawn(process.execPath, [require.resolve('node-red/red.js'), '-u', userDir, '-s', path.join(userDir, 'settings.js')], { env, stdio: 'inherit' });
  children.push(red);
  red.on('exit', (code) => stopAll(code ?? 0));

  const applications = demoApplications(readFlows(), simPort);
  for (const app of applications) {
    const simArgs = [
      path.join(root, 'dist', 'src', 'sim', 'cli.js'),
      '--webhook-url', `http://127.0.0.1:${port}${app.path}`,
      '--app', app.applicationId,
      '--device-prefix', app.devicePrefix,
      '--port', String(app.port),
      '--devices', process.env.TTS_SIM_DEVICES || '5',
      '--interval', process.env.TTS_SIM_INTERVAL || '15',
      '--wait-for-webhook',
      '--quiet',
    ];
    // The token and API key go by environment, not arguments: `ps` shows a command line to every local user.
    const sim = spawn(process.execPath, simArgs, { env: { ...env, TTS_SIM_TOKEN: token, TTS_SIM_API_KEY: apiKey }, stdio: 'inherit' });
    children.push(sim);
    sim.on('exit', (code) => {
      if (code) console.error(`tts-sim (${app.applicationId}) exited with ${code}`);
    });
  }

  process.on('SIGINT', () => stopAll(0));
  process.on('SIGTERM', () => stopAll(0));
  const lines = [
    '',
    `Node-RED editor: http://127.0.0.1:${port}/`,
    `Dashboard:       http://127.0.0.1:${port}/dashboard`,
    'TTS simulator (one application per webhook):',
    ...applications.map((app) => `  ${app.applicationId} → ${app.path}  (API http://127.0.0.1:${app.port}, devices ${app.devicePrefix}-01…)`),
    '',
  ];
  whenServing(`http://127.0.0.1:${port}/`, red).then(() => console.log(lines.join('\n')));
}

main();
