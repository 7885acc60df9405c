// A blocking librados call run on the libuv thread pool and settled as a JS promise.
//
// Used for calls that have no aio form in the C API (connect, mon/mgr commands, pool lookups,
// blocklist, watch registration, shutdown). Execute() runs off the JS thread and may only touch
// plain C++ data copied in the constructor; it reports failure with Fail(). Everything else
// (OnOK, Finished, Result, the destructor) runs on the JS thread.
#pragma once

#include <napi.h>

#include <optional>
#include <string>
#include <utility>

#include "ceph_addon/errors.h"
#include "inflight.h"

namespace radosjs {

using ceph_addon::CallSite;
using ceph_addon::ErrnoError;

class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, CallSite where)
      : Napi::AsyncWorker(env, "rados-js"),
        deferred_(Napi::Promise::Deferred::New(env)),
        where_(std::move(where)) {}

  // Keeps the handles open while the call runs (see InflightHold).
  void SetHold(InflightHold hold) { hold_.emplace(std::move(hold)); }
  // Keeps a JS object alive while the call runs.
  void KeepAlive(Napi::Object object) { keepAlive_ = Napi::Persistent(object); }

  // Queues the worker; it deletes itself once settled. Returns the promise.
  Napi::Promise Start() {
    Napi::Promise promise = deferred_.Promise();
    Queue();
    return promise;
  }

 protected:
  // Worker thread: record a failure (negative or positive errno) and, optionally, the step of
  // the call that failed (e.g. "rados_connect"), which the message names before the errno's
  // description.
  void Fail(int r, const std::string& step = "") {
    err_ = r;
    step_ = step;
  }
  // JS thread, before the promise settles, whatever the outcome.
  virtual void Finished(Napi::Env) {}
  // JS thread, on success: the promise's value.
  virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }

 private:
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      Finished(env);
      if (err_ != 0) {
        deferred_.Reject(
            ErrnoError(env, err_, where_,
                       step_.empty() ? "" : step_ + ": " + ceph_addon::ErrnoDescription(err_))
                .Value());
      } else {
        deferred_.Resolve(Result(env));
      }
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    Napi::HandleScope scope(Env());
    try {
      Finished(Env());
    } catch (const Napi::Error&) {
    }
    deferred_.Reject(e.Value());
  }

  Napi::Promise::Deferred deferred_;
  CallSite where_;
  std::string step_;
  int err_ = 0;
  std::optional<InflightHold> hold_;
  Napi::ObjectReference keepAlive_;
};

}  // namespace radosjs
