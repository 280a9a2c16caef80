/**
 * What the crash tests share: a step hook that makes an in-process agent "die" at a step (it hangs there
 * forever, as a killed process would stop), and the checkpoint file read back as JSON.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKPOINT_FILE } from '../../agent/state/checkpoint.js';

/** Step hook that hangs forever at the named step, or at call number n (the agent "dies" there); records the steps. */
export class Crasher {
  private at: string | number | undefined;
  private calls = 0;
  steps: string[] = [];
  private reached: ((step: string) => void) | undefined;
  readonly hook = (step: string): void | Promise<void> => {
    const i = this.calls++;
    this.steps.push(step);
    if (step === this.at || i === this.at) {
      this.at = undefined;
      this.reached?.(step);
      return new Promise<void>(() => undefined);
    }
  };
  arm(at: string | number): Promise<string> {
    this.at = at;
    this.calls = 0;
    this.steps = [];
    return new Promise((r) => (this.reached = r));
  }
  disarm(): void {
    this.at = undefined;
    this.calls = 0;
    this.steps = [];
  }
}

/** The agent's checkpoint file as written (state dir of the harness). */
export function readCheckpoint(stateDir: string): { attachments: unknown[]; intents: { op: string }[] } {
  return JSON.parse(readFileSync(join(stateDir, CHECKPOINT_FILE), 'utf8')) as { attachments: unknown[]; intents: { op: string }[] };
}
