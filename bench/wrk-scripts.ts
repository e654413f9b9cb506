// Lua for wrk shared by the bench scripts (bench/run.ts, invoice-growth.ts, issue-ledger.ts).

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
