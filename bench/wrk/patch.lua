-- Scenario 2: PATCH /v1/subscribers/{random}/credentials, appending one fresh token to the fcm
-- channel. A channel holds at most 100 tokens (the 101st is a 400), so each thread counts what it
-- appended to each of its subscribers and skips subscribers that reached BUDGET (default 90; the
-- PUT scenario leaves at most 1 token per subscriber, so a channel never exceeds 91).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local appended = {}
local cursor = 0

function init(args)
  common_init(args)
  cursor = TID
end

local function pick()
  for _ = 1, 64 do
    local i = random_owned()
    if (appended[i] or 0) < BUDGET then return i end
  end
  -- Nearly saturated: walk this thread's subscribers for one with room left (amortized O(1)).
  for _ = 1, math.ceil(N / NTHREADS) + 1 do
    cursor = cursor + NTHREADS
    if cursor >= N then cursor = TID end
    if (appended[cursor] or 0) < BUDGET then return cursor end
  end
  -- Every subscriber is full: send anyway; the 400s are counted and invalidate the run.
  return random_owned()
end

function request()
  local i = pick()
  appended[i] = (appended[i] or 0) + 1
  return wrk.format("PATCH", "/v1/subscribers/sub-" .. i .. "/credentials", headers,
    credentials_body(fresh_token()))
end
