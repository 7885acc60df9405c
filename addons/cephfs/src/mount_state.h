// The native side of one CephFS mount, shared between the JS handle and every
// piece of work in flight on it.
#pragma once

#include <cephfs/libcephfs.h>
#include <napi.h>

#include <memory>
#include <vector>

namespace cephfs_js {

// Lifecycle: work is admitted on the JS thread and counted until its
// completion callback has run there. close() refuses new work at once; the
// unmount itself is queued only when the count is zero, so every call made
// before close() completes on a live handle, every call made after it is
// refused, and no worker thread ever blocks waiting for another (which could
// starve libuv's small thread pool).
class MountState : public std::enable_shared_from_this<MountState> {
 public:
  MountState(ceph_mount_info* mount, bool viaRados) : cmount_(mount), fromRados_(viaRados) {}
  MountState(const MountState&) = delete;
  MountState& operator=(const MountState&) = delete;
  // Only does anything if the mount was never closed (see mount_state.cc).
  ~MountState();

  // JS thread: counts one piece of work in; false once close() was called.
  bool Admit();
  // JS thread: counts admitted work out, starting a pending close if last.
  void Done(Napi::Env env);
  // JS thread: close(); the Promise settles once unmounted and released.
  Napi::Promise Close(Napi::Env env);

  // Valid for admitted work until its Done().
  ceph_mount_info* cmount() const { return cmount_; }

 private:
  class CloseWorker;
  void StartClose(Napi::Env env);

  // Written only by the close worker, when no work is admitted.
  ceph_mount_info* cmount_;
  // Mounted through ceph_create_from_rados: the rados_t belongs to rados-js
  // and stays pinned (from JS) until this mount is closed.
  bool fromRados_;
  // JS thread only.
  int inFlight_ = 0;
  bool closing_ = false;
  bool closeQueued_ = false;
  bool closed_ = false;
  std::vector<Napi::Promise::Deferred> closeWaiters_;
};

using MountRef = std::shared_ptr<MountState>;

// Holds one admission for the lifetime of a piece of work; JS thread only.
class Admission {
 public:
  explicit Admission(MountRef mount) : mount_(std::move(mount)), admitted_(mount_->Admit()) {}
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  ~Admission() {
    // Work dropped without completing (environment teardown): nothing left
    // to notify, but keep the count honest.
    if (admitted_) mount_->Done(Napi::Env(nullptr));
  }

  bool admitted() const { return admitted_; }
  ceph_mount_info* cmount() const { return mount_->cmount(); }
  void Release(Napi::Env env) {
    if (admitted_) {
      admitted_ = false;
      mount_->Done(env);
    }
  }

 private:
  MountRef mount_;
  bool admitted_;
};

// Wraps a mount into an opaque, type-tagged External for JS.
Napi::External<MountRef> WrapMount(Napi::Env env, MountRef mount);

// Returns the mount behind a handle made by WrapMount, or throws a TypeError.
MountRef UnwrapMount(const Napi::Value& value);

// Called once at module load: stops finalizers from tearing down mounts while
// the environment itself is being destroyed (process exit).
void RegisterEnvTeardown(Napi::Env env);

}  // namespace cephfs_js
