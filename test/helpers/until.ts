/**
 * Waits until `fn` holds, polling every `everyMs`; throws naming `what` after `ms`. For what settles
 * asynchronously outside the test's hands (watch events, the kernel's deferred netns cleanup).
 */
export async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 10_000, everyMs = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
