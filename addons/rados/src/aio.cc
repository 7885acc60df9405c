#include "aio.h"

#include "addon_data.h"

namespace radosjs {

void AioDispatcher::Init(Napi::Env env) {
  tsfn_ = Tsfn::New(env, "rados-js aio", 0, 1);
  // Idle until an op is pending: an open connection alone must not keep the process running.
  tsfn_.Unref(env);
}

void AioDispatcher::Post(AioOp* op) {
  // Unlimited queue: NonBlockingCall only fails once the environment is closing, when the op is
  // deliberately leaked (its promise can no longer be settled anyway).
  tsfn_.NonBlockingCall(op);
}

void AioDispatcher::OpStarted(Napi::Env env) {
  if (pending_++ == 0) tsfn_.Ref(env);
}

void AioDispatcher::OpFinished(Napi::Env env) {
  if (--pending_ == 0) tsfn_.Unref(env);
}

void AioDispatcher::CallJs(Napi::Env env, Napi::Function, std::nullptr_t*, AioOp* op) {
  if (env == nullptr || op == nullptr) return;  // environment teardown
  try {
    op->Settle(env, op->rc_);
  } catch (const Napi::Error& e) {
    op->deferred_.Reject(e.Value());
  }
  delete op;
}

AioOp::AioOp(Napi::Env env, CallSite where, InflightHold hold, Completion completion)
    : deferred_(Napi::Promise::Deferred::New(env)),
      where_(std::move(where)),
      hold_(std::move(hold)),
      dispatcher_(&GetAddonData(env).dispatcher),
      submitter_(GetAddonData(env).submitter) {
  if (completion == Completion::kLibrados) {
    int r = rados_aio_create_completion2(this, &AioOp::OnComplete, &completion_);
    if (r < 0)
      throw ErrnoError(env, r, where_, "create completion: " + ceph_addon::ErrnoDescription(r));
  }
  dispatcher_->OpStarted(env);
}

AioOp::~AioOp() {
  if (completion_ != nullptr) rados_aio_release(completion_);
  dispatcher_->OpFinished(deferred_.Env());
}

Napi::Promise AioOp::Submit(Napi::Env, std::function<int()> submit) {
  Napi::Promise promise = deferred_.Promise();
  // Decided here: once a librados submit call succeeds, the completion owns the op (it may be
  // settled and freed before submit() even returns), so the job must not read the op after it.
  const bool settleOnSubmit = completion_ == nullptr;
  submitter_->Push([this, settleOnSubmit, submit = std::move(submit)] {
    const int r = submit();
    if (r < 0 || settleOnSubmit) {
      rc_ = r;
      dispatcher_->Post(this);
    }
  });
  return promise;
}

void AioOp::RejectErrno(Napi::Env env, int rc) {
  deferred_.Reject(ErrnoError(env, rc, where_).Value());
}

void AioOp::OnComplete(rados_completion_t c, void* arg) {
  auto* op = static_cast<AioOp*>(arg);
  op->rc_ = rados_aio_get_return_value(c);
  op->dispatcher_->Post(op);
}

}  // namespace radosjs
