-- Delivery benchmark: the sink's own ceiling, a chat message's worth of JSON per POST.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"text":"Hello t-123"}'
