/**
 * Event listeners and want_* subscriptions: events (messages without a context) go to their listeners; the
 * want_* requests that succeeded are remembered and sent again after every reconnect.
 */
import type { EventsDef, MessageDef } from '../codec/types.js';

export interface Subscription {
  /** Sends the disable request (when connected) and stops re-subscribing after reconnects. */
  close(): Promise<void>;
}

interface ActiveSubscription {
  def: EventsDef<unknown, unknown, unknown>;
  msg: unknown;
}

type Send = (def: EventsDef<unknown, unknown, unknown>, msg: unknown) => Promise<unknown>;

export interface SubscriptionsOptions {
  /** A listener threw; the others still run. */
  onListenerError: (event: string, err: Error) => void;
}

export class Subscriptions {
  private readonly listeners = new Map<MessageDef, Set<(e: unknown) => void>>();
  private readonly active = new Set<ActiveSubscription>();

  constructor(private readonly opts: SubscriptionsOptions) {}

  /** Listens for an event message without subscribing. */
  on<E>(event: MessageDef<unknown, E>, l: (e: E) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const fn = l as (e: unknown) => void;
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Whether anyone listens for `def` (an event nobody listens for is not decoded). */
  wants(def: MessageDef): boolean {
    return (this.listeners.get(def)?.size ?? 0) > 0;
  }

  /** Delivers one decoded event to its listeners. */
  dispatch(def: MessageDef, event: unknown): void {
    const set = this.listeners.get(def);
    if (!set) return;
    for (const l of set) {
      try {
        l(event);
      } catch (err) {
        this.opts.onListenerError(def.name, err as Error);
      }
    }
  }

  /**
   * Sends the want_* request through `send`, and on success keeps it for re-subscription.
   * `canDisable` says whether close() may send the disable request now (connected).
   */
  async subscribe<In, R, E>(
    def: EventsDef<In, unknown, R>,
    msg: In,
    event: MessageDef<unknown, E>,
    listener: (e: E) => void,
    send: Send,
    canDisable: () => boolean,
  ): Promise<Subscription> {
    if (!def.events.includes(event as MessageDef)) throw new Error(`${event.name} is not an event of ${def.name}`);
    const off = this.on(event, listener);
    const entry: ActiveSubscription = { def: def as EventsDef<unknown, unknown, unknown>, msg };
    try {
      await send(entry.def, msg);
    } catch (e) {
      off();
      throw e;
    }
    this.active.add(entry);
    return {
      close: async () => {
        off();
        if (!this.active.delete(entry)) return;
        if (canDisable()) await send(entry.def, { ...(msg as object), enable_disable: 0 });
      },
    };
  }

  /** Sends every active subscription again (after a reconnect); failures are reported, not thrown. */
  async resubscribe(send: Send, onFailure: (name: string, err: Error) => void): Promise<void> {
    for (const s of this.active) {
      try {
        await send(s.def, s.msg);
      } catch (e) {
        onFailure(s.def.name, e as Error);
      }
    }
  }
}
