/**
 * The node dataplane's metrics: the sync observer (latency histogram, failure counter) and the gauges read
 * from the bound counts at scrape time — 0 while the node dataplane is off.
 */
import { Registry } from 'prom-client';
import { AgentMetrics, METRICS } from '../../agent/observability/metrics.js';

async function scrape(m: AgentMetrics): Promise<string> {
  return m.registry.metrics();
}

/** The sample lines of one metric (`name{...} value` or `name value`). */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
}

describe('node dataplane metrics', () => {
  test('names and types follow METRICS', async () => {
    const m = new AgentMetrics(new Registry());
    const json = await m.registry.getMetricsAsJSON();
    const typeOf = (name: string): string | undefined => json.find((x) => x.name === name)?.type as string | undefined;
    expect(typeOf(METRICS.nodeSyncLatency.name)).toBe('histogram');
    expect(typeOf(METRICS.nodeSyncFailures.name)).toBe('counter');
    expect(typeOf(METRICS.nodesRouted.name)).toBe('gauge');
    expect(typeOf(METRICS.serviceTranslations.name)).toBe('gauge');
    expect(METRICS.nodeSyncLatency.name).toMatch(/^vppcni_.*_seconds$/);
    expect(METRICS.nodeSyncFailures.name).toMatch(/^vppcni_.*_total$/);
  });

  test('nodeObserver: syncDone with a latency is observed in its bucket; an unknown or invalid one is not; syncFailed counts', async () => {
    const m = new AgentMetrics(new Registry());
    const o = m.nodeObserver;
    o.syncDone(0.004);
    o.syncDone(0.2);
    o.syncDone(12);
    o.syncDone(undefined);
    o.syncDone(Number.NaN);
    o.syncDone(-1);
    o.syncFailed();
    o.syncFailed();
    const text = await scrape(m);
    const h = METRICS.nodeSyncLatency.name;
    expect(samples(text, `${h}_count`)).toEqual([`${h}_count 3`]);
    expect(samples(text, `${h}_sum`)).toEqual([`${h}_sum 12.204`]);
    expect(samples(text, `${h}_bucket`)).toEqual(
      expect.arrayContaining([`${h}_bucket{le="0.0025"} 0`, `${h}_bucket{le="0.005"} 1`, `${h}_bucket{le="0.25"} 2`, `${h}_bucket{le="10"} 2`, `${h}_bucket{le="30"} 3`, `${h}_bucket{le="+Inf"} 3`]),
    );
    expect(samples(text, METRICS.nodeSyncFailures.name)).toEqual([`${METRICS.nodeSyncFailures.name} 2`]);
  });

  test('gauges: 0 until bindNode, then the counts at each scrape, 0 again once unbound', async () => {
    const m = new AgentMetrics(new Registry());
    const routed = METRICS.nodesRouted.name;
    const translations = METRICS.serviceTranslations.name;
    let before = await scrape(m);
    expect(samples(before, routed)).toEqual([`${routed} 0`]);
    expect(samples(before, translations)).toEqual([`${translations} 0`]);

    const counts = { nodesRouted: 3, translations: 120 };
    let calls = 0;
    m.bindNode(() => {
      calls++;
      return counts;
    });
    let text = await scrape(m);
    expect(samples(text, routed)).toEqual([`${routed} 3`]);
    expect(samples(text, translations)).toEqual([`${translations} 120`]);
    expect(calls).toBeGreaterThan(0);

    counts.nodesRouted = 0;
    counts.translations = 7;
    text = await scrape(m);
    expect(samples(text, routed)).toEqual([`${routed} 0`]);
    expect(samples(text, translations)).toEqual([`${translations} 7`]);

    m.bindNode(undefined);
    before = await scrape(m);
    expect(samples(before, routed)).toEqual([`${routed} 0`]);
    expect(samples(before, translations)).toEqual([`${translations} 0`]);
  });

  test('two agents in one process keep their own node metrics (no global registry)', async () => {
    const a = new AgentMetrics(new Registry());
    const b = new AgentMetrics(new Registry());
    a.nodeObserver.syncFailed();
    a.bindNode(() => ({ nodesRouted: 1, translations: 1 }));
    expect(samples(await scrape(b), METRICS.nodeSyncFailures.name)).toEqual([`${METRICS.nodeSyncFailures.name} 0`]);
    expect(samples(await scrape(b), METRICS.nodesRouted.name)).toEqual([`${METRICS.nodesRouted.name} 0`]);
    expect(samples(await scrape(a), METRICS.nodesRouted.name)).toEqual([`${METRICS.nodesRouted.name} 1`]);
  });
});
