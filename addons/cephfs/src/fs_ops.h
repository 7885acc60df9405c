// The filesystem operations exported to JS. Each takes the mount handle as its
// first argument and returns a Promise; the blocking libcephfs calls run on
// libuv worker threads.
#pragma once

#include <napi.h>

namespace cephfs_js {

Napi::Value Fscid(const Napi::CallbackInfo& info);
Napi::Value GetXattr(const Napi::CallbackInfo& info);
Napi::Value SetXattr(const Napi::CallbackInfo& info);
Napi::Value RemoveXattr(const Napi::CallbackInfo& info);
Napi::Value Mkdir(const Napi::CallbackInfo& info);
Napi::Value Mkdirs(const Napi::CallbackInfo& info);
Napi::Value Stat(const Napi::CallbackInfo& info);
Napi::Value Readdir(const Napi::CallbackInfo& info);
Napi::Value WriteFile(const Napi::CallbackInfo& info);
Napi::Value ReadFile(const Napi::CallbackInfo& info);
Napi::Value Unlink(const Napi::CallbackInfo& info);
Napi::Value Rmdir(const Napi::CallbackInfo& info);
Napi::Value Mksnap(const Napi::CallbackInfo& info);
Napi::Value Rmsnap(const Napi::CallbackInfo& info);
Napi::Value Close(const Napi::CallbackInfo& info);

}  // namespace cephfs_js
