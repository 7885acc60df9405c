// Per-environment state of the addon (one per Node.js environment that loads it).
#pragma once

#include <napi.h>

#include <memory>

#include "aio.h"
#include "submitter.h"

namespace radosjs {

struct AddonData {
  // Constructor of IoCtxHandle, so RadosHandle can create one when an ioctx opens.
  Napi::FunctionReference ioctxConstructor;
  // Carries librados aio completions from librados threads back to the JS thread.
  AioDispatcher dispatcher;
  // Hands aio operations to librados off the JS thread.
  std::shared_ptr<Submitter> submitter = Submitter::Start();
  // Set by an environment cleanup hook: while the environment is being torn down, object
  // finalizers run in no particular order, so they must not touch each other or librados.
  bool tearingDown = false;

  ~AddonData() { submitter->Stop(); }
};

inline AddonData& GetAddonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace radosjs
