#include "mount_worker.h"

#include <cephfs/libcephfs.h>

#include <string>
#include <utility>
#include <vector>

#include "ceph_addon/args.h"
#include "ceph_addon/errors.h"
#include "mount_state.h"

namespace cephfs_js {

using ceph_addon::ErrnoError;
using ceph_addon::OptionalStringArg;
using ceph_addon::StringArg;

namespace {

struct MountOptions {
  std::string fsName;
  // Own connection: client id (empty = "admin"), an optional ceph.conf and
  // settings applied after it, in order.
  std::string clientId;
  std::string confPath;
  std::vector<std::pair<std::string, std::string>> conf;
  // Borrowed rados_t from rados-js; the JS side keeps it pinned.
  void* rados = nullptr;
};

class MountWorker : public Napi::AsyncWorker {
 public:
  MountWorker(Napi::Env env, MountOptions options)
      : Napi::AsyncWorker(env, "cephfs.mount"),
        deferred_(Napi::Promise::Deferred::New(env)),
        options_(std::move(options)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    ceph_mount_info* mount = nullptr;
    if (options_.rados != nullptr) {
      if (!Step("ceph_create_from_rados", ceph_create_from_rados(&mount, options_.rados))) {
        return;
      }
    } else {
      const char* id = options_.clientId.empty() ? nullptr : options_.clientId.c_str();
      if (!Step("ceph_create", ceph_create(&mount, id))) return;
      if (!options_.confPath.empty() &&
          !Step("ceph_conf_read_file", ceph_conf_read_file(mount, options_.confPath.c_str()))) {
        return Abandon(mount);
      }
      for (const auto& [name, value] : options_.conf) {
        if (!Step("ceph_conf_set", ceph_conf_set(mount, name.c_str(), value.c_str()))) {
          subject_ = name;
          return Abandon(mount);
        }
      }
    }
    if (!Step("ceph_select_filesystem", ceph_select_filesystem(mount, options_.fsName.c_str())) ||
        !Step("ceph_mount", ceph_mount(mount, "/"))) {
      return Abandon(mount);
    }
    int64_t fscid = ceph_get_fs_cid(mount);
    if (!Step("ceph_get_fs_cid", fscid < 0 ? static_cast<int>(fscid) : 0)) {
      return Abandon(mount);
    }
    fscid_ = fscid;
    state_ = std::make_shared<MountState>(mount, options_.rados != nullptr);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      deferred_.Reject(ErrnoError(env, err_, {call_, subject_}).Value());
      return;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("handle", WrapMount(env, state_));
    result.Set("fscid", Napi::Number::New(env, static_cast<double>(fscid_)));
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  // Records the first failing step; returns whether `rc` was a success.
  bool Step(const char* call, int rc) {
    if (rc >= 0) return true;
    err_ = -rc;
    call_ = call;
    subject_ = options_.fsName;
    return false;
  }

  static void Abandon(ceph_mount_info* mount) { ceph_shutdown(mount); }

  Napi::Promise::Deferred deferred_;
  MountOptions options_;
  int err_ = 0;
  std::string call_;
  std::string subject_;
  int64_t fscid_ = -1;
  MountRef state_;
};

}  // namespace

Napi::Value Mount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) {
    throw Napi::TypeError::New(env, "mount: options object expected");
  }
  Napi::Object raw = info[0].As<Napi::Object>();
  MountOptions options;
  options.fsName = StringArg(raw.Get("fsName"), "fsName");
  options.clientId = OptionalStringArg(raw.Get("clientId"), "clientId");
  options.confPath = OptionalStringArg(raw.Get("confPath"), "confPath");
  Napi::Value conf = raw.Get("conf");
  if (!conf.IsUndefined()) {
    if (!conf.IsArray()) {
      throw Napi::TypeError::New(env, "conf must be an array of [name, value]");
    }
    Napi::Array pairs = conf.As<Napi::Array>();
    for (uint32_t i = 0; i < pairs.Length(); i++) {
      Napi::Value pair = pairs.Get(i);
      if (!pair.IsArray() || pair.As<Napi::Array>().Length() != 2) {
        throw Napi::TypeError::New(env, "conf entries must be [name, value]");
      }
      options.conf.emplace_back(StringArg(pair.As<Napi::Array>().Get(0u), "conf name"),
                                StringArg(pair.As<Napi::Array>().Get(1u), "conf value"));
    }
  }
  Napi::Value rados = raw.Get("radosHandle");
  if (!rados.IsUndefined()) {
    if (!rados.IsExternal() || rados.As<Napi::External<void>>().Data() == nullptr) {
      throw Napi::TypeError::New(env,
                                 "radosHandle must be the External from acquireNativeHandle()");
    }
    options.rados = rados.As<Napi::External<void>>().Data();
  }
  auto* worker = new MountWorker(env, std::move(options));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace cephfs_js
