-- wrk script for bench/workers.py: POST pre-signed presentations, each nonce once.
--
-- Usage: wrk -t1 -cC -dLIMIT -s bench/verify.lua URL -- REQUESTS_FILE API_KEY WARMUP MEASURED
-- REQUESTS_FILE holds one "PATH<TAB>BODY" line per checkout (at least WARMUP + MEASURED + C).
-- The first WARMUP responses warm the server up; the next MEASURED are timed with the
-- monotonic clock (LuaJIT FFI). The thread then prints one JSON line and exits the process,
-- so the run lasts as long as the work, not as long as -d (a safety limit only).
local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } cardcert_timespec;
int clock_gettime(int clock_id, cardcert_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local clock = ffi.new("cardcert_timespec")

local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
end

local requests = {}
local sent = 0
local responses = 0
local warmup, measured = 0, 0
local started = 0
local authenticated, other = 0, 0

function init(args)
  local headers = {
    ["Authorization"] = "Bearer " .. args[2],
    ["Content-Type"] = "application/json",
  }
  for line in io.lines(args[1]) do
    local tab = line:find("\t", 1, true)
    requests[#requests + 1] = wrk.format("POST", line:sub(1, tab - 1), headers, line:sub(tab + 1))
  end
  warmup, measured = tonumber(args[3]), tonumber(args[4])
end

function request()
  sent = sent + 1
  -- Never reached with a padded file; repeating the last body would be a replayed nonce.
  return requests[math.min(sent, #requests)]
end

function response(status, headers, body)
  responses = responses + 1
  if responses == warmup then
    started = now()
  elseif responses > warmup then
    if status == 200 and body:find('"result": "authenticated"', 1, true) then
      authenticated = authenticated + 1
    else
      other = other + 1
    end
    if responses == warmup + measured then
      local seconds = now() - started
      io.write(string.format(
        '{"requests": %d, "seconds": %.6f, "authenticated": %d, "other": %d, "loaded": %d}\n',
        measured, seconds, authenticated, other, #requests))
      io.flush()
      os.exit(0)
    end
  end
end
