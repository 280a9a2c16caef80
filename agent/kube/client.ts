/**
 * Kubernetes API access: where the config comes from (a kubeconfig file, else the in-cluster service
 * account) and per-request timeouts (client-node has none of its own: every request the agent makes is
 * bounded by an AbortSignal set in a middleware).
 */
import { KubeConfig, Observable, ApiException, type ConfigurationOptions, type ObservableMiddleware } from '@kubernetes/client-node';

export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
}

/** From `kubeconfig` when given (KUBECONFIG / --kubeconfig), else the in-cluster config. */
export function loadKubeConfig(kubeconfig: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig) {
    try {
      kc.loadFromFile(kubeconfig);
    } catch (e) {
      throw new KubeConfigError(`KUBECONFIG ${kubeconfig}: ${(e as Error).message}`);
    }
    if (!kc.getCurrentCluster()) throw new KubeConfigError(`KUBECONFIG ${kubeconfig}: no current cluster (current-context "${kc.getCurrentContext()}")`);
    return kc;
  }
  if (!env.KUBERNETES_SERVICE_HOST) {
    throw new KubeConfigError('no Kubernetes API: not in a cluster (KUBERNETES_SERVICE_HOST unset) and no KUBECONFIG; give KUBECONFIG, or --pods-file to run without Kubernetes');
  }
  try {
    kc.loadFromCluster();
  } catch (e) {
    throw new KubeConfigError(`in-cluster config: ${(e as Error).message}`);
  }
  return kc;
}

/** Request options that abort the request after `ms` milliseconds. */
export function withTimeout(ms: number): ConfigurationOptions<ObservableMiddleware> {
  const mw: ObservableMiddleware = {
    pre: (ctx) => {
      ctx.setSignal(AbortSignal.timeout(ms));
      return new Observable(Promise.resolve(ctx));
    },
    post: (res) => new Observable(Promise.resolve(res)),
  };
  return { middleware: [mw], middlewareMergeStrategy: 'append' };
}

/** The HTTP status of an API error (404, 409, 410...), or undefined for transport errors. */
export function statusOf(e: unknown): number | undefined {
  if (e instanceof ApiException) return e.code;
  const c = (e as { code?: unknown; statusCode?: unknown } | undefined)?.statusCode ?? (e as { code?: unknown } | undefined)?.code;
  return typeof c === 'number' ? c : undefined;
}

/** One line for a failed API call: timeouts and transport errors named as such. */
export function describeKubeError(e: unknown, timeoutMs?: number): string {
  const err = e as Error & { type?: string; code?: unknown };
  if (err?.name === 'AbortError' || err?.name === 'TimeoutError' || err?.type === 'aborted') return `no answer within ${timeoutMs ?? '?'} ms`;
  if (e instanceof ApiException) {
    let msg = '';
    try {
      const b = (typeof e.body === 'string' ? JSON.parse(e.body) : e.body) as { message?: string } | undefined;
      msg = b?.message ?? '';
    } catch {
      msg = String(e.body).slice(0, 200);
    }
    return `HTTP ${e.code}${msg ? `: ${msg}` : ''}`;
  }
  return err?.message ?? String(e);
}
