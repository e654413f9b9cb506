// Lua for wrk shared by the bench scripts (bench/run.ts, invoice-growth.ts, issue-ledger.ts, reads.ts, pii-reads.ts).

/** A Lua string literal. */
export const luaString = (s: string): string => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;

/** Lua setting each header on every request. */
export const luaHeaders = (h: Record<string, string>): string => Object.entries(h).map(([k, v]) => `wrk.headers[${luaString(k)}] = ${luaString(v)}`).join('\n');

/** POST `body` with `headers` and a new Idempotency-Key per request (unique across runs: time, a random number, `tag`). */
export function issueLua(body: string, headers: Record<string, string>, tag = 'bench'): string {
  return `
wrk.method = "POST"
wrk.body = ${luaString(body)}
${luaHeaders(headers)}
math.randomseed(os.time())
local prefix = string.format("%s-%d-%d-", ${luaString(tag)}, os.time(), math.random(1, 1000000000))
local n = 0
request = function()
  n = n + 1
  wrk.headers["Idempotency-Key"] = prefix .. n
  return wrk.format()
end
`;
}

/** wrk's `done`: one `RESULT {…}` line of JSON (requests, duration, p50/p99 in µs, non-2xx, socket errors) to parse. */
export const LUA_DONE = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nRESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non2xx":%d,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
`;

/** LUA_DONE with the slowest answer too (`max_us`). */
export const LUA_DONE_MAX = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nRESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"non2xx":%d,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
`;
