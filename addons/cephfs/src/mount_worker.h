// mount(options) -> Promise<{ handle, fscid }>: creates a libcephfs client
// (own connection or on a rados-js handle), selects the filesystem and mounts
// it, all on a libuv worker thread.
#pragma once

#include <napi.h>

namespace cephfs_js {

Napi::Value Mount(const Napi::CallbackInfo& info);

}  // namespace cephfs_js
