// librados asynchronous operations resolved as JS promises.
//
// An AioOp owns a librados completion and a promise. The JS thread copies the arguments into the
// op and queues its submission on the Submitter thread; librados calls OnComplete on one of its
// own threads; the op is then queued back to the JS thread through the AioDispatcher (a
// thread-safe function), where Settle() resolves or rejects the promise and the op is deleted.
// The JS thread never calls into librados for these operations, so it never waits for Ceph.
#pragma once

#include <napi.h>
#include <rados/librados.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "ceph_addon/errors.h"
#include "inflight.h"
#include "submitter.h"

namespace radosjs {

using ceph_addon::CallSite;
using ceph_addon::ErrnoError;

class AioOp;

class AioDispatcher {
 public:
  // JS thread, once per environment.
  void Init(Napi::Env env);
  // Any thread: hands a completed op to the JS thread.
  void Post(AioOp* op);
  // JS thread: the dispatcher keeps the event loop alive only while ops are pending.
  void OpStarted(Napi::Env env);
  void OpFinished(Napi::Env env);

 private:
  static void CallJs(Napi::Env env, Napi::Function unused, std::nullptr_t* context, AioOp* op);
  using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, AioOp, CallJs>;
  Tsfn tsfn_;
  size_t pending_ = 0;
};

class AioOp {
 public:
  // How the op finishes: through a librados completion, or as soon as the submit call returns
  // (for calls with no completion, such as rados_notify_ack, which only queue a message).
  enum class Completion { kLibrados, kOnSubmit };

  // JS thread. `hold` keeps the handles the op uses open until it is settled.
  AioOp(Napi::Env env, CallSite where, InflightHold hold,
        Completion completion = Completion::kLibrados);
  virtual ~AioOp();
  AioOp(const AioOp&) = delete;
  AioOp& operator=(const AioOp&) = delete;

  rados_completion_t completion() const { return completion_; }

  // JS thread: queues `submit` on the Submitter thread and returns the op's promise; the op must
  // not be touched by the caller afterwards. `submit` runs on that thread: it may only use data
  // owned by the op or captured by value, and returns the librados submit call's result. A
  // negative result means librados never queued the op; it is then rejected with that error.
  // With Completion::kOnSubmit the op settles with that result either way.
  Napi::Promise Submit(Napi::Env env, std::function<int()> submit);

 protected:
  // JS thread: resolve or reject `deferred_` given librados' return value `rc`.
  virtual void Settle(Napi::Env env, int rc) = 0;
  void RejectErrno(Napi::Env env, int rc);

  Napi::Promise::Deferred deferred_;
  CallSite where_;

 private:
  friend class AioDispatcher;
  static void OnComplete(rados_completion_t c, void* arg);

  InflightHold hold_;
  AioDispatcher* dispatcher_;
  std::shared_ptr<Submitter> submitter_;
  rados_completion_t completion_ = nullptr;
  int rc_ = 0;
};

}  // namespace radosjs
