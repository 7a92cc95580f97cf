-- wrk script for bench/status.sh.
--
--   wrk ... -s bench/status.lua -- IDS_FILE [PATH_PREFIX] [COUNT]
--
-- IDS_FILE     one job id per line; each request picks one at random
--              (uniformly), so the whole set is spread over the run.
--              "-" means no ids: every request is PATH_PREFIX alone
--              (used for the static-file baseline).
-- PATH_PREFIX  default "/media/status?job_id=".
-- COUNT        "count" (default) checks every response in Lua and counts
--              the ones that are not 200; "nocount" leaves response()
--              undefined (wrk still counts non-2xx/3xx itself); "cache"
--              counts non-200s and also tallies nginx's X-Cache-Status
--              header (HIT, MISS, STALE, UPDATING, ...).
--
-- The request strings are formatted once per thread in init(), so that
-- request() is only a table lookup: the load generator shares the CPUs
-- with nginx, the app and PostgreSQL, and should take as little as it can.
--
-- done() prints one machine-readable line that status.sh parses:
--   RESULT requests=N duration_us=N rps=F p50_us=N p90_us=N p99_us=N
--          p999_us=N max_us=N non200=N non2xx=N sock_errors=N timeouts=N
--          [cache_HIT=N cache_MISS=N ...]

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("tid", counter)
   table.insert(threads, thread)
end

local reqs = {}
local nreqs = 0
non200 = 0
local counting = true
local caching = false
cache = {}

function init(args)
   local file = args[1] or "-"
   local prefix = args[2] or "/media/status?job_id="
   counting = (args[3] or "count") ~= "nocount"
   caching = args[3] == "cache"
   if file == "-" then
      reqs[1] = wrk.format("GET", prefix)
   else
      local f = assert(io.open(file, "r"))
      for line in f:lines() do
         if #line > 0 then
            reqs[#reqs + 1] = wrk.format("GET", prefix .. line)
         end
      end
      f:close()
   end
   nreqs = #reqs
   assert(nreqs > 0, "no ids in " .. file)
   math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
   if not counting then
      response = nil
   end
end

function request()
   return reqs[math.random(nreqs)]
end

function response(status, headers, body)
   if status ~= 200 then
      non200 = non200 + 1
   end
   if caching then
      local c = headers["X-Cache-Status"] or "none"
      cache[c] = (cache[c] or 0) + 1
   end
end

function done(summary, latency, requests)
   local n200 = 0
   local tally = {}
   for _, t in ipairs(threads) do
      n200 = n200 + (tonumber(t:get("non200")) or 0)
      local c = t:get("cache")
      if type(c) == "table" then
         for k, v in pairs(c) do
            tally[k] = (tally[k] or 0) + v
         end
      end
   end
   local extra = ""
   for k, v in pairs(tally) do
      extra = extra .. string.format(" cache_%s=%d", k, v)
   end
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d " ..
      "p99_us=%d p999_us=%d max_us=%d non200=%d non2xx=%d sock_errors=%d timeouts=%d%s\n",
      summary.requests, summary.duration, summary.requests / secs,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max, n200, e.status,
      e.connect + e.read + e.write, e.timeout, extra))
end
