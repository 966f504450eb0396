// Issue 8: a 2xx from tts-webhook-in means the uplink will be stored, whatever happens next.
// Each test runs the full pipeline (webhook-in → uplink-decode → provision → bucket write) in a
// real Node-RED 4.1 process with the package installed from its `npm pack` tarball, posts a
// burst of unique uplinks at concurrency 20, interrupts it (kill -9, SIGTERM, a full redeploy,
// PostgreSQL going away), and then counts the rows per (device, f_cnt) in the store: every
// acknowledged uplink exactly once.
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UplinkFleet, runLoad, type LoadResult } from '../helpers/load';
import { NodeRedProcess, REPO_ROOT, packThisBuild } from '../helpers/node-red-process';
import { describeCheck, pipelineFlow, postgresStoredCounts, sqliteStoredCounts, waitForStored, type PipelineStore } from '../helpers/pipeline';
import { startThrowawayServer, type ThrowawayServer } from '../helpers/postgres';

const TOKEN = 'durability-test-token-0123456789abcdef';
const APPLICATION = 'durability-app';
/** Uplinks per burst, and the acknowledged count at which the burst is interrupted. */
const BURST = 2_500;
const INTERRUPT_AT = 600;
/** After a restart or outage: how long the stored rows may take to catch up (bounds a failure only). */
const DRAIN_MS = 30_000;

function summary(load: LoadResult): string {
  const reasons = new Map<string, number>();
  for (const r of load.refused) reasons.set(String(r.reason), (reasons.get(String(r.reason)) ?? 0) + 1);
  return `${load.started} posted, ${load.acked.length} acknowledged, refused: ${[...reasons].map(([k, n]) => `${k} ×${n}`).join(', ') || 'none'}`;
}

