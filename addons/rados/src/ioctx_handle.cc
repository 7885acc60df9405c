#include "ioctx_handle.h"

#include <errno.h>
#include <sys/time.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "addon_data.h"
#include "aio.h"
#include "ceph_addon/args.h"
#include "ceph_addon/errors.h"
#include "notify_reply.h"
#include "rados_handle.h"
#include "watch.h"
#include "worker.h"

namespace radosjs {

using ceph_addon::BigIntArg;
using ceph_addon::BufferArg;
using ceph_addon::NumberArg;
using ceph_addon::OptionalStringArg;
using ceph_addon::StringArg;

namespace {

// ---------------------------------------------------------------------------------------------
// Aio operations

// A write op (object create, omap set/remove, guarded by asserts) that resolves to the object's
// user version after the write: the version a later op asserts to detect any write in between.
class WriteOp : public AioOp {
 public:
  WriteOp(Napi::Env env, CallSite where, InflightHold hold)
      : AioOp(env, std::move(where), std::move(hold)), op_(rados_create_write_op()) {}
  ~WriteOp() override { rados_release_write_op(op_); }
  rados_write_op_t op() const { return op_; }
  // Inputs of the class-method calls in the op: librados keeps pointers to them until it is sent.
  std::vector<std::string> execInputs;
  std::vector<std::string> execNames;

 protected:
  void Settle(Napi::Env env, int rc) override {
    if (rc < 0) {
      RejectErrno(env, rc);
    } else {
      deferred_.Resolve(Napi::BigInt::New(env, rados_aio_get_version(completion())));
    }
  }

 private:
  rados_write_op_t op_;
};

class RemoveOp : public AioOp {
 public:
  using AioOp::AioOp;

 protected:
  void Settle(Napi::Env env, int rc) override {
    if (rc < 0) {
      RejectErrno(env, rc);
    } else {
      deferred_.Resolve(env.Undefined());
    }
  }
};

class StatOp : public AioOp {
 public:
  using AioOp::AioOp;
  uint64_t size = 0;
  time_t mtime = 0;

 protected:
  void Settle(Napi::Env env, int rc) override {
    if (rc < 0) {
      RejectErrno(env, rc);
      return;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("size", Napi::Number::New(env, static_cast<double>(size)));
    result.Set("mtime", Napi::Date::New(env, static_cast<double>(mtime) * 1000.0));
    deferred_.Resolve(result);
  }
};

class OmapReadOp : public AioOp {
 public:
  OmapReadOp(Napi::Env env, CallSite where, InflightHold hold)
      : AioOp(env, std::move(where), std::move(hold)), op_(rados_create_read_op()) {}
  ~OmapReadOp() override {
    if (iter != nullptr) rados_omap_get_end(iter);
    rados_release_read_op(op_);
  }
  rados_read_op_t op() const { return op_; }
  // Written by librados when the op completes.
  rados_omap_iter_t iter = nullptr;
  unsigned char more = 0;
  int prval = 0;

 protected:
  void Settle(Napi::Env env, int rc) override {
    if (rc >= 0 && prval < 0) rc = prval;
    if (rc < 0) {
      RejectErrno(env, rc);
      return;
    }
    Napi::Array entries = Napi::Array::New(env);
    uint32_t n = 0;
    while (iter != nullptr) {
      char* key = nullptr;
      char* val = nullptr;
      size_t keyLen = 0;
      size_t valLen = 0;
      int r = rados_omap_get_next2(iter, &key, &val, &keyLen, &valLen);
      if (r < 0) {
        RejectErrno(env, r);
        return;
      }
      if (key == nullptr) break;  // end of the page
      Napi::Array entry = Napi::Array::New(env, 2);
      entry.Set(0u, Napi::String::New(env, key, keyLen));
      entry.Set(1u, Napi::Buffer<char>::Copy(env, val != nullptr ? val : "", valLen));
      entries.Set(n++, entry);
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("entries", entries);
    result.Set("more", Napi::Boolean::New(env, more != 0));
    // The object's user version when this page was read: pages of one listing with the same
    // version saw the same omap.
    result.Set("version", Napi::BigInt::New(env, rados_aio_get_version(completion())));
    deferred_.Resolve(result);
  }

 private:
  rados_read_op_t op_;
};

class NotifyOp : public AioOp {
 public:
  NotifyOp(Napi::Env env, CallSite where, InflightHold hold, std::string payload)
      : AioOp(env, std::move(where), std::move(hold)), payload(std::move(payload)) {}
  ~NotifyOp() override {
    if (reply != nullptr) rados_buffer_free(reply);
  }
  std::string payload;
  // Written by librados when the op completes (also on ETIMEDOUT).
  char* reply = nullptr;
  size_t replyLen = 0;

