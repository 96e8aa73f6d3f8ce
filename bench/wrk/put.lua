-- Scenario 1: PUT /v1/subscribers/{random}/credentials, replacing the fcm channel's tokens with one
-- fresh token. Every request is a durable write.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

function init(args)
  common_init(args)
end

function request()
  local i = math.random(0, N - 1)
  return wrk.format("PUT", "/v1/subscribers/sub-" .. i .. "/credentials", headers,
    credentials_body(fresh_token()))
end
