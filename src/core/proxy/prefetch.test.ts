import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prefetcher } from './prefetch.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('runs at most `concurrency` jobs at once, each key once while remembered, and drops past the queue bound', async () => {
  const ahead = new Prefetcher({ concurrency: 2, thenConcurrency: 1, maxQueued: 5, rememberMs: 60_000, remember: 100 });
  let running = 0;
  let most = 0;
  const ran: string[] = [];
  const job = (k: string) => async () => {
    running++;
    most = Math.max(most, running);
    await sleep(5);
    ran.push(k);
    running--;
  };
  const added = ['a', 'b', 'a', 'c', 'd', 'e', 'f', 'g'].map((k) => ahead.add(k, job(k)));
  // 'a' again is known; the queue holds 5 (nothing has started before the next event-loop turn), so 'f' and 'g' are dropped.
  assert.deepEqual(added, [true, true, false, true, true, true, false, false]);
  await ahead.idle();
  assert.deepEqual(ran.sort(), ['a', 'b', 'c', 'd', 'e']);
  assert.equal(most, 2);
  assert.equal(ahead.pending, 0);
});

test('a failed job is forgotten; stop() drops what waits and waits for what runs', async () => {
  const ahead = new Prefetcher({ concurrency: 1, thenConcurrency: 1, maxQueued: 10, rememberMs: 60_000, remember: 100 });
  const ran: string[] = [];
  ahead.add('bad', async () => {
    throw new Error('upstream down');
  });
  ahead.add('slow', async () => {
    await sleep(20);
    ran.push('slow');
  });
  ahead.add('never', async () => {
    ran.push('never');
  });
  await sleep(5); // 'bad' failed, 'slow' runs, 'never' waits
  await ahead.stop();
  assert.deepEqual(ran, ['slow']);
  assert.equal(ahead.add('later', async () => {}), false, 'nothing is queued once stopped');
});

test('a key is queued again once it is no longer remembered', async () => {
  const ahead = new Prefetcher({ concurrency: 1, thenConcurrency: 1, maxQueued: 10, rememberMs: 60_000, remember: 2 });
  const noop = async () => {};
  assert.equal(ahead.add('a', noop), true);
  assert.equal(ahead.add('b', noop), true);
  assert.equal(ahead.add('c', noop), true); // 'a' is forgotten: 2 keys remembered
  assert.equal(ahead.add('a', noop), true);
  assert.equal(ahead.add('c', noop), false);
  await ahead.idle();
});

test('`first` jobs run before `then` jobs, and at most `thenConcurrency` of those at once', async () => {
  const ahead = new Prefetcher({ concurrency: 3, thenConcurrency: 1, maxQueued: 100, rememberMs: 60_000, remember: 100 });
  const order: string[] = [];
  let then = 0;
  let mostThen = 0;
  const job = (k: string) => async () => {
    const isThen = k.startsWith('t');
    if (isThen) mostThen = Math.max(mostThen, ++then);
    order.push(k);
    await sleep(5);
    if (isThen) then--;
  };
  for (const k of ['t1', 't2', 't3']) ahead.add(k, job(k), 'then');
  for (const k of ['d1', 'd2']) ahead.add(k, job(k));
  await ahead.idle();
  assert.deepEqual(order.slice(0, 2), ['d1', 'd2'], 'documents first');
  assert.deepEqual(order.slice(2), ['t1', 't2', 't3']);
  assert.equal(mostThen, 1);
});
