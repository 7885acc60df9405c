#include "mount_state.h"

#include <atomic>
#include <thread>

namespace cephfs_js {

namespace {

// Random tag so that only handles made by this addon are accepted.
constexpr napi_type_tag kMountTag = {0x6a0f5d9b3e2c4a17ULL, 0x8c41b2e7f05d9a63ULL};

std::atomic<bool> envTearingDown{false};

void UnmountAndRelease(ceph_mount_info* mount) {
  // ceph_release refuses (EISCONN) while still mounted; if unmount failed,
  // ceph_shutdown forces both steps without error reporting.
  if (ceph_unmount(mount) != 0 || ceph_release(mount) != 0) {
    ceph_shutdown(mount);
  }
}

}  // namespace

class MountState::CloseWorker : public Napi::AsyncWorker {
 public:
  CloseWorker(Napi::Env env, MountRef mount)
      : Napi::AsyncWorker(env, "cephfs.close"), mount_(std::move(mount)) {}

 protected:
  void Execute() override {
    ceph_mount_info* mount = mount_->cmount_;
    mount_->cmount_ = nullptr;
    if (mount != nullptr) UnmountAndRelease(mount);
  }
  void OnOK() override { Settle(); }
  void OnError(const Napi::Error&) override { Settle(); }

 private:
  // The handle is gone either way; close() always resolves.
  void Settle() {
    mount_->closed_ = true;
    std::vector<Napi::Promise::Deferred> waiters;
    waiters.swap(mount_->closeWaiters_);
    for (auto& waiter : waiters) waiter.Resolve(Env().Undefined());
  }

  MountRef mount_;
};

bool MountState::Admit() {
  if (closing_) return false;
  inFlight_++;
  return true;
}

void MountState::Done(Napi::Env env) {
  inFlight_--;
  if (closing_ && inFlight_ == 0 && !closeQueued_ && env != nullptr) {
    StartClose(env);
  }
}

Napi::Promise MountState::Close(Napi::Env env) {
  auto waiter = Napi::Promise::Deferred::New(env);
  Napi::Promise promise = waiter.Promise();
  if (closed_) {
    waiter.Resolve(env.Undefined());
    return promise;
  }
  closing_ = true;
  closeWaiters_.push_back(std::move(waiter));
  if (inFlight_ == 0 && !closeQueued_) StartClose(env);
  return promise;
}

void MountState::StartClose(Napi::Env env) {
  closeQueued_ = true;
  (new CloseWorker(env, shared_from_this()))->Queue();
}

MountState::~MountState() {
  if (cmount_ == nullptr) return;
  // The JS handle was garbage-collected without close(). Unmounting blocks on
  // the network, so it must not run on the JS thread, and during process exit
  // there is nothing worth cleaning up. A rados-backed mount is leaked: its
  // rados_t may already have been shut down, and touching it could crash.
  if (fromRados_ || envTearingDown.load()) return;
  ceph_mount_info* mount = cmount_;
  std::thread([mount] { UnmountAndRelease(mount); }).detach();
}

Napi::External<MountRef> WrapMount(Napi::Env env, MountRef mount) {
  auto handle = Napi::External<MountRef>::New(env, new MountRef(std::move(mount)),
                                              [](Napi::Env, MountRef* ref) { delete ref; });
  handle.TypeTag(&kMountTag);
  return handle;
}

MountRef UnwrapMount(const Napi::Value& value) {
  if (!value.IsExternal() || !value.As<Napi::External<MountRef>>().CheckTypeTag(&kMountTag)) {
    throw Napi::TypeError::New(value.Env(), "expected a cephfs mount handle");
  }
  return *value.As<Napi::External<MountRef>>().Data();
}

void RegisterEnvTeardown(Napi::Env env) {
  env.AddCleanupHook([] { envTearingDown.store(true); });
}

}  // namespace cephfs_js
