/**
 * The client's connection state machine. Every change goes through one transition function that checks
 * the allowed source states, so "connected" always means "handshake done, table checked, subscriptions up".
 */
export type ConnectionState =
  | 'idle' // never connected
  | 'connecting' // first connect in progress
  | 'connected'
  | 'not-responding' // connected, but health pings time out
  | 'reconnecting' // connection lost; backing off and retrying
  | 'failed' // gave up reconnecting (maxAttempts reached)
  | 'closed'; // close() was called

const ALLOWED: Record<ConnectionState, readonly ConnectionState[]> = {
  idle: ['connecting'],
  connecting: ['connected', 'idle', 'closed'],
  connected: ['not-responding', 'reconnecting', 'closed'],
  'not-responding': ['connected', 'reconnecting', 'closed'],
  reconnecting: ['connected', 'failed', 'closed'],
  failed: ['connecting', 'closed'],
  closed: [],
};

export interface StateChange {
  from: ConnectionState;
  to: ConnectionState;
  reason: string;
  at: number;
}

export class ConnectionStateMachine {
  private current: ConnectionState = 'idle';
  private readonly listeners = new Set<(c: StateChange) => void>();

  constructor(private readonly now: () => number = Date.now) {}

  get state(): ConnectionState {
    return this.current;
  }

  /** Moves to `to` if allowed from the current state; returns whether it did. */
  transition(to: ConnectionState, reason: string): boolean {
    const from = this.current;
    if (from === to || !ALLOWED[from].includes(to)) return false;
    this.current = to;
    const change: StateChange = { from, to, reason, at: this.now() };
    for (const l of this.listeners) l(change);
    return true;
  }

  onChange(listener: (c: StateChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
