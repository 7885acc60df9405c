-- Runs an Argo CD health script the way Argo CD does: Lua 5.1, the object as the global `obj`,
-- no os/io/require (only the libraries Argo CD opens), JSON nulls as nil. Usage:
--   lua5.1 argocd-health-harness.lua <health.lua> < object.json   → {"status":..,"message":..}
local cjson = require("cjson")

local function withoutNulls(v)
  if v == cjson.null then
    return nil
  end
  if type(v) == "table" then
    local out = {}
    for k, x in pairs(v) do
      out[k] = withoutNulls(x)
    end
    return out
  end
  return v
end

local obj = withoutNulls(cjson.decode(io.read("*a")))
local script = assert(loadfile(arg[1]))
local sandbox = {
  obj = obj,
  ipairs = ipairs, pairs = pairs, next = next, select = select, type = type,
  tostring = tostring, tonumber = tonumber, error = error, pcall = pcall, unpack = unpack,
  string = string, table = table, math = math,
}
setfenv(script, sandbox)
local hs = script()
assert(type(hs) == "table", "the script returns a table")
io.write(cjson.encode({ status = hs.status, message = hs.message }))
