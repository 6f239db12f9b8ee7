-- POST /api/subscribers with unique usernames (PREFIX-n) and numbers (NUMBASE + n); the
-- ids of the created subscribers (from Location) are appended to IDS_FILE.
package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
local c = require("common")
c.setup_headers()
wrk.headers["Content-Type"] = "application/json"
setup = c.setup
done = c.done

local prefix = os.getenv("PREFIX")
local numbase = tonumber(os.getenv("NUMBASE"))
local domain = os.getenv("DOMAIN")
local n = 0
local out

init = function()
  out = io.open(os.getenv("IDS_FILE"), "a")
  out:setvbuf("line")
end
request = function()
  n = n + 1
  local u = prefix .. "-" .. n
  return wrk.format("POST", "/api/subscribers", nil,
    '{"domain":"' .. domain .. '","username":"' .. u .. '","password":"pw-' .. u .. '-s3cret","primary_number":"' .. string.format("%.0f", numbase + n) .. '"}')
end
response = function(status, headers, body)
  if status == 201 then
    local loc = headers["location"] or headers["Location"] or ""
    local id = string.match(loc, "(%d+)$")
    if id then out:write(id, "\n") end
  end
  c.count(status, body)
end
