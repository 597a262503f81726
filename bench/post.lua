-- wrk script: POST the JSON body in $BENCH_BODY to $BENCH_PATH, with extra
-- headers from $BENCH_HEADERS ("Name: value|Name: value").
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/v1/chat/completions"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
local extra = os.getenv("BENCH_HEADERS") or ""
for pair in string.gmatch(extra, "[^|]+") do
  local k, v = string.match(pair, "^%s*([^:]+):%s*(.*)$")
  if k then wrk.headers[k] = v end
end
