// Domain events, emitted only after their transaction committed. Webhooks and audit subscribe here (P7).
export type PackageEvent =
  | { type: 'version.published'; packageId: number; versionId: number; actor: string | null }
  | { type: 'version.deleted' | 'version.restored' | 'version.updated'; packageId: number; versionId: number; actor: string | null }
  | { type: 'tag.set' | 'tag.removed'; packageId: number; tag: string; actor: string | null }
  | { type: 'package.deleted' | 'package.restored' | 'package.updated'; packageId: number; actor: string | null };

type Listener = (e: PackageEvent) => void | Promise<void>;

export class Events {
  private readonly listeners: Listener[] = [];
  /** Subscribes; listener errors are reported to `onError`, never to the publisher. */
  on(listener: Listener): void {
    this.listeners.push(listener);
  }
  constructor(private readonly onError: (err: unknown) => void = () => {}) {}
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
