-- Delivery benchmark: POST /v1/events/trigger to one random subscriber of t-0 .. t-{N-1}.
-- Arguments after `--`: 1: N, 2: API key. Herald generates each transactionId.
N = 1000
headers = {}
function init(args)
  N = tonumber(args[1] or "1000")
  headers["Authorization"] = "ApiKey " .. (args[2] or "")
  headers["Content-Type"] = "application/json"
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end
function request()
  local i = math.random(0, N - 1)
  return wrk.format("POST", nil, headers,
    '{"name":"bench-trigger","to":"t-' .. i .. '","payload":{"n":' .. i .. '}}')
end
