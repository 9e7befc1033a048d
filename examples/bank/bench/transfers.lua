-- wrk script: POSTs transfers among accounts a1..a8, each with an id no other request uses
-- (thread number and counter), 1 to 97 cents. Counts answers by status.
local threads = {}
local next_thread = 1

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  n = 0
  statuses = {}
end

function request()
  n = n + 1
  local from = (n + tid) % 8 + 1
  local to = (n * 3 + tid) % 8 + 1
  if to == from then to = from % 8 + 1 end
  local body = string.format('{"transferId":"w%d-%d","to":"a%d","amountCents":%d}',
                             tid, n, to, n % 97 + 1)
  return wrk.format("POST", "/v1/bank/accounts/a" .. from .. "/transfers",
                    {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do io.write(string.format("status %d: %d\n", status, count)) end
  io.write(string.format("p50 %.2f ms, p99 %.2f ms\n", latency:percentile(50) / 1000,
                         latency:percentile(99) / 1000))
end
