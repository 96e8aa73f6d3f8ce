-- Shared by put.lua, patch.lua and get.lua (wrk 4.x, LuaJIT).
--
-- Arguments after `--` on the wrk command line:
--   1: number of seeded subscribers N (ids are sub-0 .. sub-{N-1})
--   2: API key (sent as `Authorization: ApiKey <key>`; the ceiling server ignores it)
--   3: run nonce (makes every token of this run unique across wrk processes)
--   4: number of wrk threads (-t); wrk does not tell a thread's init() how many there are
--   5: PATCH only: how many tokens one wrk process may append to one subscriber (default 90)
--
-- Each wrk thread owns the subscribers whose index is congruent to its thread id modulo the number
-- of threads, so the PATCH budget can be counted per thread without coordination.
--
-- done() prints one machine-readable line starting with "BENCH " for bench/run.sh.

local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

N = 10000
KEY = ""
NONCE = "x"
BUDGET = 90
NTHREADS = 1
TID = 0
counter = 0
headers = {}
PAD = ""

function common_init(args)
  N = tonumber(args[1] or "10000")
  KEY = args[2] or ""
  NONCE = args[3] or "x"
  NTHREADS = tonumber(args[4] or "1")
  BUDGET = tonumber(args[5] or "90")
  TID = tonumber(thread_id or 0)
  if TID >= NTHREADS then error("thread id " .. TID .. " >= thread count argument " .. NTHREADS) end
  math.randomseed(os.time() * 1000 + TID * 7919 + math.floor(os.clock() * 1e6))
  headers = {
    ["Authorization"] = "ApiKey " .. KEY,
    ["Content-Type"] = "application/json",
  }
  -- A per-thread random pad so that tokens are the length of a real FCM registration token
  -- (about 152 characters); the unique part is appended per request.
  local t = {}
  for i = 1, 16 do t[i] = string.format("%08x", math.random(0, 0x7fffffff)) end
  PAD = table.concat(t)
end

-- A random subscriber index owned by this thread.
function random_owned()
  local i = math.random(0, N - 1)
  local r = i % NTHREADS
  if r ~= TID then
    i = i - r + TID
    if i >= N then i = i - NTHREADS end
    if i < 0 then i = TID end
  end
  return i
end

-- A fresh token: per-thread random pad, run nonce, thread id, per-thread counter, random word.
function fresh_token()
  counter = counter + 1
  return string.format("%s:%s-%d-%d-%08x", PAD, NONCE, TID, counter, math.random(0, 0x7fffffff))
end

function credentials_body(token)
  return '{"providerId":"fcm","credentials":{"deviceTokens":["' .. token .. '"]}}'
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d non2xx=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d p999_us=%d mean_us=%.1f max_us=%d\n",
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.mean, latency.max))
end
