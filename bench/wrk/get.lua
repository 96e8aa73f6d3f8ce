-- Scenario 3: GET /v1/subscribers/{random}.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

function init(args)
  common_init(args)
end

function request()
  local i = math.random(0, N - 1)
  return wrk.format("GET", "/v1/subscribers/sub-" .. i, headers)
end
