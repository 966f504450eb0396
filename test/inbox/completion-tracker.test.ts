import { strict as assert } from 'node:assert';
import { CompletionTracker } from '../../src/inbox/completion-tracker';

describe('completion tracker', () => {
  const node = (id: string) => ({ id });

  function tracker() {
    const finished: Array<[string, number, boolean]> = [];
    return { t: new CompletionTracker<number>((id, v, held) => finished.push([id, v, held])), finished };
  }

  it('finishes a message with no wires as soon as its origin has sent it', () => {
    const { t, finished } = tracker();
    t.track('m', 1);
    assert.deepEqual(finished, []);
    t.sent('m');
    assert.deepEqual(finished, [['m', 1, false]]);
  });

  it('waits for every node on every branch, including deliveries still on their way', () => {
    const { t, finished } = tracker();
    const a = node('a');
    const b = node('b');
    const c = node('c');
    t.track('m', 7);
    t.delivered('m', a);
    t.delivered('m', b);
    t.sent('m');
    t.received('m', a);
    t.delivered('m', c); // a sends on before it is done
    t.completed('m', a);
    t.received('m', b);
    t.completed('m', b);
    assert.deepEqual(finished, [], 'c has not received it yet');
    t.received('m', c);
    t.completed('m', c);
    assert.deepEqual(finished, [['m', 7, false]]);
  });

  it('counts a Catch node that receives without a delivery, and nodes that never call done', () => {
    const { t, finished } = tracker();
    const failing = node('f');
    const catcher = node('catch');
    const legacy = node('legacy');
    t.track('m', 1);
    t.delivered('m', failing);
    t.sent('m');
    t.received('m', failing);
    // done(err): Node-RED hands the message to the Catch node before onComplete.
    t.received('m', catcher);
    t.completed('m', failing);
    t.delivered('m', legacy);
    t.completed('m', catcher);
    t.received('m', legacy);
    assert.deepEqual(finished, []);
    t.returned('m', legacy, false);
    assert.deepEqual(finished, [['m', 1, false]]);
  });

  it('reports a held message as held, and nothing for messages it does not track', () => {
    const { t, finished } = tracker();
    const n = node('n');
    assert.equal(t.hold('other'), false);
    t.completed('other', n);
    t.track('m', 2);
    t.delivered('m', n);
    t.sent('m');
    t.received('m', n);
    assert.equal(t.hold('m'), true);
    t.completed('m', n);
    assert.deepEqual(finished, [['m', 2, true]]);
  });

  it('finds the messages a replaced node was holding', () => {
    const { t } = tracker();
    const old = node('x');
    const kept = node('y');
    t.track('m1', 1);
    t.delivered('m1', old);
    t.sent('m1');
    t.track('m2', 2);
    t.delivered('m2', kept);
    t.sent('m2');
    assert.deepEqual(t.orphans((n) => n !== old), ['m1']);
  });
});
