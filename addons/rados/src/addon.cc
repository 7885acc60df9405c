// Entry point of the rados-js addon: registers RadosHandle and IoCtxHandle. The TypeScript
// layer (lib/) shapes these into the public API.
#include <napi.h>

#include "addon_data.h"
#include "ioctx_handle.h"
#include "rados_handle.h"

namespace radosjs {

static void MarkTearingDown(void* arg) { static_cast<AddonData*>(arg)->tearingDown = true; }

Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  // Registered after the environment's own finalization hook, so it runs before it.
  napi_add_env_cleanup_hook(env, MarkTearingDown, data);
  data->dispatcher.Init(env);
  Napi::Function ioctx = IoCtxHandle::Init(env);
  data->ioctxConstructor = Napi::Persistent(ioctx);
  exports.Set("RadosHandle", RadosHandle::Init(env));
  exports.Set("IoCtxHandle", ioctx);
  return exports;
}

}  // namespace radosjs

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  return radosjs::InitAddon(env, exports);
}

NODE_API_MODULE(rados, Init)
