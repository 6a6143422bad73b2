-- wrk script for the rolegate soak (`make soak`, bench/src/bin/soak/).
--
--   wrk -t8 -c8 -d120s -s envoy/bench/soak.lua http://127.0.0.1:PORT/calc/add -- REQUESTS THREADS
--
-- REQUESTS is written by the driver (bench/src/bin/soak/corpus.rs), one tab-separated record
-- a line:
--   clock  ORIGIN ROTATE SLOTS                 keys rotate every ROTATE s from Unix second ORIGIN
--   header NAME VALUE                          a header every request carries
--   kind   NAME SHIFT|-                        during epoch e, a NAME request carries a token of
--                                              key slot (e + SHIFT) mod SLOTS; "-": any slot
--   expect ID STATUS HEADER VALUE ABSENT BODY  an answer: its status, a header with its exact
--                                              value ("<as sent>": the request's Authorization,
--                                              none if it had none), a header it must not have,
--                                              its exact body
--   class  NAME KIND PATH EXPECT|-             requests of KIND sent to PATH; EXPECT: the answer
--                                              all of them get there, "-": each token's own
--   mix    CLASS CLASS ...                     the order in which the classes are sent
--   token  KIND SLOT|- EXPECT AUTHORIZATION|-  one request ("-": no Authorization header)
--
-- Run it with as many connections as threads (-c equal to -t). Each thread then has one
-- connection and sends one request at a time, so every response answers the request that
-- thread made last, and every answer is checked against what that request must get. (With more
-- connections per thread, response() could not tell which request a response belongs to.)
--
-- done() prints lines the driver parses:
--   ROLEGATE_SOAK_KIND kind=CLASS sent=.. right=.. wrong=..
--   ROLEGATE_SOAK_WRONG <description>   (the first wrong answers of each thread)
--   ROLEGATE_SOAK_TOTAL requests=.. duration_us=.. p50_us=.. p99_us=.. max_us=.. connect=..
--                       read=.. write=.. timeout=.. stray=..

local threads = {}

local kinds = {}       -- name -> { shift = number or nil, lists = { [slot] = { entry, ... } } }
local classes = {}     -- name -> { name, kind, path, expect = expect or nil }
local always = {}      -- the headers every request carries
local mix = {}
local expects = {}
local origin, rotate, slots
local mix_pos = 1
local list_pos = {}    -- "class/slot" -> next index
local pending = nil    -- the entry this thread's connection is waiting on
local pending_class = nil
local AS_SENT = "<as sent>"

-- Per-thread results, read back in done() with thread:get.
sent = {}
right = {}
wrong = {}
samples = {}
stray = 0

local MAX_SAMPLES = 10

function setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end

