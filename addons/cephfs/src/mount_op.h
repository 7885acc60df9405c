// One libcephfs call (or a short sequence) run on a libuv worker thread
// against a mount, settling a Promise on the JS thread.
#pragma once

#include <napi.h>

#include <cerrno>
#include <functional>
#include <string>
#include <utility>

#include "ceph_addon/errors.h"
#include "mount_state.h"

namespace cephfs_js {

// Where a failure happened, for the error message; filled in by `run`: the
// libcephfs function that failed and the path (and attribute/snapshot name) it
// was given.
using OpFailure = ceph_addon::CallSite;

// R is whatever `run` produces on the worker thread and `toJs` converts on
// the JS thread. `run` returns 0 or a negative errno.
template <typename R>
class MountOp : public Napi::AsyncWorker {
 public:
  using Run = std::function<int(ceph_mount_info*, R&, OpFailure&)>;
  using ToJs = std::function<Napi::Value(Napi::Env, R&)>;

  MountOp(Napi::Env env, MountRef mount, OpFailure where, Run run, ToJs toJs)
      : Napi::AsyncWorker(env, "cephfs.op"),
        deferred_(Napi::Promise::Deferred::New(env)),
        admission_(std::move(mount)),
        where_(std::move(where)),
        run_(std::move(run)),
        toJs_(std::move(toJs)) {}

  // Queues the work and returns its Promise.
  static Napi::Promise Start(Napi::Env env, MountRef mount, OpFailure where, Run run, ToJs toJs) {
    auto* op =
        new MountOp(env, std::move(mount), std::move(where), std::move(run), std::move(toJs));
    Napi::Promise promise = op->deferred_.Promise();
    op->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    // Admitted work keeps the mount state alive and holds off close() until
    // it has run; work made after close() was refused at admission.
    if (!admission_.admitted()) {
      closed_ = true;
      return;
    }
    int rc = run_(admission_.cmount(), result_, where_);
    if (rc < 0) err_ = -rc;
  }

  void OnOK() override {
    Napi::Env env = Env();
    admission_.Release(env);
    if (closed_) {
      deferred_.Reject(
          ceph_addon::ErrnoError(env, ENOTCONN, where_, "the CephFS mount is closed").Value());
    } else if (err_ != 0) {
      deferred_.Reject(ceph_addon::ErrnoError(env, err_, where_).Value());
    } else {
      deferred_.Resolve(toJs_(env, result_));
    }
  }

  void OnError(const Napi::Error& error) override {
    admission_.Release(Env());
    deferred_.Reject(error.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Admission admission_;
  OpFailure where_;
  Run run_;
  ToJs toJs_;
  R result_{};
  bool closed_ = false;
  int err_ = 0;
};

struct NoResult {};

inline Napi::Value Undefined(Napi::Env env, NoResult&) { return env.Undefined(); }

}  // namespace cephfs_js
