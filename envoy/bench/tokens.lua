-- wrk script for the rolegate benchmark (`make bench`, bench/src/wrk.rs).
--
--   wrk -t1 -c16 -d10s -s envoy/bench/tokens.lua http://127.0.0.1:PORT/calc/add -- TOKENS OFFSET THREADS
--
-- TOKENS is a file with one token per line. Every request carries "Authorization: Bearer <token>",
-- taking the tokens in turn: a file with one token is the "hot" path (the same token again and
-- again), a file with many distinct tokens is the "cold" path (more tokens than either filter
-- caches, so every request is verified afresh). Each wrk thread walks the whole list, starting at
-- OFFSET plus its own share of the list; all connections of a thread share its position.
--
-- Every response must be 200. done() prints one line the driver parses:
--   ROLEGATE_BENCH requests=.. duration_us=.. p50_us=.. p99_us=.. non200=.. socket_errors=.. codes=.. first_bad=..

local requests_by_index = {}
local next_index = 1
local threads = {}

-- Per-thread results, read back in done() with thread:get.
non200 = 0
codes = {}
first_bad = ""

function setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file = args[1]
  if file == nil then
    error("usage: -- TOKENS [OFFSET] [THREADS]")
  end
  local offset = tonumber(args[2] or "0")
  local thread_count = tonumber(args[3] or "1")
  for line in io.lines(file) do
    if #line > 0 then
      requests_by_index[#requests_by_index + 1] =
        wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. line })
    end
  end
  local count = #requests_by_index
  if count == 0 then
    error("no tokens in " .. file)
  end
  local share = math.floor(count / thread_count)
  next_index = (offset + thread_number * share) % count + 1
end

function request()
  local req = requests_by_index[next_index]
  next_index = next_index % #requests_by_index + 1
  return req
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    local key = tostring(status)
    codes[key] = (codes[key] or 0) + 1
    if first_bad == "" then
      first_bad = key .. " " .. string.sub(body or "", 1, 160)
    end
  end
end

function done(summary, latency, requests)
  local bad = 0
  local merged = {}
  local sample = ""
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non200") or 0)
    for code, n in pairs(thread:get("codes") or {}) do
      merged[code] = (merged[code] or 0) + n
    end
    local first = thread:get("first_bad") or ""
    if sample == "" then
      sample = first
    end
  end
  local parts = {}
  for code, n in pairs(merged) do
    parts[#parts + 1] = code .. ":" .. n
  end
  table.sort(parts)
  local e = summary.errors
  io.write(string.format(
    "ROLEGATE_BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non200=%d socket_errors=%d codes=%s first_bad=%s\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), bad,
    e.connect + e.read + e.write + e.timeout,
    #parts > 0 and table.concat(parts, ",") or "-",
    (string.gsub(sample, "%s", "_"))))
end