local function split(line)
  local fields = {}
  for field in string.gmatch(line .. "\t", "([^\t]*)\t") do
    fields[#fields + 1] = field
  end
  return fields
end

local thread_count = 1

function init(args)
  local file = args[1]
  if file == nil then
    error("usage: -- REQUESTS THREADS")
  end
  thread_count = tonumber(args[2] or "1")
  for line in io.lines(file) do
    local f = split(line)
    local tag = f[1]
    if tag == "clock" then
      origin, rotate, slots = tonumber(f[2]), tonumber(f[3]), tonumber(f[4])
    elseif tag == "header" then
      always[f[2]] = f[3]
    elseif tag == "kind" then
      kinds[f[2]] = { shift = tonumber(f[3]), lists = {} }
    elseif tag == "class" then
      if kinds[f[3]] == nil or (f[5] ~= "-" and expects[f[5]] == nil) then
        error("bad record: " .. line)
      end
      classes[f[2]] = { name = f[2], kind = f[3], path = f[4], expect = expects[f[5]] }
      sent[f[2]], right[f[2]], wrong[f[2]] = 0, 0, 0
    elseif tag == "mix" then
      for i = 2, #f do
        mix[#mix + 1] = f[i]
      end
    elseif tag == "expect" then
      expects[f[2]] = {
        status = tonumber(f[3]), header = f[4], value = f[5], absent = f[6], body = f[7],
      }
    elseif tag == "token" then
      local kind = kinds[f[2]]
      if kind == nil or expects[f[4]] == nil then
        error("bad record: " .. line)
      end
      local list = kind.lists[f[3]]
      if list == nil then
        list = {}
        kind.lists[f[3]] = list
      end
      local headers = {}
      for name, value in pairs(always) do
        headers[name] = value
      end
      local auth = nil
      if f[5] ~= "-" then
        auth = f[5]
        headers["Authorization"] = auth
      end
      -- Each path's request text is made on first use: most entries never go to every path.
      list[#list + 1] = {
        slot = f[3], expect = expects[f[4]], auth = auth, headers = headers, reqs = {},
      }
    end
  end
  if origin == nil or #mix == 0 then
    error("no clock or mix in " .. file)
  end
  for _, name in ipairs(mix) do
    if classes[name] == nil then
      error("no class " .. name .. " in " .. file)
    end
  end
  -- Threads start at different places in the mix, and evenly spread over each list.
  mix_pos = (thread_number * 7) % #mix + 1
end

function request()
  local name = mix[mix_pos]
  mix_pos = mix_pos % #mix + 1
  local class = classes[name]
  local kind = kinds[class.kind]
  local slot = "-"
  if kind.shift ~= nil then
    local epoch = math.floor((os.time() - origin) / rotate)
    slot = tostring((epoch + kind.shift) % slots)
  end
  local list = kind.lists[slot]
  if list == nil then
    error("no " .. name .. " requests for slot " .. slot)
  end
  local key = name .. "/" .. slot
  local pos = list_pos[key] or math.floor(thread_number * #list / thread_count) % #list + 1
  list_pos[key] = pos % #list + 1
  local entry = list[pos]
  local req = entry.reqs[class.path]
  if req == nil then
    req = wrk.format("GET", class.path, entry.headers)
    entry.reqs[class.path] = req
  end
  pending, pending_class = entry, class
  sent[name] = sent[name] + 1
  return req
end

function response(status, headers, body)
  local p, c = pending, pending_class
  pending, pending_class = nil, nil
  if p == nil then
    stray = stray + 1
    return
  end
  local e = c.expect or p.expect
  local want = e.value
  if want == AS_SENT then
    want = p.auth
  end
  local value, absent = nil, nil
  for name, v in pairs(headers) do
    local lower = string.lower(name)
    if lower == e.header then
      value = v
    elseif lower == e.absent then
      absent = v
    end
  end
  if status == e.status and value == want and absent == nil and body == e.body then
    right[c.name] = right[c.name] + 1
    return
  end
  wrong[c.name] = wrong[c.name] + 1
  if #samples < MAX_SAMPLES then
    samples[#samples + 1] = string.format(
      "%s (kid slot %s) at t=%d s after the rotation origin: status %d (expected %d), %s: %s "
        .. "(expected %s), %s: %s, body %s",
      c.name, p.slot, os.time() - origin, status, e.status, e.header,
      string.sub(tostring(value), 1, 80), string.sub(tostring(want), 1, 80),
      e.absent, tostring(absent), string.sub(body or "", 1, 200))
  end
end

function done(summary, latency, requests)
  local totals = {}
  local stray_total = 0
  for _, thread in ipairs(threads) do
    local s, r, w = thread:get("sent"), thread:get("right"), thread:get("wrong")
    for name, n in pairs(s or {}) do
      local t = totals[name] or { 0, 0, 0 }
      totals[name] = t
      t[1] = t[1] + n
      t[2] = t[2] + ((r or {})[name] or 0)
      t[3] = t[3] + ((w or {})[name] or 0)
    end
    for _, line in ipairs(thread:get("samples") or {}) do
      io.write("ROLEGATE_SOAK_WRONG " .. line .. "\n")
    end
    stray_total = stray_total + (thread:get("stray") or 0)
  end
  for name, t in pairs(totals) do
    io.write(string.format("ROLEGATE_SOAK_KIND kind=%s sent=%d right=%d wrong=%d\n",
      name, t[1], t[2], t[3]))
  end
  local e = summary.errors
  io.write(string.format(
    "ROLEGATE_SOAK_TOTAL requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d connect=%d "
      .. "read=%d write=%d timeout=%d stray=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.timeout, stray_total))
end
