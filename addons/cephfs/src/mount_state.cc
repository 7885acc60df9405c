#include "mount_state.h"

#include <atomic>
#include <thread>

namespace cephfs_js {

namespace {

// Random tag so that only handles made by this addon are accepted.
constexpr napi_type_tag kMountTag = {0x6a0f5d9b3e2c4a17ULL,
                                     0x8c41b2e7f05d9a63ULL};

std::atomic<bool> envTearingDown{false};

}  // namespace

void MountState::CloseLocked() {
  if (cmount == nullptr) return;
  ceph_mount_info* mount = cmount;
  cmount = nullptr;
  // ceph_release refuses (EISCONN) while still mounted; if unmount failed,
  // ceph_shutdown forces both steps without error reporting.
  if (ceph_unmount(mount) != 0 || ceph_release(mount) != 0) {
    ceph_shutdown(mount);
  }
}

MountState::~MountState() {
  if (cmount == nullptr) return;
  // The JS handle was garbage-collected without close(). Unmounting blocks on
  // the network, so it must not run on the JS thread, and during process exit
  // there is nothing worth cleaning up. A rados-backed mount is leaked: its
  // rados_t may already have been shut down, and touching it could crash.
  if (fromRados || envTearingDown.load()) return;
  ceph_mount_info* mount = cmount;
  cmount = nullptr;
  std::thread([mount] { ceph_shutdown(mount); }).detach();
}

Napi::External<MountRef> WrapMount(Napi::Env env, MountRef mount) {
  auto handle = Napi::External<MountRef>::New(
      env, new MountRef(std::move(mount)),
      [](Napi::Env, MountRef* ref) { delete ref; });
  handle.TypeTag(&kMountTag);
  return handle;
}

MountRef UnwrapMount(const Napi::Value& value) {
  if (!value.IsExternal() ||
      !value.As<Napi::External<MountRef>>().CheckTypeTag(&kMountTag)) {
    throw Napi::TypeError::New(value.Env(), "expected a cephfs mount handle");
  }
  return *value.As<Napi::External<MountRef>>().Data();
}

void RegisterEnvTeardown(Napi::Env env) {
  env.AddCleanupHook([] { envTearingDown.store(true); });
}

}  // namespace cephfs_js
