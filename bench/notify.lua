-- Unique, authenticated MediaConvert STATUS_UPDATE events over 10,000 jobs:
-- every request is a new event (its own timestamp), so each one is a durable
-- insert-notification-plus-update-job transaction.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  n = 0
  bad = 0
  secret = os.getenv("BENCH_SECRET")
end

request = function()
  n = n + 1
  local job = "bench-" .. ((tid * 7919 + n) % 10000)
  local ts = 1700000000000 + tid * 1000000000 + n
  local body = string.format(
    '{"version":"0","id":"%d-%d","detail-type":"MediaConvert Job State Change",' ..
    '"source":"aws.mediaconvert","account":"111122223333","time":"2023-11-14T22:13:20Z",' ..
    '"region":"us-west-2","detail":{"timestamp":%d,"accountId":"111122223333",' ..
    '"jobId":"%s","status":"STATUS_UPDATE","userMetadata":{},' ..
    '"jobProgress":{"jobPercentComplete":%d,"currentPhase":"TRANSCODING","retryCount":0}}}',
    tid, n, ts, job, n % 101)
  return wrk.format("POST", "/notifications/mediaconvert",
    {["X-Api-Key"] = secret, ["Content-Type"] = "application/json"}, body)
end

response = function(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

done = function(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  io.write(string.format("BENCH non200=%d requests=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f\n",
    b, summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
