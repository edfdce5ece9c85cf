// Domain events. A change records its event inside its own transaction (`record`), so whatever must not be lost
// (webhook deliveries) is written atomically with the change: a rolled-back change leaves nothing behind, and a
// committed one has its deliveries even if the process dies right after the commit. After the commit the event is
// also announced in-process (`emit`), for work that may be lost or redone (waking the webhook sender).
import type { Db } from '../../db/database.ts';

export type PackageEvent =
  | { type: 'version.published'; packageId: number; versionId: number; actor: string | null }
  | { type: 'version.deleted' | 'version.restored' | 'version.updated'; packageId: number; versionId: number; actor: string | null }
  | { type: 'version.promoted'; packageId: number; versionId: number; actor: string | null; promotion: { target: string; url: string | null } }
  | { type: 'tag.set' | 'tag.removed'; packageId: number; tag: string; actor: string | null }
  | { type: 'package.deleted' | 'package.restored' | 'package.updated'; packageId: number; actor: string | null };

type Listener = (e: PackageEvent) => void | Promise<void>;
/** Runs inside the change's transaction, with its handle: use only `trx`, never another connection. */
type TxListener = (trx: Db, e: PackageEvent) => Promise<void>;

export class Events {
  private readonly listeners: Listener[] = [];
  private readonly txListeners: TxListener[] = [];
  constructor(private readonly onError: (err: unknown) => void = () => {}) {}

  /** Subscribes after commit; listener errors are reported to `onError`, never to the publisher. */
  on(listener: Listener): void {
    this.listeners.push(listener);
  }

  /** Subscribes inside the transaction: a listener that throws rolls the change back (it is part of it). */
  inTransaction(listener: TxListener): void {
    this.txListeners.push(listener);
  }

  /** Records an event as part of the transaction `trx` (called by the Publisher before it commits). */
  async record(trx: Db, e: PackageEvent): Promise<void> {
    for (const l of this.txListeners) await l(trx, e);
  }

  /** Announces a committed event in-process. */
  emit(e: PackageEvent): void {
    for (const l of this.listeners) {
      try {
        Promise.resolve(l(e)).catch(this.onError);
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
