-- wrk script used by identity_bench.py.
-- Usage: wrk ... -s request.lua URL -- METHOD BODY_FILE|- [HEADER_FILE|-]
-- HEADER_FILE holds "Name: value" lines. done() prints one JSON line with the
-- result (latencies in microseconds) after a "WRK_RESULT " marker.

local function read_file(path)
  if path == nil or path == "-" then
    return nil
  end
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

function init(args)
  wrk.method = args[1] or "GET"
  local body = read_file(args[2])
  if body ~= nil then
    wrk.body = body
    wrk.headers["Content-Type"] = "application/json"
  end
  local headers = read_file(args[3])
  if headers ~= nil then
    for line in headers:gmatch("[^\r\n]+") do
      local name, value = line:match("^([^:]+):%s*(.*)$")
      if name ~= nil then
        wrk.headers[name] = value
      end
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "max_us": %d, "non2xx": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), latency.mean, latency.max, e.status, e.connect,
    e.read, e.write, e.timeout))
end
