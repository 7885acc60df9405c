-- Argo CD health of a mirror.cephfs.io object (CephFSMirror, MirrorPeer, MirroredDirectory), from
-- the conditions the operator writes (docs/gitops.md):
--   Healthy      Ready=True, observed at the current generation (and, for a CephFSMirror, not
--                Degraded=True: directories tracked but no live daemon, or some stalled)
--   Progressing  no status yet, a generation not yet observed, being deleted, or Reconciling=True
--                with reason Progressing (an ordinary step: associating, waiting for the mirror)
--   Degraded     Stalled=True (the spec, a Secret or a person must act), or Reconciling=True with
--                reason ProgressingWithRetry (an error the operator keeps retrying)
-- Argo CD runs this with Lua 5.1 and without the os and io libraries; `obj` is the object.
local hs = {}

local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(c)
  local reason = c.reason or ""
  local message = c.message or ""
  if message == "" or message == reason then
    return reason
  end
  return reason .. ": " .. message
end

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "being deleted"
  local ready = condition("Ready")
  if ready ~= nil and ready.status ~= "True" then
    hs.message = "being deleted: " .. describe(ready)
  end
  return hs
end

local ready = condition("Ready")
if ready == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to report a status"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
local observed = obj.status.observedGeneration
if ready.observedGeneration ~= nil and (observed == nil or ready.observedGeneration < observed) then
  observed = ready.observedGeneration
end
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local stalled = condition("Stalled")
if isTrue(stalled) then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

if ready.status == "True" then
  local degraded = condition("Degraded")
  if isTrue(degraded) then
    hs.status = "Degraded"
    hs.message = describe(degraded)
    return hs
  end
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end

local reconciling = condition("Reconciling")
if isTrue(reconciling) then
  if reconciling.reason == "ProgressingWithRetry" then
    hs.status = "Degraded"
  else
    hs.status = "Progressing"
  end
  hs.message = describe(ready)
  return hs
end

-- Ready=False without Reconciling or Stalled (an operator older than those conditions):
-- Unknown is still on its way, False is a problem.
if ready.status == "Unknown" then
  hs.status = "Progressing"
else
  hs.status = "Degraded"
end
hs.message = describe(ready)
return hs
