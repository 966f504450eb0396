import { strict as assert } from 'node:assert';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DurableLog } from '../../src/inbox/durable-log';

describe('durable inbox log', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tts-log-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const segments = (): string[] => readdirSync(dir).filter((f) => f.endsWith('.log'));

  it('gives back, after a reopen, exactly the messages that were appended and not finished, oldest first', async () => {
    const { log } = await DurableLog.open(dir);
    const seqs = await Promise.all(['{"a":1}', '{"b":"ü\\n"}', '{"c":3}'].map((body) => log.append(body, { node: 'n1' }, 1000)));
    log.finish([seqs[1]]);
    await log.close();
    const { log: again, unfinished } = await DurableLog.open(dir);
    assert.deepEqual(unfinished.map((e) => [e.seq, e.body, e.node, e.acceptedAt]), [
      [seqs[0], '{"a":1}', 'n1', 1000],
      [seqs[2], '{"c":3}', 'n1', 1000],
    ]);
    assert.equal(again.unfinished, 2);
    assert.equal(await again.body(seqs[2]), '{"c":3}');
    await again.close();
  });

  it('keeps a message whose finish record was never written (a crash before the next group)', async () => {
    const { log } = await DurableLog.open(dir, { finishDelayMs: 60_000 });
    const seq = await log.append('{"x":1}', { node: 'n' });
    log.finish([seq]);
    // No close: the process "dies" with the finish record still in memory.
    const { log: again, unfinished } = await DurableLog.open(dir);
    assert.deepEqual(unfinished.map((e) => e.seq), [seq]);
    await again.close();
    await log.close();
  });

  it('ignores a record torn by a crash mid-write and keeps every complete one before it', async () => {
    const { log } = await DurableLog.open(dir);
    const seq = await log.append('{"ok":true}', { node: 'n' });
    await log.close();
    const [file] = segments();
    // A torn record sits where the next group would have gone: in the zeros after the last one.
    const path = join(dir, file);
    const end = readFileSync(path).indexOf(0);
    assert.ok(end > 0, 'the segment has zeros after its records');
    const fd = openSync(path, 'r+');
    writeSync(fd, 'A 99 1 12 400\n{"node":"n"}{"half', end);
    closeSync(fd);
    const { log: again, unfinished } = await DurableLog.open(dir);
    assert.deepEqual(unfinished.map((e) => [e.seq, e.body]), [[seq, '{"ok":true}']]);
    // New messages never reuse a number.
    assert.ok((await again.append('{}', { node: 'n' })) > seq);
    await again.close();
  });

  it('writes groups into zeros prepared ahead, so that most syncs do not change the file\'s length', async () => {
    const { log } = await DurableLog.open(dir, { gatherMs: 0 });
    await log.append('{"first":1}', { node: 'n' });
    const path = join(dir, segments()[0]);
    const prepared = statSync(path).size;
    assert.ok(prepared >= 64 * 1024, `zeros written ahead (${prepared} bytes)`);
    const seqs: number[] = [];
    for (let i = 0; i < 20; i++) seqs.push(await log.append(`{"i":${i}}`, { node: 'n' }));
    assert.equal(statSync(path).size, prepared, 'the file kept its length');
    // More than the prepared zeros: the file grows by whole steps and every record reads back.
    const big = 'x'.repeat(prepared);
    const last = await log.append(`{"big":"${big}"}`, { node: 'n' });
    assert.ok(statSync(path).size > prepared);
    await log.close();
    const { log: again, unfinished } = await DurableLog.open(dir);
    assert.deepEqual(unfinished.map((e) => e.seq), [seqs[0] - 1, ...seqs, last]);
    assert.equal(unfinished.at(-1)?.body, `{"big":"${big}"}`);
    await again.close();
  });

  it('shares one sync among concurrent appends and resolves each only once it is written', async () => {
    const { log } = await DurableLog.open(dir);
    const appended = await Promise.all(Array.from({ length: 500 }, (_, i) => log.append(`{"i":${i}}`, { node: 'n' })));
    assert.equal(new Set(appended).size, 500);
    const size = statSync(join(dir, segments()[0])).size;
    assert.ok(size > 500 * 8, `segment holds every record (${size} bytes)`);
    await log.close();
  });

  it('keeps every unfinished message across segment rotations, also when finish records alone fill a segment', async () => {
    // Small segments: groups of finish records alone open new files too.
    const { log } = await DurableLog.open(dir, { segmentBytes: 300, gatherMs: 0, finishDelayMs: 1 });
    const kept: Array<[number, string]> = [];
    for (let round = 0; round < 6; round++) {
      const bodies = Array.from({ length: 8 }, (_, i) => `{"r":${round},"i":${i},"pad":"${'y'.repeat(30)}"}`);
      const seqs = await Promise.all(bodies.map((body) => log.append(body, { node: 'n' })));
      // Every other one finishes: the others hold their segments.
      log.finish(seqs.filter((_, i) => i % 2 === 0));
      seqs.forEach((seq, i) => i % 2 === 1 && kept.push([seq, bodies[i]]));
      for (const [seq, body] of kept) assert.equal(await log.body(seq), body);
    }
    await log.drain();
    await log.close();
    const { log: again, unfinished } = await DurableLog.open(dir);
    assert.deepEqual(unfinished.map((e) => [e.seq, e.body]), kept);
    await again.close();
  });

  it('lets an append that finds the disk idle wait for others, and writes at once when the group is large', async () => {
    // A gather far longer than the test: only the group's size can start the write.
    const { log } = await DurableLog.open(dir, { gatherMs: 60_000 });
    const before = log.groupsWritten;
    let synced = 0;
    const appends: Array<Promise<number>> = [];
    for (let i = 0; i < 31; i++) {
      appends.push(log.append(`{"i":${i}}`, { node: 'n' }).then((seq) => ((synced += 1), seq)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(synced, 0, 'nothing written while the group gathers');
    appends.push(log.append('{"i":31}', { node: 'n' }));
    assert.equal(new Set(await Promise.all(appends)).size, 32);
    assert.equal(log.groupsWritten - before, 1, 'one write for the 32');
    await log.close();
  });

  it('by default lets the appends of one event-loop turn share a write', async () => {
    const { log } = await DurableLog.open(dir);
    const before = log.groupsWritten;
    await Promise.all(Array.from({ length: 5 }, (_, i) => log.append(`{"i":${i}}`, { node: 'n' })));
    assert.equal(log.groupsWritten - before, 1);
    await log.close();
  });

  it('writes each append at once with gatherMs 0', async () => {
    const { log } = await DurableLog.open(dir, { gatherMs: 0 });
    const before = log.groupsWritten;
    for (let i = 0; i < 3; i++) await log.append(`{"i":${i}}`, { node: 'n' });
    assert.equal(log.groupsWritten - before, 3);
    await log.close();
  });

  it('removes finished segments, oldest first, and copies a message that never finishes into a fresh segment on open', async () => {
    const { log } = await DurableLog.open(dir, { segmentBytes: 200, finishDelayMs: 1 });
    const stuck = await log.append('{"stuck":true}', { node: 'n' });
    const others: number[] = [];
    for (let i = 0; i < 20; i++) others.push(await log.append(`{"n":${i},"pad":"${'x'.repeat(40)}"}`, { node: 'n' }));
    assert.ok(segments().length > 5, 'small segments rotate');
    log.finish(others);
    await log.drain();
    // The stuck message's segment holds the rest on disk until the next open.
    assert.ok(segments().length > 1);
    await log.close();
    const { log: again, unfinished } = await DurableLog.open(dir);
    assert.deepEqual(unfinished.map((e) => e.seq), [stuck]);
    assert.equal(segments().length, 1);
    assert.equal(await again.body(stuck), '{"stuck":true}');
    again.finish([stuck]);
    await again.close();
    const { log: last, unfinished: none } = await DurableLog.open(dir);
    assert.deepEqual(none, []);
    assert.deepEqual(segments(), []);
    await last.close();
  });

  it('remembers an effect (a downlink sent) across a reopen', async () => {
    const { log } = await DurableLog.open(dir);
    const seq = await log.append('{}', { node: 'n' });
    await log.recordEffect(seq, 'downlink:node-1');
    await log.close();
    const { log: again, unfinished } = await DurableLog.open(dir);
    assert.deepEqual([...(unfinished[0].effects ?? [])], ['downlink:node-1']);
    assert.equal(again.entry(seq)?.effects?.has('downlink:node-1'), true);
    await again.close();
  });

  it('refuses every append once a write failed, saying why', async () => {
    // One-byte segments: every group needs a new file, which the removed directory refuses.
    const { log } = await DurableLog.open(dir, { segmentBytes: 1 });
    await log.append('{}', { node: 'n' });
    rmSync(dir, { recursive: true, force: true });
    await assert.rejects(log.append('{"x":1}', { node: 'n' }), /ENOENT/);
    await assert.rejects(log.append('{"y":1}', { node: 'n' }), /ENOENT/);
    assert.match(String(log.error?.message), /ENOENT/);
    assert.equal(log.unfinished, 1, 'the refused ones are not counted');
    await log.close();
  });
});
