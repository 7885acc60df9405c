// The native side of one CephFS mount, shared between the JS handle and every
// piece of work in flight on it.
#pragma once

#include <cephfs/libcephfs.h>
#include <napi.h>

#include <memory>
#include <shared_mutex>

namespace cephfs_js {

struct MountState {
  // Operations hold this shared while they use `cmount`; closing holds it
  // exclusively, so a close waits for work already running and later work
  // finds `cmount == nullptr` instead of a freed handle.
  std::shared_mutex mu;
  ceph_mount_info* cmount = nullptr;
  // Mounted through ceph_create_from_rados: the rados_t belongs to rados-js
  // and stays pinned (from JS) until this mount is closed.
  bool fromRados = false;

  MountState(ceph_mount_info* mount, bool viaRados)
      : cmount(mount), fromRados(viaRados) {}
  MountState(const MountState&) = delete;
  MountState& operator=(const MountState&) = delete;
  // Only does anything if the mount was never closed (see mount_state.cc).
  ~MountState();

  // Unmounts and releases; idempotent. Caller must hold `mu` exclusively.
  void CloseLocked();
};

using MountRef = std::shared_ptr<MountState>;

// Wraps a mount into an opaque, type-tagged External for JS.
Napi::External<MountRef> WrapMount(Napi::Env env, MountRef mount);

// Returns the mount behind a handle made by WrapMount, or throws a TypeError.
MountRef UnwrapMount(const Napi::Value& value);

// Called once at module load: stops finalizers from tearing down mounts while
// the environment itself is being destroyed (process exit).
void RegisterEnvTeardown(Napi::Env env);

}  // namespace cephfs_js
