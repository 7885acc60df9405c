// RadosHandle: the JS object behind `Rados`, owning one librados cluster handle (rados_t).
//
// Life cycle: new -> connecting -> connected -> shutting down -> shut down (or connect failed).
// All state lives on the JS thread; blocking librados calls run in PromiseWorkers and
// asynchronous ones as AioOps, each holding an InflightHold. shutdown() refuses while the raw
// handle is pinned by another addon (EBUSY), then waits for operations in flight, closes the
// ioctxs still open (and their watches), and only then calls rados_shutdown().
#pragma once

#include <napi.h>
#include <rados/librados.h>

#include <cstddef>
#include <set>
#include <vector>

namespace radosjs {

class IoCtxHandle;

class RadosHandle : public Napi::ObjectWrap<RadosHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit RadosHandle(const Napi::CallbackInfo& info);
  ~RadosHandle() override;

  rados_t cluster() const { return cluster_; }
  // Throws a JS error (ESHUTDOWN/ENOTCONN) unless the handle is connected and not shutting down.
  void CheckUsable(Napi::Env env, const char* operation) const;

  // InflightHold bookkeeping (JS thread).
  void OpStarted();
  void OpFinished();
  // IoCtxHandle registration (JS thread).
  void AddIoCtx(IoCtxHandle* ioctx) { ioctxs_.insert(ioctx); }
  void ForgetIoCtx(IoCtxHandle* ioctx) { ioctxs_.erase(ioctx); }

 private:
  enum class State { kNew, kConnecting, kConnected, kShuttingDown, kShutdown, kFailed };

  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value Fsid(const Napi::CallbackInfo& info);
  Napi::Value ConfGet(const Napi::CallbackInfo& info);
  Napi::Value InstanceId(const Napi::CallbackInfo& info);
  Napi::Value GetAddrs(const Napi::CallbackInfo& info);
  Napi::Value MonCommand(const Napi::CallbackInfo& info);
  Napi::Value MgrCommand(const Napi::CallbackInfo& info);
  Napi::Value MonCommandTarget(const Napi::CallbackInfo& info);
  Napi::Value PoolLookup(const Napi::CallbackInfo& info);
  Napi::Value PoolReverseLookup(const Napi::CallbackInfo& info);
  Napi::Value OpenIoCtx(const Napi::CallbackInfo& info);
  Napi::Value BlocklistAdd(const Napi::CallbackInfo& info);
  Napi::Value AcquireNativeHandle(const Napi::CallbackInfo& info);
  Napi::Value ReleaseNativeHandle(const Napi::CallbackInfo& info);
  Napi::Value GetState(const Napi::CallbackInfo& info);

  Napi::Value Command(const Napi::CallbackInfo& info, bool mgr);
  void StartShutdown(Napi::Env env);

  friend class ConnectWorker;
  friend class ShutdownWorker;

  State state_ = State::kNew;
  rados_t cluster_ = nullptr;
  size_t inflight_ = 0;
  size_t pins_ = 0;
  bool shutdownStarted_ = false;
  std::vector<Napi::Promise::Deferred> shutdownWaiters_;
  std::set<IoCtxHandle*> ioctxs_;
};

}  // namespace radosjs
