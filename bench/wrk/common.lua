-- Shared by the API benchmark's wrk scripts: the Authorization header, a status tally
-- (wrk itself only counts "non-2xx"), an optional request cap (STOP_AFTER responses per
-- thread) and one JSON line of results on stdout, which bench/api.mjs reads.
-- wrk has no request cap of its own and its main thread sleeps for the whole -d even when
-- a thread stops, so a capped thread stops and says "wrk-thread-done" on stderr; the
-- driver then sends SIGINT, which makes wrk end the run and report at once.
local M = {}

function M.setup_headers()
  wrk.headers["Authorization"] = os.getenv("AUTH")
end

local threads = {}
function M.setup(thread)
  table.insert(threads, thread)
end

M.expect = tonumber(os.getenv("EXPECT") or "200")
M.stop_after = tonumber(os.getenv("STOP_AFTER") or "0")
M.ok = 0
M.bad = 0
M.first_bad = ""

function M.count(status, body)
  if status == M.expect then
    ok = (ok or 0) + 1
  else
    bad = (bad or 0) + 1
    if not first_bad then first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 160) end
  end
  if M.stop_after > 0 and not stopped and (ok or 0) + (bad or 0) >= M.stop_after then
    stopped = true
    io.stderr:write("wrk-thread-done\n")
    io.stderr:flush()
    wrk.thread:stop()
  end
end

local function esc(s) return (string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end)) end

function M.done(summary, latency, requests)
  local okc, badc, first = 0, 0, ""
  for _, t in ipairs(threads) do
    okc = okc + (t:get("ok") or 0)
    badc = badc + (t:get("bad") or 0)
    first = (first ~= "" and first) or t:get("first_bad") or ""
  end
  local e = summary.errors
  io.write(string.format(
    '{"wrk":1,"requests":%d,"duration_us":%d,"ok":%d,"unexpected":%d,"first_unexpected":"%s","socket_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, okc, badc, esc(first), e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

return M
