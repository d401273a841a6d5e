-- wrk script of the open-API benchmark (bench/openapi.py): POSTs pre-signed calcStock calls.
--
--   wrk -t1 -c32 -d15s --latency -s bench/openapi_calc.lua http://127.0.0.1:PORT -- REQUESTS
--
-- REQUESTS is a file of "target<TAB>body" lines written (and signed) by bench/openapi_wrk.py
-- just before the run: the protocol accepts a timestamp for 120 s only. Every answer that is
-- not HTTP 200 with status 0 is counted and reported as "bad answers".

local requests = {}
local threads = {}
local position = 0
bad = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  for line in io.lines(args[1]) do
    local target, body = line:match("^([^\t]+)\t(.*)$")
    table.insert(requests, wrk.format("POST", target, headers, body))
  end
  position = math.random(#requests)
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function response(status, headers, body)
  if status ~= 200 or body:sub(1, 11) ~= '{"status":0' then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("bad")
  end
  io.write(string.format("bad answers: %d\n", total))
end
