/**
 * Failure (or crash) injection at every step of an ADD, without running the same case twice: a failure at
 * step i leaves the transaction in the state its steps 0..i-1 made, so two pods whose ADDs run the same
 * steps up to i (same step names, the pod's own addresses and names aside, same interface mode) test the
 * same thing there. The suites inject at the steps whose prefix no earlier pod of the run reached: every
 * step of every kind is still injected once, in the first pod that reaches it by that path.
 */
export class StepPrefixes {
  private readonly seen = new Set<string>();

  /**
   * True (and recorded) the first time the prefix `steps[0..i]` is seen in `scope` (the interface mode, or
   * anything else that changes what the steps do); `own` are the pod's own strings (addresses, container id,
   * names) that step names carry, replaced by placeholders before comparing.
   */
  firstTime(scope: string, steps: readonly string[], i: number, own: readonly string[]): boolean {
    const norm = (s: string): string => own.reduce((acc, o, k) => (o ? acc.split(o).join(`<${k}>`) : acc), s);
    const key = JSON.stringify([scope, ...steps.slice(0, i + 1).map(norm)]);
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }
}
