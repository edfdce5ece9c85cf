import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type pg from 'pg';
import { Changes, listenForChanges } from './changes.ts';

/** A stand-in for pg.Client whose connect() finishes only when told to. */
class SlowClient extends EventEmitter {
  ended = false;
  listening = false;
  private finish!: () => void;
  readonly connected = new Promise<void>((r) => (this.finish = r));
  connect() {
    return this.connected;
  }
  async query(sql: string) {
    if (sql.startsWith('LISTEN')) this.listening = true;
  }
  async end() {
    this.ended = true;
  }
  let() {
    this.finish();
  }
}

test('stopping while the LISTEN connection is still connecting ends it (a CLI process must be able to exit)', async () => {
  const clients: SlowClient[] = [];
  const pool = { query: async () => ({}) } as unknown as pg.Pool;
  const stop = listenForChanges(new Changes(), pool, () => {
    const c = new SlowClient();
    clients.push(c);
    return c as unknown as pg.Client;
  });
  assert.equal(clients.length, 1);
  const stopped = stop();
  clients[0].let(); // the connection comes up only after stop() was called
  await stopped;
  await new Promise((r) => setImmediate(r));
  assert.equal(clients[0].ended, true, 'the late connection was ended');
});

test('a NOTIFY naming tables moves only the generations scoped to them; an empty one moves all', async () => {
  const changes = new Changes();
  let client!: SlowClient;
  const stop = listenForChanges(changes, { query: async () => ({}) } as unknown as pg.Pool, () => (client = new SlowClient()) as unknown as pg.Client);
  client.let();
  await new Promise((r) => setImmediate(r));
  assert.equal(client.listening, true);
  const tokens = changes.scoped(['tokens']);
  const before = tokens.current();
  client.emit('notification', { channel: 'wharf_changes', payload: 'packages,package_versions' });
  assert.equal(tokens.current(), before);
  client.emit('notification', { channel: 'wharf_changes', payload: 'tokens' });
  const after = tokens.current();
  assert.notEqual(after, before);
  client.emit('notification', { channel: 'wharf_changes', payload: '' });
  assert.notEqual(tokens.current(), after);
  await stop();
  assert.equal(client.ended, true);
});
