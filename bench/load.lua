-- wrk script: rotates requests over a list of credentials (cookies or bearer tokens)
-- and paths, and writes a JSON summary to $BENCH_OUT when done.
--   BENCH_MODE   cookie | bearer | none
--   BENCH_CREDS  file with one credential per line (session cookie value or access token)
--   BENCH_PATHS  comma-separated request paths, used in rotation
--   BENCH_OUT    where done() writes its JSON summary
local requests = {}
local n = 0
local i = 0

local function split(s, sep)
  local out = {}
  for part in string.gmatch(s, "([^" .. sep .. "]+)") do out[#out + 1] = part end
  return out
end

function init(args)
  local mode = os.getenv("BENCH_MODE") or "none"
  local paths = split(os.getenv("BENCH_PATHS") or "/", ",")
  local creds = {}
  if mode ~= "none" then
    for line in io.lines(os.getenv("BENCH_CREDS")) do
      if #line > 0 then creds[#creds + 1] = line end
    end
  else
    creds[1] = ""
  end
  -- Pre-format every request once: per-request cost in wrk stays a table lookup.
  -- Credentials and paths advance together but at co-prime-ish strides so that every
  -- (credential, path) pair occurs.
  local count = math.max(#creds, #paths)
  if #creds > 1 and #paths > 1 then count = #creds * #paths end
  for k = 0, count - 1 do
    local headers = {}
    local cred = creds[(k % #creds) + 1]
    if mode == "cookie" then
      headers["Cookie"] = "session=" .. cred
      headers["X-CSRF"] = "1"
    elseif mode == "bearer" then
      headers["Authorization"] = "Bearer " .. cred
    end
    local path = paths[(math.floor(k / #creds) % #paths) + 1]
    if #creds == 1 then path = paths[(k % #paths) + 1] end
    requests[k + 1] = wrk.format("GET", path, headers)
  end
  n = #requests
  -- each thread starts at its own offset
  i = math.random(0, n - 1)
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return requests[i]
end

function done(summary, latency, requests_)
  local e = summary.errors
  local out = io.open(os.getenv("BENCH_OUT"), "w")
  out:write(string.format(
    '{"duration_us": %d, "requests": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p99": %d, "p999": %d}}',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
  out:close()
end
