// Module entry point of cephfs-js: registers the native functions that
// lib/native.ts describes. The typed API lives in lib/cephfs.ts.
#include <napi.h>

#include "fs_ops.h"
#include "mount_state.h"
#include "mount_worker.h"

namespace cephfs_js {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  RegisterEnvTeardown(env);
  exports.Set("mount", Napi::Function::New(env, Mount, "mount"));
  exports.Set("fscid", Napi::Function::New(env, Fscid, "fscid"));
  exports.Set("getxattr", Napi::Function::New(env, GetXattr, "getxattr"));
  exports.Set("setxattr", Napi::Function::New(env, SetXattr, "setxattr"));
  exports.Set("removexattr", Napi::Function::New(env, RemoveXattr, "removexattr"));
  exports.Set("mkdir", Napi::Function::New(env, Mkdir, "mkdir"));
  exports.Set("mkdirs", Napi::Function::New(env, Mkdirs, "mkdirs"));
  exports.Set("stat", Napi::Function::New(env, Stat, "stat"));
  exports.Set("readdir", Napi::Function::New(env, Readdir, "readdir"));
  exports.Set("writeFile", Napi::Function::New(env, WriteFile, "writeFile"));
  exports.Set("readFile", Napi::Function::New(env, ReadFile, "readFile"));
  exports.Set("unlink", Napi::Function::New(env, Unlink, "unlink"));
  exports.Set("rmdir", Napi::Function::New(env, Rmdir, "rmdir"));
  exports.Set("mksnap", Napi::Function::New(env, Mksnap, "mksnap"));
  exports.Set("rmsnap", Napi::Function::New(env, Rmsnap, "rmsnap"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  return exports;
}

}  // namespace cephfs_js

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return cephfs_js::Init(env, exports);
}

NODE_API_MODULE(cephfs, InitModule)