 protected:
  // ETIMEDOUT is a result, not a failure: some watchers did not ack in time, and the reply
  // still lists who acked and who timed out. Callers get rc to tell the two apart.
  void Settle(Napi::Env env, int rc) override {
    if (rc < 0 && rc != -ETIMEDOUT) {
      RejectErrno(env, rc);
      return;
    }
    NotifyReply decoded;
    if (!DecodeNotifyReply(reply, replyLen, &decoded)) {
      deferred_.Reject(ErrnoError(env, EBADMSG, where_, "malformed notify reply").Value());
      return;
    }
    Napi::Array acks = Napi::Array::New(env, decoded.acks.size());
    for (size_t i = 0; i < decoded.acks.size(); ++i) {
      const NotifyAck& a = decoded.acks[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("gid", Napi::BigInt::New(env, a.gid));
      o.Set("cookie", Napi::BigInt::New(env, a.cookie));
      o.Set("payload", Napi::Buffer<char>::Copy(env, a.payload.data(), a.payload.size()));
      acks.Set(static_cast<uint32_t>(i), o);
    }
    Napi::Array timeouts = Napi::Array::New(env, decoded.timeouts.size());
    for (size_t i = 0; i < decoded.timeouts.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("gid", Napi::BigInt::New(env, decoded.timeouts[i].gid));
      o.Set("cookie", Napi::BigInt::New(env, decoded.timeouts[i].cookie));
      timeouts.Set(static_cast<uint32_t>(i), o);
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("rc", Napi::Number::New(env, rc));
    result.Set("acks", acks);
    result.Set("timeouts", timeouts);
    deferred_.Resolve(result);
  }
};

// A notify ack: librados only queues it to the OSD, with no completion to wait for.
class AckOp : public AioOp {
 public:
  AckOp(Napi::Env env, CallSite where, InflightHold hold)
      : AioOp(env, std::move(where), std::move(hold), Completion::kOnSubmit) {}

 protected:
  void Settle(Napi::Env env, int rc) override {
    if (rc < 0) {
      RejectErrno(env, rc);
    } else {
      deferred_.Resolve(env.Undefined());
    }
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Workers

class WatchWorker : public PromiseWorker {
 public:
  WatchWorker(Napi::Env env, IoCtxHandle* owner, std::string oid, WatchCtx* ctx,
              uint32_t timeoutSeconds)
      : PromiseWorker(env, CallSite{"watch", oid}),
        owner_(owner),
        io_(owner->io_),
        oid_(std::move(oid)),
        ctx_(ctx),
        timeoutSeconds_(timeoutSeconds) {}
  void Execute() override {
    int r = rados_watch3(io_, oid_.c_str(), &cookie_, &WatchCtx::OnNotify, &WatchCtx::OnError,
                         timeoutSeconds_, ctx_);
    if (r < 0) {
      Fail(r);
    } else {
      registered_ = true;
    }
  }
  void Finished(Napi::Env) override {
    if (ctx_ == nullptr) return;
    if (registered_) {
      owner_->WatchAdded(cookie_, ctx_);
    } else {
      // librados cancels a watch that failed to register: no callback can use ctx_ any more.
      ctx_->Destroy();
      delete ctx_;
    }
    ctx_ = nullptr;
  }
  Napi::Value Result(Napi::Env env) override { return Napi::BigInt::New(env, cookie_); }

 private:
  IoCtxHandle* owner_;
  rados_ioctx_t io_;
  std::string oid_;
  WatchCtx* ctx_;
  uint32_t timeoutSeconds_;
  uint64_t cookie_ = 0;
  bool registered_ = false;  // written by Execute, read on the JS thread after it
};

class UnwatchWorker : public PromiseWorker {
 public:
  UnwatchWorker(Napi::Env env, IoCtxHandle* owner, rados_t cluster, WatchCtx* ctx)
      : PromiseWorker(env, CallSite{"unwatch"}),
        owner_(owner),
        io_(owner->io_),
        cluster_(cluster),
        ctx_(ctx) {}
  void Execute() override {
    // A failure to tell the OSD (e.g. the watch already broke) is not reported: the local watch
    // is gone either way, and the OSD drops a dead watch after its timeout.
    rados_unwatch2(io_, ctx_->cookie);
    // Callbacks already queued in librados must finish before the context is freed.
    rados_watch_flush(cluster_);
  }
  void Finished(Napi::Env) override {
    ctx_->Destroy();
    delete ctx_;
    owner_->Unref();  // the reference the watch held
  }

 private:
  IoCtxHandle* owner_;
  rados_ioctx_t io_;
  rados_t cluster_;
  WatchCtx* ctx_;
};

class CloseWorker : public PromiseWorker {
 public:
  CloseWorker(Napi::Env env, IoCtxHandle* owner, rados_t cluster, std::vector<WatchCtx*> watches)
      : PromiseWorker(env, CallSite{"close"}),
        owner_(owner),
        io_(owner->io_),
        cluster_(cluster),
        watches_(std::move(watches)) {}
  void Execute() override {
    for (WatchCtx* w : watches_) rados_unwatch2(io_, w->cookie);
    if (!watches_.empty()) rados_watch_flush(cluster_);
    rados_ioctx_destroy(io_);
  }
  void Finished(Napi::Env env) override {
    for (WatchCtx* w : watches_) {
      w->Destroy();
      delete w;
    }
    owner_->io_ = nullptr;
    owner_->state_ = IoCtxHandle::State::kClosed;
    owner_->rados_->ForgetIoCtx(owner_);
    owner_->radosRef_.Reset();
    auto waiters = std::move(owner_->closeWaiters_);
    owner_->closeWaiters_.clear();
    for (auto& d : waiters) d.Resolve(env.Undefined());
  }

 private:
  IoCtxHandle* owner_;
  rados_ioctx_t io_;
  rados_t cluster_;
  std::vector<WatchCtx*> watches_;
};

// Advisory locks (cls_lock) have no aio form in the C API: these run on the thread pool.
class LockWorker : public PromiseWorker {
 public:
  enum class Kind { kLockExclusive, kUnlock, kBreak };
  LockWorker(Napi::Env env, rados_ioctx_t io, Kind kind, std::string oid, std::string name,
             std::string cookie, std::string descOrClient, uint64_t durationMs, uint8_t flags)
      : PromiseWorker(env, CallSite{"lock", oid}),
        io_(io),
        kind_(kind),
        oid_(std::move(oid)),
        name_(std::move(name)),
        cookie_(std::move(cookie)),
        extra_(std::move(descOrClient)),
        durationMs_(durationMs),
        flags_(flags) {}
  void Execute() override {
    int r = 0;
    switch (kind_) {
      case Kind::kLockExclusive: {
        struct timeval tv = {static_cast<time_t>(durationMs_ / 1000),
                             static_cast<suseconds_t>((durationMs_ % 1000) * 1000)};
        r = rados_lock_exclusive(io_, oid_.c_str(), name_.c_str(), cookie_.c_str(), extra_.c_str(),
                                 durationMs_ > 0 ? &tv : nullptr, flags_);
        break;
      }
      case Kind::kUnlock:
        r = rados_unlock(io_, oid_.c_str(), name_.c_str(), cookie_.c_str());
        break;
      case Kind::kBreak:
        r = rados_break_lock(io_, oid_.c_str(), name_.c_str(), extra_.c_str(), cookie_.c_str());
        break;
    }
    if (r < 0) Fail(r);
  }

 private:
  rados_ioctx_t io_;
  Kind kind_;
  std::string oid_, name_, cookie_, extra_;
  uint64_t durationMs_;
  uint8_t flags_;
};

class ListLockersWorker : public PromiseWorker {
 public:
  ListLockersWorker(Napi::Env env, rados_ioctx_t io, std::string oid, std::string name)
      : PromiseWorker(env, CallSite{"listLockers", oid}),
        io_(io),
        oid_(std::move(oid)),
        name_(std::move(name)) {}
  void Execute() override {
    // Sizes grow until they fit (the call says -ERANGE and writes the sizes it needs).
    size_t tagLen = 256, clientsLen = 1024, cookiesLen = 1024, addrsLen = 1024;
    for (int attempt = 0; attempt < 8; ++attempt) {
      tag_.assign(tagLen, '\0');
      clients_.assign(clientsLen, '\0');
      cookies_.assign(cookiesLen, '\0');
      addrs_.assign(addrsLen, '\0');
      ssize_t n = rados_list_lockers(io_, oid_.c_str(), name_.c_str(), &exclusive_, tag_.data(),
                                     &tagLen, clients_.data(), &clientsLen, cookies_.data(),
                                     &cookiesLen, addrs_.data(), &addrsLen);
      if (n == -ERANGE) continue;
      if (n < 0) {
        Fail(static_cast<int>(n));
        return;
      }
      count_ = static_cast<size_t>(n);
      tag_.resize(tagLen);
      clients_.resize(clientsLen);
      cookies_.resize(cookiesLen);
      addrs_.resize(addrsLen);
      return;
    }
    Fail(-ERANGE, "locker list keeps growing");
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    result.Set("exclusive", Napi::Boolean::New(env, exclusive_ != 0));
    result.Set("tag", Napi::String::New(env, tag_.c_str()));
    Napi::Array lockers = Napi::Array::New(env, count_);
    // Each list is count_ NUL-terminated strings back to back.
    const char* c = clients_.data();
    const char* k = cookies_.data();
    const char* a = addrs_.data();
    for (size_t i = 0; i < count_; ++i) {
      Napi::Object l = Napi::Object::New(env);
      l.Set("client", Napi::String::New(env, c));
      l.Set("cookie", Napi::String::New(env, k));
      l.Set("addr", Napi::String::New(env, a));
      lockers.Set(static_cast<uint32_t>(i), l);
      c += strlen(c) + 1;
      k += strlen(k) + 1;
      a += strlen(a) + 1;
    }
    result.Set("lockers", lockers);
    return result;
  }

 private:
  rados_ioctx_t io_;
  std::string oid_, name_;
  int exclusive_ = 0;
  size_t count_ = 0;
  std::string tag_, clients_, cookies_, addrs_;
};

// ---------------------------------------------------------------------------------------------
// IoCtxHandle

Napi::Function IoCtxHandle::Init(Napi::Env env) {
  return DefineClass(env, "IoCtxHandle",
                     {
                         InstanceMethod<&IoCtxHandle::CreateObject>("createObject"),
                         InstanceMethod<&IoCtxHandle::Stat>("stat"),
                         InstanceMethod<&IoCtxHandle::Remove>("remove"),
                         InstanceMethod<&IoCtxHandle::OmapGetVals>("omapGetVals"),
                         InstanceMethod<&IoCtxHandle::OmapWrite>("omapWrite"),
                         InstanceMethod<&IoCtxHandle::Notify>("notify"),
                         InstanceMethod<&IoCtxHandle::Watch>("watch"),
                         InstanceMethod<&IoCtxHandle::Unwatch>("unwatch"),
                         InstanceMethod<&IoCtxHandle::NotifyAck>("notifyAck"),
                         InstanceMethod<&IoCtxHandle::Close>("close"),
                         InstanceMethod<&IoCtxHandle::PoolId>("poolId"),
                         InstanceMethod<&IoCtxHandle::LockExclusive>("lockExclusive"),
                         InstanceMethod<&IoCtxHandle::Unlock>("unlock"),
                         InstanceMethod<&IoCtxHandle::BreakLock>("breakLock"),
                         InstanceMethod<&IoCtxHandle::ListLockers>("listLockers"),
                     });
}

IoCtxHandle::IoCtxHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IoCtxHandle>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[1].IsExternal()) {
    throw Napi::TypeError::New(env, "IoCtxHandle is created by RadosHandle.openIoCtx()");
  }
  rados_ = RadosHandle::Unwrap(info[0].As<Napi::Object>());
  if (rados_ == nullptr) throw Napi::TypeError::New(env, "not a RadosHandle");
  io_ = static_cast<rados_ioctx_t>(info[1].As<Napi::External<void>>().Data());
  poolId_ = info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : -1;
  radosRef_ = Napi::Persistent(info[0].As<Napi::Object>());
  rados_->AddIoCtx(this);
}

IoCtxHandle::~IoCtxHandle() {
  if (GetAddonData(Env()).tearingDown) return;  // process exit: leave librados alone
  // Collected while open: nothing in flight and no watch (both keep this object alive), so
  // destroying the ioctx does not wait for anything.
  if (state_ == State::kOpen && io_ != nullptr) {
    rados_ioctx_destroy(io_);
    rados_->ForgetIoCtx(this);
  }
}

void IoCtxHandle::CheckUsable(Napi::Env env, const char* operation) const {
  switch (state_) {
    case State::kOpen:
      rados_->CheckUsable(env, operation);
      return;
    case State::kClosedByShutdown:
      throw ErrnoError(env, ESHUTDOWN, {operation}, "the Rados handle of this IoCtx is shut down");
    default:
      throw ErrnoError(env, EBADF, {operation}, "the IoCtx is closed");
  }
}

void IoCtxHandle::OpStarted() {
  if (inflight_++ == 0) Ref();
}

void IoCtxHandle::OpFinished() {
  if (--inflight_ == 0) {
    if (state_ == State::kClosing && !closeStarted_) StartClose(Env());
    Unref();
  }
}

void IoCtxHandle::WatchAdded(uint64_t cookie, WatchCtx* ctx) {
  ctx->cookie = cookie;
  watches_[cookie] = ctx;
  Ref();  // an active watch keeps this object (and its ioctx) alive
}

IoCtxHandle::Detached IoCtxHandle::DetachForShutdown() {
  Detached d{io_, {}};
  for (auto& [cookie, ctx] : watches_) {
    d.watches.push_back(ctx);
    Unref();
  }
  watches_.clear();
  io_ = nullptr;
  state_ = State::kClosedByShutdown;
  radosRef_.Reset();
  auto waiters = std::move(closeWaiters_);
  closeWaiters_.clear();
  for (auto& w : waiters) w.Resolve(Env().Undefined());
  return d;
}

void IoCtxHandle::StartClose(Napi::Env env) {
  closeStarted_ = true;
  std::vector<WatchCtx*> watches;
  for (auto& [cookie, ctx] : watches_) watches.push_back(ctx);
  watches_.clear();
  const size_t watchCount = watches.size();
  auto* worker = new CloseWorker(env, this, rados_->cluster(), std::move(watches));
  worker->SetHold(InflightHold(rados_));
  worker->KeepAlive(Value());
  // The references the watches held are now covered by the worker's KeepAlive.
  for (size_t i = 0; i < watchCount; ++i) Unref();
  worker->Start();  // settles closeWaiters_
}

Napi::Value IoCtxHandle::CreateObject(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string oid = StringArg(info, 0, "oid");
  const bool exclusive = info[1].ToBoolean().Value();
  CheckUsable(env, "createObject");
  auto* op = new WriteOp(env, CallSite{"createObject", oid}, InflightHold(rados_, this));
  return op->Submit(env, [op, io = io_, oid = std::move(oid), exclusive] {
    rados_write_op_create(
        op->op(), exclusive ? LIBRADOS_CREATE_EXCLUSIVE : LIBRADOS_CREATE_IDEMPOTENT, nullptr);
    return rados_aio_write_op_operate(op->op(), io, op->completion(), oid.c_str(), nullptr, 0);
  });
}

Napi::Value IoCtxHandle::Stat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string oid = StringArg(info, 0, "oid");
  CheckUsable(env, "stat");
  auto* op = new StatOp(env, CallSite{"stat", oid}, InflightHold(rados_, this));
  return op->Submit(env, [op, io = io_, oid = std::move(oid)] {
    return rados_aio_stat(io, oid.c_str(), op->completion(), &op->size, &op->mtime);
  });
}

Napi::Value IoCtxHandle::Remove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string oid = StringArg(info, 0, "oid");
  CheckUsable(env, "remove");
  auto* op = new RemoveOp(env, CallSite{"remove", oid}, InflightHold(rados_, this));
  return op->Submit(env, [op, io = io_, oid = std::move(oid)] {
    return rados_aio_remove(io, oid.c_str(), op->completion());
  });
}

Napi::Value IoCtxHandle::OmapGetVals(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string oid = StringArg(info, 0, "oid");
  std::string startAfter = OptionalStringArg(info, 1, "startAfter");
  std::string prefix = OptionalStringArg(info, 2, "prefix");
  const double max = NumberArg(info, 3, "max");
  if (!(max >= 1)) throw Napi::RangeError::New(env, "max must be >= 1");
  CheckUsable(env, "omapGetVals");
  auto* op = new OmapReadOp(env, CallSite{"omapGetVals", oid}, InflightHold(rados_, this));
  return op->Submit(env, [op, io = io_, oid = std::move(oid), startAfter = std::move(startAfter),
                          prefix = std::move(prefix), max = static_cast<uint64_t>(max)] {
    // librados copies start_after and the prefix into the op.
    rados_read_op_omap_get_vals2(op->op(), startAfter.c_str(), prefix.c_str(), max, &op->iter,
                                 &op->more, &op->prval);
    return rados_aio_read_op_operate(op->op(), io, op->completion(), oid.c_str(), 0);
  });
}

namespace {

// Copies array[i], which must be a string, as UTF-8. One Node-API call for the usual short key.
bool CopyString(napi_env env, napi_value array, uint32_t i, std::string* out) {
  napi_value v;
  if (napi_get_element(env, array, i, &v) != napi_ok) return false;
  char small[256];
  size_t length = 0;
  if (napi_get_value_string_utf8(env, v, small, sizeof(small), &length) != napi_ok) return false;
  // Node never splits a character, so a truncated copy ends within 4 bytes of the limit.
  if (length + 4 < sizeof(small) - 1) {
    out->assign(small, length);
    return true;
  }
  // Possibly truncated: ask for the length, then copy.
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &length) != napi_ok) return false;
  out->resize(length + 1);
  if (napi_get_value_string_utf8(env, v, out->data(), length + 1, &length) != napi_ok) return false;
  out->resize(length);
  return true;
}

// Keys (or values) as the pointer and length arrays the librados omap calls take.
struct Spans {
  explicit Spans(const std::vector<std::string>& items) {
    ptrs.reserve(items.size());
    lens.reserve(items.size());
    for (const auto& item : items) {
      ptrs.push_back(item.data());
      lens.push_back(item.size());
    }
  }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
};

}  // namespace

Napi::Value IoCtxHandle::OmapWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string oid = StringArg(info, 0, "oid");
  if (!info[1].IsArray() || !info[2].IsArray() || !info[3].IsArray()) {
    throw Napi::TypeError::New(env, "omapWrite(oid, setKeys[], setValues[], removeKeys[])");
  }
  Napi::Array setKeys = info[1].As<Napi::Array>();
  Napi::Array setValues = info[2].As<Napi::Array>();
  Napi::Array removeKeys = info[3].As<Napi::Array>();
  if (setKeys.Length() != setValues.Length()) {
    throw Napi::TypeError::New(env, "setKeys and setValues differ in length");
  }
  // Copied here (plain memory copies); encoding them into the op happens on the Submitter thread.
  // This loop is the only per-entry work on the JS thread, so it uses the raw Node-API calls.
  std::vector<std::string> keys(setKeys.Length());
  std::vector<std::string> values(setKeys.Length());
  for (uint32_t i = 0; i < keys.size(); ++i) {
    if (!CopyString(env, setKeys, i, &keys[i])) {
      throw Napi::TypeError::New(env, "omap keys must be strings");
    }
    napi_value v;
    void* data = nullptr;
    size_t length = 0;
    if (napi_get_element(env, setValues, i, &v) != napi_ok ||
        napi_get_buffer_info(env, v, &data, &length) != napi_ok) {
      throw Napi::TypeError::New(env, "omap values must be Buffers");
    }
    values[i].assign(static_cast<const char*>(data), length);
  }
  std::vector<std::string> rmKeys(removeKeys.Length());
  for (uint32_t i = 0; i < rmKeys.size(); ++i) {
    if (!CopyString(env, removeKeys, i, &rmKeys[i])) {
      throw Napi::TypeError::New(env, "keys to remove must be strings");
    }
  }
  // Optional guards, evaluated by the OSD before the writes of the same op: each class method
  // (e.g. lock.assert_locked) must succeed and the object's user version must equal
  // `assertVersion`; otherwise nothing of the op is applied.
  const bool hasVersion = info.Length() > 4 && !info[4].IsUndefined();
  const uint64_t assertVersion = hasVersion ? BigIntArg(info, 4, "assertVersion") : 0;
  CheckUsable(env, "omapWrite");
  auto* op = new WriteOp(env, CallSite{"omapWrite", oid}, InflightHold(rados_, this));
  if (info.Length() > 5 && !info[5].IsUndefined()) {
    if (!info[5].IsArray()) {
      delete op;
      throw Napi::TypeError::New(env, "exec must be an array of [class, method, input]");
    }
    Napi::Array calls = info[5].As<Napi::Array>();
    for (uint32_t i = 0; i < calls.Length(); ++i) {
      Napi::Value c = calls.Get(i);
      Napi::Array call = c.IsArray() ? c.As<Napi::Array>() : Napi::Array::New(env);
      if (call.Length() != 3 || !call.Get(0u).IsString() || !call.Get(1u).IsString() ||
          !call.Get(2u).IsBuffer()) {
        delete op;
        throw Napi::TypeError::New(env, "exec entries are [class, method, input Buffer]");
      }
      auto input = call.Get(2u).As<Napi::Buffer<char>>();
      try {
        // Handed to rados_write_op_exec as C strings.
        op->execNames.push_back(StringArg(call.Get(0u), "exec class"));
        op->execNames.push_back(StringArg(call.Get(1u), "exec method"));
      } catch (...) {
        delete op;
        throw;
      }
      op->execInputs.emplace_back(input.Data(), input.Length());
    }
  }
  return op->Submit(env, [op, io = io_, oid = std::move(oid), keys = std::move(keys),
                          values = std::move(values), rmKeys = std::move(rmKeys), hasVersion,
                          assertVersion] {
    // The OSD runs the parts of an op in order and stops at the first failure: class methods
    // (a lock check) first, so that a lost lock is reported as such even when the lock's new
    // holder has also changed the version.
    for (size_t i = 0; i < op->execInputs.size(); ++i) {
      rados_write_op_exec(op->op(), op->execNames[2 * i].c_str(), op->execNames[2 * i + 1].c_str(),
                          op->execInputs[i].data(), op->execInputs[i].size(), nullptr);
    }
    if (hasVersion) rados_write_op_assert_version(op->op(), assertVersion);
    // Sets first, then removals, in one atomic op. Both calls copy what they are given.
    if (!keys.empty()) {
      Spans k(keys);
      Spans v(values);
      rados_write_op_omap_set2(op->op(), k.ptrs.data(), v.ptrs.data(), k.lens.data(), v.lens.data(),
                               keys.size());
    }
    if (!rmKeys.empty()) {
      Spans k(rmKeys);
      rados_write_op_omap_rm_keys2(op->op(), k.ptrs.data(), k.lens.data(), rmKeys.size());
    }
    return rados_aio_write_op_operate(op->op(), io, op->completion(), oid.c_str(), nullptr, 0);
  });
}

Napi::Value IoCtxHandle::Notify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string oid = StringArg(info, 0, "oid");
  std::string payload = BufferArg(info, 1, "payload");
  const double timeoutMs = NumberArg(info, 2, "timeoutMs");
  if (!(timeoutMs >= 1)) throw Napi::RangeError::New(env, "timeoutMs must be >= 1");
  CheckUsable(env, "notify");
  auto* op =
      new NotifyOp(env, CallSite{"notify", oid}, InflightHold(rados_, this), std::move(payload));
  return op->Submit(
      env, [op, io = io_, oid = std::move(oid), timeout = static_cast<uint64_t>(timeoutMs)] {
        return rados_aio_notify(io, oid.c_str(), op->completion(), op->payload.data(),
                                static_cast<int>(op->payload.size()), timeout, &op->reply,
                                &op->replyLen);
      });
}

