-- wrk script for benchmarks/relay_bench.py: POST a realistic paid STK callback with a unique
-- CheckoutRequestID per request (ws_CO_BENCH_<thread>_<n>), matching the payments the bench registered.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
  table.insert(threads, thread)
end

function init(args)
  path = args[1] or "/"
  template = '{"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1",'
    .. '"CheckoutRequestID":"ws_CO_BENCH_%d_%d","ResultCode":0,'
    .. '"ResultDesc":"The service request is processed successfully.",'
    .. '"CallbackMetadata":{"Item":[{"Name":"Amount","Value":10.00},'
    .. '{"Name":"MpesaReceiptNumber","Value":"TKL%07d"},{"Name":"Balance"},'
    .. '{"Name":"TransactionDate","Value":20251121102115},'
    .. '{"Name":"PhoneNumber","Value":254708374149}]}}}}'
  headers = {["Content-Type"] = "application/json;charset=UTF-8", ["Businessshortcode"] = "174379"}
end

function request()
  counter = counter + 1
  local body = string.format(template, tid, counter, (tid * 1000000 + counter) % 10000000)
  return wrk.format("POST", path, headers, body)
end
