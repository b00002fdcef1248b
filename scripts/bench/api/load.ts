// Load generator, run as a child process so that it does not share the servers' event loop:
// argv[2] is a JSON LoadSpec; prints one JSON LoadResult line on stdout.
import autocannon from 'autocannon';

export interface LoadSpec {
  url: string;
  /** POST with a JSON body by default; GET sends no body. */
  method?: 'GET' | 'POST';
  body: string;
  /** Extra request headers (e.g. If-None-Match). */
  headers?: Record<string, string>;
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
}

export interface LoadResult {
  p50: number;
  p99: number;
  mean: number;
  requestsPerSecond: number;
  requests: number;
  non2xx: number;
  /** Responses by status code. */
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
}

function run(spec: LoadSpec, duration: number): Promise<autocannon.Result> {
  return autocannon({
    url: spec.url,
    method: spec.method ?? 'POST',
    headers: spec.method === 'GET' ? { ...spec.headers } : { 'content-type': 'application/json', ...spec.headers },
    ...(spec.method === 'GET' ? {} : { body: spec.body }),
    connections: spec.connections,
    duration,
  });
}

const spec = JSON.parse(process.argv[2]!) as LoadSpec;
if (spec.warmupSeconds > 0) await run(spec, spec.warmupSeconds);
const result = await run(spec, spec.durationSeconds);
const output: LoadResult = {
  p50: result.latency.p50,
  p99: result.latency.p99,
  mean: result.latency.average,
  requestsPerSecond: result.requests.total / spec.durationSeconds,
  requests: result.requests.total,
  non2xx: result.non2xx,
  statusCodes: result.statusCodeStats ? Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, stat]) => [code, (stat as { count: number }).count])) : {},
  errors: result.errors,
  timeouts: result.timeouts,
};
process.stdout.write(`${JSON.stringify(output)}\n`);