Napi::Value IoCtxHandle::Watch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string oid = StringArg(info, 0, "oid");
  if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "callback must be a function");
  const double timeoutSeconds = info[2].IsUndefined() ? 0 : NumberArg(info, 2, "timeoutSeconds");
  CheckUsable(env, "watch");
  auto* ctx = new WatchCtx(env, info[1].As<Napi::Function>());
  auto* worker =
      new WatchWorker(env, this, std::move(oid), ctx, static_cast<uint32_t>(timeoutSeconds));
  worker->SetHold(InflightHold(rados_, this));
  return worker->Start();
}

Napi::Value IoCtxHandle::Unwatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint64_t cookie = BigIntArg(info, 0, "cookie");
  if (state_ != State::kOpen) {
    // A closed ioctx (or a shut-down Rados) already removed all its watches.
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(env.Undefined());
    return d.Promise();
  }
  auto it = watches_.find(cookie);
  if (it == watches_.end()) throw ErrnoError(env, ENOENT, {"unwatch"}, "no such watch");
  WatchCtx* ctx = it->second;
  watches_.erase(it);
  auto* worker = new UnwatchWorker(env, this, rados_->cluster(), ctx);
  worker->SetHold(InflightHold(rados_, this));
  return worker->Start();
}

Napi::Value IoCtxHandle::NotifyAck(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string oid = StringArg(info, 0, "oid");
  const uint64_t notifyId = BigIntArg(info, 1, "notifyId");
  const uint64_t cookie = BigIntArg(info, 2, "cookie");
  std::string payload = BufferArg(info, 3, "payload");
  CheckUsable(env, "notifyAck");
  // rados_notify_ack does not wait for the OSD, but it is an Objecter op like any other: it
  // takes the inflight-ops budget (and may block for it), so it goes through the Submitter too,
  // in order with the other operations.
  auto* op = new AckOp(env, CallSite{"notifyAck", oid}, InflightHold(rados_, this));
  return op->Submit(
      env, [io = io_, oid = std::move(oid), notifyId, cookie, payload = std::move(payload)] {
        return rados_notify_ack(io, oid.c_str(), notifyId, cookie,
                                payload.empty() ? nullptr : payload.data(),
                                static_cast<int>(payload.size()));
      });
}

