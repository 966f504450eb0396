import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { WebhookReceiver } from '../helpers/webhook-receiver';

const CLI = path.resolve(__dirname, '../../src/sim/cli.js');

function run(args: string[], env: Record<string, string> = {}): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer): void => {
      seen += d.toString();
      const m = pattern.exec(seen);
      if (m) {
        child.stdout!.off('data', onData);
        resolve(m[0]);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', () => reject(new Error(`exited before printing ${pattern}: ${seen}`)));
  });
}

describe('tts-sim CLI', function () {
  it('prints help and exits 0', async function () {
    const { output, exited } = run(['--help']);
    assert.equal(await exited, 0);
    assert.match(output(), /--webhook-url URL/);
  });

  it('refuses bad options with exit code 2', async function () {
    for (const args of [['--devices', 'many'], ['--outcome', 'maybe'], ['--no-such-option'], ['--webhook-url', 'ftp://x'], ['--host', '0.0.0.0', '--port', '0'], ['--device-prefix', 'Not_A_TTS_Id', '--port', '0']]) {
      const { output, exited } = run(args);
      assert.equal(await exited, 2, `${args.join(' ')}: ${output()}`);
      assert.match(output(), /^tts-sim: /);
    }
  });

  it('posts join accepts with the token, serves the API, and exits cleanly on SIGINT', async function () {
    const receiver = new WebhookReceiver();
    const url = await receiver.start();
    const { child, output, exited } = run(['--webhook-url', `${url}/tts`, '--token', 'cli-token', '--devices', '2', '--interval', '0', '--port', '0', '--join', '--app', 'cli-app', '--device-prefix', 'cli-dev']);
    try {
      const listening = await waitForOutput(child, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
      const join = await receiver.next((r) => r.body.join_accept !== undefined);
      assert.equal(join.headers.authorization, 'Bearer cli-token');
      assert.equal(join.body.end_device_ids.application_ids.application_id, 'cli-app');
      assert.match(join.body.end_device_ids.device_id, /^cli-dev-0[12]$/);
      const apiUrl = listening.replace('listening on ', '');
      const formats = await fetch(`${apiUrl}/api/v3/as/webhook-formats`);
      assert.equal(formats.status, 200);
      child.kill('SIGINT');
      assert.equal(await exited, 0);
      assert.match(output(), /SIGINT: stopping the simulator/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await receiver.stop();
    }
  });

  it('takes the token and API key from TTS_SIM_TOKEN and TTS_SIM_API_KEY, off the command line', async function () {
    const receiver = new WebhookReceiver();
    const url = await receiver.start();
    const { child, exited } = run(['--webhook-url', `${url}/tts`, '--devices', '1', '--interval', '0', '--port', '0', '--join'], { TTS_SIM_TOKEN: 'env-token', TTS_SIM_API_KEY: 'NNSXS.ENVKEY.SECRET' });
    try {
      const listening = await waitForOutput(child, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
      const join = await receiver.next((r) => r.body.join_accept !== undefined);
      assert.equal(join.headers.authorization, 'Bearer env-token');
      const apiUrl = listening.replace('listening on ', '');
      const hooks = (key: string): Promise<Response> => fetch(`${apiUrl}/api/v3/as/webhooks/sim-app`, { headers: { Authorization: `Bearer ${key}` } });
      assert.equal((await hooks('NNSXS.ENVKEY.SECRET')).status, 200);
      assert.equal((await hooks('NNSXS.OTHER.KEY')).status, 401);
      child.kill('SIGINT');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await receiver.stop();
    }
  });

  it('posts every message to each --webhook-url, as several webhooks of one application', async function () {
    const receiver = new WebhookReceiver();
    const url = await receiver.start();
    const { child, exited } = run(['--webhook-url', `${url}/first`, '--webhook-url', `${url}/second`, '--token', 't', '--devices', '1', '--interval', '0', '--port', '0', '--join']);
    try {
      const first = await receiver.next((r) => r.url === '/first' && r.body.join_accept !== undefined);
      const second = await receiver.next((r) => r.url === '/second' && r.body.join_accept !== undefined);
      assert.equal(first.body.end_device_ids.device_id, second.body.end_device_ids.device_id);
      assert.match(String(first.headers['x-downlink-push']), /\/webhooks\/node-red\/devices\//);
      assert.match(String(second.headers['x-downlink-push']), /\/webhooks\/node-red-2\/devices\//);
      child.kill('SIGINT');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await receiver.stop();
    }
  });
});
