// IoCtxHandle: the JS object behind `IoCtx`, owning one librados I/O context (rados_ioctx_t)
// and the watches registered through it.
//
// Object I/O uses librados aio (AioOp); watch registration and removal, which have to wait for
// the OSD and for rados_watch_flush(), run in PromiseWorkers. close() waits for the operations
// in flight, removes the watches, then destroys the ioctx. A Rados shutdown closes the ioctxs
// still open (DetachForShutdown).
#pragma once

#include <napi.h>
#include <rados/librados.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

namespace radosjs {

class RadosHandle;
class WatchCtx;

class IoCtxHandle : public Napi::ObjectWrap<IoCtxHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  // Constructed only by RadosHandle: (rados: RadosHandle, io: External, poolId: number).
  explicit IoCtxHandle(const Napi::CallbackInfo& info);
  ~IoCtxHandle() override;

  void OpStarted();
  void OpFinished();

  struct Detached {
    rados_ioctx_t io;
    std::vector<WatchCtx*> watches;
  };
  // JS thread, from the Rados shutdown: hands over the ioctx and its watches; the handle is
  // closed from now on (ESHUTDOWN).
  Detached DetachForShutdown();

 private:
  enum class State { kOpen, kClosing, kClosed, kClosedByShutdown };

  Napi::Value CreateObject(const Napi::CallbackInfo& info);
  Napi::Value Stat(const Napi::CallbackInfo& info);
  Napi::Value Remove(const Napi::CallbackInfo& info);
  Napi::Value OmapGetVals(const Napi::CallbackInfo& info);
  Napi::Value OmapWrite(const Napi::CallbackInfo& info);
  Napi::Value Notify(const Napi::CallbackInfo& info);
  Napi::Value Watch(const Napi::CallbackInfo& info);
  Napi::Value Unwatch(const Napi::CallbackInfo& info);
  Napi::Value NotifyAck(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value PoolId(const Napi::CallbackInfo& info);
  Napi::Value LockExclusive(const Napi::CallbackInfo& info);
  Napi::Value Unlock(const Napi::CallbackInfo& info);
  Napi::Value BreakLock(const Napi::CallbackInfo& info);
  Napi::Value ListLockers(const Napi::CallbackInfo& info);

  // Throws a JS error unless both this ioctx and its Rados handle are usable.
  void CheckUsable(Napi::Env env, const char* operation) const;
  void StartClose(Napi::Env env);
  void WatchAdded(uint64_t cookie, WatchCtx* ctx);

  friend class WatchWorker;
  friend class CloseWorker;
  friend class UnwatchWorker;

  RadosHandle* rados_ = nullptr;
  // Keeps the Rados JS object (and so its cluster handle) alive while this ioctx is open.
  Napi::ObjectReference radosRef_;
  rados_ioctx_t io_ = nullptr;
  int64_t poolId_ = -1;
  State state_ = State::kOpen;
  size_t inflight_ = 0;
  bool closeStarted_ = false;
  std::vector<Napi::Promise::Deferred> closeWaiters_;
  std::map<uint64_t, WatchCtx*> watches_;
};

}  // namespace radosjs