Napi::Value IoCtxHandle::LockExclusive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string oid = StringArg(info, 0, "oid");
  std::string name = StringArg(info, 1, "name");
  std::string cookie = StringArg(info, 2, "cookie");
  std::string desc = StringArg(info, 3, "description");
  const double durationMs = NumberArg(info, 4, "durationMs");
  const double flags = NumberArg(info, 5, "flags");
  if (!(durationMs >= 0) || !(flags >= 0 && flags <= 255)) {
    throw Napi::RangeError::New(env, "durationMs >= 0 and flags 0..255");
  }
  CheckUsable(env, "lockExclusive");
  auto* worker = new LockWorker(env, io_, LockWorker::Kind::kLockExclusive, std::move(oid),
                                std::move(name), std::move(cookie), std::move(desc),
                                static_cast<uint64_t>(durationMs), static_cast<uint8_t>(flags));
  worker->SetHold(InflightHold(rados_, this));
  return worker->Start();
}

Napi::Value IoCtxHandle::Unlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string oid = StringArg(info, 0, "oid");
  std::string name = StringArg(info, 1, "name");
  std::string cookie = StringArg(info, 2, "cookie");
  CheckUsable(env, "unlock");
  auto* worker = new LockWorker(env, io_, LockWorker::Kind::kUnlock, std::move(oid),
                                std::move(name), std::move(cookie), "", 0, 0);
  worker->SetHold(InflightHold(rados_, this));
  return worker->Start();
}

