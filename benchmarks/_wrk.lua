-- wrk's script for benchmarks/web_load.py (the outside client). Not a benchmark of its own.
--
--   wrk ... --script benchmarks/_wrk.lua http://127.0.0.1:PORT -- plan.json
--
-- plan.json (written by web_load.py) is the sequence of requests each thread cycles through:
-- [{"path": "/home/", "cookie": "sessionid=...; csrftoken=..."}, {"path": ..., "cookie": ..., "body": ...}].
-- A request with a body is a form POST; "@KEY@" in it becomes a new submission key (a random UUID) every
-- time, so each POST logs a new encounter. Errors counted here (printed as "MUSTER_BAD n" at the end):
-- statuses 400 and up, and redirects to the sign-in page (a session that stopped being signed in).

local plan = {}
local position = 0
local bad = 0
local threads = {}
-- The live board's version, as the board's script keeps it (static/muster/board_live.js): the last one answered is
-- sent with the next poll, and a 204 means nothing changed. wrk cannot tell which connection an answer belongs to,
-- so a thread keeps one version for its connections, from the last page or poll that drew the board; every
-- coordinator here watches the same board with the same rights, so they share it as browsers on that board would
-- (a coordinator with other rights would get a full answer each time: the figure would be the worse for it).
local board_version = nil

local function read_plan(path)
  local file = assert(io.open(path, "r"))
  local text = file:read("*a")
  file:close()
  local entries = {}
  -- The plan is flat JSON written by web_load.py: objects of string fields only, no nesting, and no
  -- quote, backslash or brace in any value (it checks).
  for object in text:gmatch("%b{}") do
    local entry = {}
    for key, value in object:gmatch('"(%w+)":%s*"([^"]*)"') do
      entry[key] = value
    end
    entries[#entries + 1] = entry
  end
  return entries
end

local function uuid4()
  local template = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
  return (template:gsub("[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end

function setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  plan = read_plan(args[1])
  math.randomseed(os.time() * 1000 + id)
  position = (id - 1) * 7 % #plan -- threads start at different points of the sequence
end

function request()
  position = position % #plan + 1
  local entry = plan[position]
  local headers = { Cookie = entry.cookie }
  if board_version and entry.path:find("/board/live/", 1, true) then
    headers["X-Muster-Board-Version"] = board_version
  end
  if entry.body then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    local body = entry.body:gsub("@KEY@", uuid4())
    return wrk.format("POST", entry.path, headers, body)
  end
  return wrk.format("GET", entry.path, headers)
end

function response(status, headers, body)
  local version = headers["X-Muster-Board-Version"] or headers["x-muster-board-version"]
  if status == 200 and version then board_version = version end
  local location = headers["Location"] or headers["location"]
  if status >= 400 or (location and location:find("/login/", 1, true)) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("bad") or 0)
  end
  io.write(string.format("MUSTER_BAD %d\n", total))
end
