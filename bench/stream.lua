-- /stream/start + /stream/stop pairs: each thread starts a stream, and
-- stops it with a later request once the start's answer came back.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  key = os.getenv("BENCH_KEY")
  mode = args[1] or "pairs"
  ids = {}
  pending = {}
  stops, starts, bad = 0, 0, 0
  if mode == "status" then
    for line in io.lines(args[2]) do table.insert(ids, line) end
  end
end
request = function()
  local h = {["Authorization"] = "Bearer " .. key,
             ["Content-Type"] = "application/x-www-form-urlencoded"}
  if mode == "static" then
    return wrk.format("GET", wrk.path, h)
  end
  if mode == "status" then
    return wrk.format("GET", "/stream/status?id=" .. ids[math.random(#ids)], h)
  end
  if #pending > 0 then
    return wrk.format("POST", "/stream/stop", h, "id=" .. table.remove(pending))
  end
  return wrk.format("POST", "/stream/start", h, "type=hls&name=bench")
end
response = function(status, headers, body)
  if status ~= 200 then bad = bad + 1; return end
  if mode == "pairs" then
    if body:find('"stop_date"') then stops = stops + 1
    else
      starts = starts + 1
      local id = body:match('"id":"([0-9a-f%-]+)"')
      if id then table.insert(pending, id) end
    end
  end
end
done = function(summary, latency, requests)
  local s, b = 0, 0
  for _, t in ipairs(threads) do s = s + t:get("stops"); b = b + t:get("bad") end
  io.write(string.format("BENCH non200=%d requests=%d rps=%.0f pairs_per_s=%.0f p50_ms=%.2f p99_ms=%.2f\n",
    b, summary.requests, summary.requests / (summary.duration / 1e6),
    s / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