Napi::Value IoCtxHandle::BreakLock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string oid = StringArg(info, 0, "oid");
  std::string name = StringArg(info, 1, "name");
  std::string client = StringArg(info, 2, "client");
  std::string cookie = StringArg(info, 3, "cookie");
  CheckUsable(env, "breakLock");
  auto* worker = new LockWorker(env, io_, LockWorker::Kind::kBreak, std::move(oid), std::move(name),
                                std::move(cookie), std::move(client), 0, 0);
  worker->SetHold(InflightHold(rados_, this));
  return worker->Start();
}

Napi::Value IoCtxHandle::ListLockers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string oid = StringArg(info, 0, "oid");
  std::string name = StringArg(info, 1, "name");
  CheckUsable(env, "listLockers");
  auto* worker = new ListLockersWorker(env, io_, std::move(oid), std::move(name));
  worker->SetHold(InflightHold(rados_, this));
  return worker->Start();
}

Napi::Value IoCtxHandle::PoolId(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(poolId_));
}

Napi::Value IoCtxHandle::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto d = Napi::Promise::Deferred::New(env);
  switch (state_) {
    case State::kClosed:
    case State::kClosedByShutdown:
      d.Resolve(env.Undefined());
      return d.Promise();
    case State::kClosing:
      closeWaiters_.push_back(d);
      return d.Promise();
    case State::kOpen:
      break;
  }
  state_ = State::kClosing;
  closeWaiters_.push_back(d);
  if (inflight_ == 0) StartClose(env);
  return d.Promise();
}

}  // namespace radosjs
