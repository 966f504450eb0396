import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { ChurnMap, ChurnSet, RENEW_AFTER } from '../../src/util/churn-map';

/** Numbers from a fixed seed, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

describe('ChurnMap and ChurnSet', () => {
  it('hold what a Map and a Set hold, in insertion order, across fresh tables', () => {
    const next = random(7);
    const map = new ChurnMap<number, string>();
    const set = new ChurnSet<number>();
    const mapRef = new Map<number, string>();
    const setRef = new Set<number>();
    for (let i = 0; i < RENEW_AFTER * 5; i++) {
      const key = Math.floor(next() * 200);
      if (next() < 0.55) {
        map.set(key, `v${i}`);
        mapRef.set(key, `v${i}`);
        set.add(key);
        setRef.add(key);
      } else {
        assert.equal(map.delete(key), mapRef.delete(key));
        assert.equal(set.delete(key), setRef.delete(key));
      }
      assert.equal(map.size, mapRef.size);
      assert.equal(map.get(key), mapRef.get(key));
      assert.equal(map.has(key), mapRef.has(key));
      assert.equal(set.has(key), setRef.has(key));
    }
    assert.deepEqual([...map], [...mapRef]);
    assert.deepEqual([...map.keys()], [...mapRef.keys()]);
    assert.deepEqual([...map.values()], [...mapRef.values()]);
    assert.deepEqual([...set], [...setRef]);
    assert.deepEqual([...set.values()], [...setRef.values()]);
    map.clear();
    set.clear();
    assert.equal(map.size, 0);
    assert.equal(set.size, 0);
    assert.equal(map.get(1), undefined);
  });

  it('hold what a Map and a Set hold with more live entries than RENEW_AFTER (an inbox during an outage)', () => {
    const map = new ChurnMap<number, number>();
    const ref = new Map<number, number>();
    for (let i = 0; i < RENEW_AFTER * 3; i++) {
      map.set(i, i);
      ref.set(i, i);
    }
    for (let i = 0; i < RENEW_AFTER * 3; i += 2) assert.equal(map.delete(i), ref.delete(i));
    for (let i = 0; i < RENEW_AFTER * 2; i++) {
      map.set(-i, i);
      ref.set(-i, i);
    }
    assert.equal(map.size, ref.size);
    assert.deepEqual([...map], [...ref]);

    const set = new ChurnSet<number>();
    const refSet = new Set<number>();
    for (let i = 0; i < RENEW_AFTER * 3; i++) {
      set.add(i);
      refSet.add(i);
    }
    for (let i = 0; i < RENEW_AFTER * 3; i += 2) assert.equal(set.delete(i), refSet.delete(i));
    for (let i = 0; i < RENEW_AFTER * 2; i++) {
      set.add(-i);
      refSet.add(-i);
    }
    assert.equal(set.size, refSet.size);
    assert.deepEqual([...set], [...refSet]);
  });

  it('an entry deleted from a map whose table reached the old generation is not promoted', () => {
    // In a process of its own with --expose-gc: 50 entries in flight, each referencing a few KB,
    // after the map's table was promoted (two full collections, as a quiet spell would). With a
    // Map, every value goes through the old generation; with a ChurnMap almost none.
    const script = `
      const { ChurnMap } = require(${JSON.stringify(require.resolve('../../src/util/churn-map'))});
      const { GCProfiler } = require('node:v8');
      const map = process.argv[1] === 'churn' ? new ChurnMap() : new Map();
      for (let i = 0; i < 60; i++) map.set(i, {});
      for (let i = 0; i < 30; i++) map.delete(i);
      gc(); gc();
      const live = [];
      const profiler = new GCProfiler();
      profiler.start();
      for (let n = 0; n < 50000; n++) {
        const data = [];
        for (let i = 0; i < 40; i++) data.push({ i, t: [i, i + 1] });
        map.set(n + 100, { data });
        live.push(n + 100);
        if (live.length > 50) map.delete(live.shift());
      }
      const old = (s) => s.heapSpaceStatistics.filter((x) => x.spaceName === 'old_space' || x.spaceName === 'large_object_space').reduce((a, x) => a + x.spaceUsedSize, 0);
      let promoted = 0;
      for (const s of profiler.stop().statistics) if (s.gcType === 'Scavenge') promoted += Math.max(0, old(s.afterGC) - old(s.beforeGC));
      console.log(promoted);`;
    const promoted = (kind: string): number => Number(execFileSync(process.execPath, ['--expose-gc', '-e', script, kind], { encoding: 'utf8' }).trim());
    const withMap = promoted('map');
    const withChurnMap = promoted('churn');
    assert.ok(withMap > 20 * 1024 * 1024, `a Map with an old table promoted ${withMap} bytes: the test no longer shows what ChurnMap avoids`);
    assert.ok(withChurnMap * 10 < withMap, `ChurnMap promoted ${withChurnMap} bytes, a Map ${withMap}`);
  });
});
