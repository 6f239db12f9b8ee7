-- GET /api/subscribers/:id with ids drawn at random from IDS_FILE (one id a line).
package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
local c = require("common")
c.setup_headers()
setup = c.setup
done = c.done

local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local path = os.getenv("PATH_PREFIX") or "/api/subscribers/"

init = function() math.randomseed(os.time() + (tonumber(tostring({}):sub(8)) or 0)) end
request = function() return wrk.format("GET", path .. ids[math.random(#ids)]) end
response = function(status, headers, body) c.count(status, body) end
