-- An Entra-like mix: 40 % userName lookups, 20 % creates, 25 % attribute PATCHes (title, the
-- enterprise department by its URN path, displayName), 15 % member adds (Entra's value array).
dofile(os.getenv("WRK_DIR") .. "/common.lua")
request = function()
  local draw = math.random()
  if draw < 0.40 then return lookup() end
  if draw < 0.60 then return create() end
  if draw < 0.85 then return change_user() end
  return add_member()
end
