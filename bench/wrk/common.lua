-- Shared by bench/wrk/*.lua (bench/peers.py sets the environment): where SCIM is, the users'
-- names and ids, the groups, and the bodies Entra sends (docs/entra-client.md).
local env = os.getenv
prefix = env("SCIM_PREFIX")
tag = env("USER_TAG")
users = tonumber(env("USERS"))
run = env("RUN_TAG")
wrk.headers["Content-Type"] = "application/scim+json"

local function lines(path)
  local found = {}
  if path and path ~= "" then
    for line in io.lines(path) do found[#found + 1] = line end
  end
  return found
end
user_ids = lines(env("USER_IDS"))
group_ids = lines(env("GROUP_IDS"))
create_template = env("CREATE_BODY")

local patch_op = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":['

-- Each wrk thread numbers its own requests: names stay unique across threads and runs.
local sent = 0
function setup(thread)
  thread_count = (thread_count or 0) + 1
  thread:set("thread_id", thread_count)
end
function init(args)
  math.randomseed((thread_id or 0) * 7919 + os.time())
end

function lookup()
  local name = string.format("%s.user%07d%%40contoso.example", tag, math.random(0, users - 1))
  return wrk.format("GET", prefix .. "/Users?filter=userName%20eq%20%22" .. name .. "%22")
end

function create()
  sent = sent + 1
  local name = string.format("%s-%d-%d@contoso.example", run, thread_id, sent)
  return wrk.format("POST", prefix .. "/Users", nil, (create_template:gsub("@NAME@", name)))
end

function change_user()
  local id = user_ids[math.random(1, #user_ids)]
  local n = math.random(1, 1000000)
  local body = patch_op
    .. '{"op":"Replace","path":"title","value":"Title ' .. n .. '"},'
    .. '{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Dept ' .. n .. '"},'
    .. '{"op":"Replace","path":"displayName","value":"Bench User ' .. n .. '"}]}'
  return wrk.format("PATCH", prefix .. "/Users/" .. id, nil, body)
end

function add_member()
  local group = group_ids[math.random(1, #group_ids)]
  local member = user_ids[math.random(1, #user_ids)]
  local body = patch_op .. '{"op":"Add","path":"members","value":[{"$ref":null,"value":"' .. member .. '"}]}]}'
  return wrk.format("PATCH", prefix .. "/Groups/" .. group, nil, body)
end