describe('acknowledged means stored: the pipeline in a real Node-RED process (issue 8)', function () {
  this.timeout(180_000);
  let packDir: string;
  let tarball: string;
  let red: NodeRedProcess | undefined;

  before(function () {
    this.timeout(120_000);
    mkdirSync(join(REPO_ROOT, '.tmp'), { recursive: true });
    packDir = mkdtempSync(join(REPO_ROOT, '.tmp', 'pack-'));
    tarball = packThisBuild(packDir);
  });
  after(() => rmSync(packDir, { recursive: true, force: true }));
  afterEach(async () => {
    await red?.stop();
    red = undefined;
  });

  async function startPipeline(store: PipelineStore): Promise<NodeRedProcess> {
    const { flows, credentials } = pipelineFlow({ token: TOKEN, applicationId: APPLICATION, store });
    const started = new NodeRedProcess({ tarball, flows, credentials });
    red = started;
    await started.start();
    return started;
  }

  /**
   * Posts a burst at concurrency 20; once INTERRUPT_AT are acknowledged, `interrupt` runs (once).
   * No new request starts after `interrupt` resolved when `stopAfter` is set (the process is gone).
   */
  async function burst(fleet: UplinkFleet, url: string, interrupt: () => Promise<void>, stopAfter: boolean): Promise<LoadResult> {
    let interrupting: Promise<void> | undefined;
    let interrupted = false;
    const load = await runLoad({
      urls: [url],
      token: TOKEN,
      uplinks: fleet.take(BURST),
      concurrency: 20,
      timeLimitMs: 60_000,
      requestTimeoutMs: 10_000,
      onAck: (acked) => {
        if (acked >= INTERRUPT_AT && !interrupting) {
          interrupting = interrupt().then(() => {
            interrupted = true;
          });
        }
      },
      stopWhen: () => stopAfter && interrupted,
    });
    assert.ok(interrupting, `the burst ended before ${INTERRUPT_AT} were acknowledged: ${summary(load)}`);
    await interrupting;
    return load;
  }

  async function assertAllStoredOnce(read: () => ReturnType<typeof sqliteStoredCounts> | Promise<ReturnType<typeof sqliteStoredCounts>>, load: LoadResult): Promise<void> {
    const check = await waitForStored(read, load.acked, DRAIN_MS);
    const logged = red?.problems().slice(-8) ?? [];
    assert.ok(
      check.missing.length === 0 && check.duplicated.length === 0,
      `${describeCheck(check, load.acked.length)}; ${summary(load)}${logged.length ? `\nNode-RED logged:\n${logged.join('\n')}` : ''}`,
    );
  }

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it(`${signal === 'SIGKILL' ? 'kill -9' : 'SIGTERM (a normal stop)'} mid-burst, then a restart: every acknowledged uplink stored exactly once`, async () => {
      const node = await startPipeline({ backend: 'sqlite' });
      const fleet = new UplinkFleet({ devices: 200, applicationId: APPLICATION, prefix: `dev-${signal.toLowerCase()}` });
      let ended: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      const load = await burst(fleet, node.nodeUrl('/tts'), async () => {
        ended = await node.kill(signal);
      }, true);
      assert.ok(ended);
      if (signal === 'SIGTERM') assert.notEqual(ended.signal, 'SIGKILL', 'Node-RED did not stop within 30 s of SIGTERM');
      assert.ok(load.started > load.acked.length || load.unsent > 0, `the process was stopped after the burst, not during it: ${summary(load)}`);
      await node.start();
      await assertAllStoredOnce(() => sqliteStoredCounts(join(node.userDir, 'tts-data.db')), load);
    });
  }

  it('a full redeploy under load: every acknowledged uplink stored exactly once', async () => {
    const node = await startPipeline({ backend: 'sqlite' });
    const fleet = new UplinkFleet({ devices: 200, applicationId: APPLICATION, prefix: 'dev-redeploy' });
    const flows = (await (await fetch(node.adminUrl('/flows'))).json()) as unknown[];
    let deployed = false;
    const load = await burst(fleet, node.nodeUrl('/tts'), async () => {
      // The same flows again, as a full deploy: every node is stopped and started (credentials kept).
      await node.deploy(flows);
      deployed = true;
    }, false);
    assert.ok(deployed);
    assert.ok(node.running, 'Node-RED exited');
    await assertAllStoredOnce(() => sqliteStoredCounts(join(node.userDir, 'tts-data.db')), load);
  });

  describe('with a PostgreSQL store', () => {
    let pg: ThrowawayServer;
    before(async function () {
      this.timeout(90_000);
      pg = await startThrowawayServer();
    });
    after(async () => {
      await pg?.stop();
    });

    it('PostgreSQL stopped and started under load: 0 acknowledged lost, Node-RED alive throughout', async () => {
      const node = await startPipeline({ backend: 'postgres', connection: pg.adminUrl });
      const fleet = new UplinkFleet({ devices: 200, applicationId: APPLICATION, prefix: 'dev-pg' });
      type Phase = 'up' | 'stopping' | 'down' | 'starting' | 'back';
      let phase = 'up' as Phase;
      let outage: Promise<void> = Promise.resolve();
      let ackedWhenDown = 0;
      // 100 uplinks/s: the store goes away once 200 are acknowledged and comes back 300 later
      // (three seconds of uplinks arriving while it is down, if webhook-in keeps accepting).
      const load = await runLoad({
        urls: [node.nodeUrl('/tts')],
        token: TOKEN,
        uplinks: fleet.take(1_200),
        rate: 100,
        timeLimitMs: 40_000,
        onAck: (acked) => {
          if (phase === 'up' && acked >= 200) {
            phase = 'stopping';
            outage = pg.halt().then(() => {
              phase = 'down';
              ackedWhenDown = acked;
            });
          } else if (phase === 'down' && acked >= ackedWhenDown + 300) {
            phase = 'starting';
            outage = pg.resume().then(() => {
              phase = 'back';
            });
          }
        },
      });
      await outage;
      const acceptedWhileDown = phase === 'back';
      // webhook-in stopped acknowledging while the store was down: bring it back anyway.
      if (phase === 'down') await pg.resume();
      assert.ok(node.running, `Node-RED exited during the outage:\n${node.logs.slice(-30).join('\n')}`);
      assert.ok(ackedWhenDown >= 200, `the store was never stopped: ${summary(load)}`);
      await assertAllStoredOnce(() => postgresStoredCounts(pg.adminUrl), load);
      assert.ok(node.running, `Node-RED exited after the outage:\n${node.logs.slice(-30).join('\n')}`);
      // The inbox is local: an outage of the store is no reason to refuse uplinks.
      assert.ok(acceptedWhileDown, `fewer than 300 uplinks acknowledged while PostgreSQL was down: ${summary(load)}`);
    });
  });
});
