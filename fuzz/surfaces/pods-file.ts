/**
 * The pods file. In-process: the size and nesting checks, then the YAML parser with the options the
 * worker uses, then the schema, on mutated pod lists (the parse's time is what the worker's deadline
 * bounds in the agent). Worker: the real path the agent reloads through (parsePodsFileAsync: a worker
 * thread with a deadline and a heap limit), on fewer inputs since each starts a thread.
 * Every input must give pods or a one-line PodsFileError without stack frames.
 */
import { parseAllDocuments } from 'yaml';
import { MAX_PODS_FILE_BYTES, nestingProblem, parsePodsFileAsync, podsOfDocuments, PodsFileError, PODS_FILE_PARSE_TIMEOUT_MS } from '../../agent/pod-info/pods-file.js';
import { mutate, RAW_CONTROL, STACK_RE, type Outcome, type Rng, type Surface } from '../lib.js';

const SEEDS = [
  'apiVersion: v1\nkind: Pod\nmetadata: {namespace: kube-system, name: proxy, uid: u1}\nspec: {hostNetwork: true, containers: [{name: c, image: x}]}\n---\nmetadata: {name: web, annotations: {a: b}}\n',
  'kind: List\nitems:\n- metadata:\n    name: a\n    annotations:\n      cni.projectcalico.org/vppExtraMemifPorts: "tcp:80"\n- metadata: {name: b, namespace: n}\n',
  '- metadata: {name: a}\n- metadata: {name: b, uid: "1234"}\n',
  '{"items":[{"metadata":{"name":"a","annotations":{"k":"v"}}}]}',
  'metadata:\n  name: &n web\n  namespace: *n\n  annotations:\n    x: |\n      line one\n      line two\n',
];
const TOKENS = ['\n', '  ', '- ', ': ', '[', ']', '{', '}', ',', '"', "'", '&a ', '*a', '!!str ', '!!binary ', '? ', '|', '>', '---\n', '...\n', '#', 'uid: 1234', 'name: 7', '<<: ', '%YAML 1.2\n', '\t', 'key: '];

function oneLine(e: unknown): Outcome {
  if (!(e instanceof PodsFileError)) return { failure: 'crash', detail: e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 500) : String(e) };
  if (STACK_RE.test(e.message)) return { failure: 'stack', detail: e.message.slice(0, 500) };
  if (e.message.includes('\n') || RAW_CONTROL.test(e.message) || e.message.length > 1000) return { failure: 'unexpected', detail: `not one short line: ${JSON.stringify(e.message.slice(0, 300))}` };
  return undefined;
}

/** In-process inputs stay under 64 KiB: a larger malformed text can keep the parser busy for minutes, which
 *  the agent bounds with the worker's deadline (the worker surface), not something to sit through here. */
function gen(rng: Rng, large: boolean): string {
  const s = rng.pick(SEEDS);
  const max = large && rng.chance(0.05) ? MAX_PODS_FILE_BYTES + 1024 : rng.chance(0.1) ? 64 * 1024 : 2048;
  return rng.chance(0.05) ? s : mutate(rng, s, TOKENS, max);
}

export function podsFileSurface(): Surface {
  return {
    name: 'pods-file',
    level: 'in-process',
    target: 100_000,
    boundMs: PODS_FILE_PARSE_TIMEOUT_MS,
    one(rng) {
      const text = gen(rng, false);
      return {
        input: text,
        run: (): Outcome => {
          if (text.length > MAX_PODS_FILE_BYTES || nestingProblem(text)) return undefined;
          const docs: unknown[] = [];
          try {
            for (const d of parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true, logLevel: 'error' })) {
              if (d.errors.length > 0) return undefined; // the worker answers with the first error, escaped
              let proto = false;
              const js: unknown = d.toJS({ maxAliasCount: 100, reviver: (k, v) => ((proto ||= k === '__proto__'), v) });
              if (proto) return undefined;
              docs.push(js);
            }
          } catch (e) {
            // The worker turns what the parser throws into a one-line message; what matters here is its time.
            if (e instanceof Error) return undefined;
            return { failure: 'crash', detail: String(e) };
          }
          try {
            podsOfDocuments(docs);
            return undefined;
          } catch (e) {
            return oneLine(e);
          }
        },
      };
    },
  };
}

export function podsFileWorkerSurface(): Surface {
  return {
    name: 'pods-file (worker)',
    level: 'process',
    target: 1_000,
    boundMs: PODS_FILE_PARSE_TIMEOUT_MS + 5_000,
    concurrency: 2,
    one(rng) {
      const text = gen(rng, true);
      return {
        input: text,
        run: async (): Promise<Outcome> => {
          try {
            await parsePodsFileAsync(text);
            return undefined;
          } catch (e) {
            return oneLine(e);
          }
        },
      };
    },
  };
}
