#include "rados_handle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "addon_data.h"
#include "ceph_addon/args.h"
#include "ceph_addon/errors.h"
#include "ioctx_handle.h"
#include "watch.h"
#include "worker.h"

namespace radosjs {

using ceph_addon::BufferArg;
using ceph_addon::NumberArg;
using ceph_addon::OptionalStringArg;
using ceph_addon::StringArg;

// ---------------------------------------------------------------------------------------------
// InflightHold

InflightHold::InflightHold(RadosHandle* rados, IoCtxHandle* ioctx) : rados_(rados), ioctx_(ioctx) {
  rados_->OpStarted();
  if (ioctx_ != nullptr) ioctx_->OpStarted();
}

InflightHold::InflightHold(InflightHold&& other) noexcept
    : rados_(other.rados_), ioctx_(other.ioctx_) {
  other.rados_ = nullptr;
  other.ioctx_ = nullptr;
}

InflightHold::~InflightHold() {
  // The ioctx first: finishing its last op may start its close, which takes its own hold on the
  // Rados handle before this one is dropped, so a pending shutdown keeps waiting for the close.
  if (ioctx_ != nullptr) ioctx_->OpFinished();
  if (rados_ != nullptr) rados_->OpFinished();
}

// ---------------------------------------------------------------------------------------------
// Workers

class ConnectWorker : public PromiseWorker {
 public:
  ConnectWorker(Napi::Env env, RadosHandle* owner, std::string confPath, std::string clientId,
                std::vector<std::pair<std::string, std::string>> settings)
      : PromiseWorker(env, CallSite{"connect"}),
        owner_(owner),
        confPath_(std::move(confPath)),
        clientId_(std::move(clientId)),
        settings_(std::move(settings)) {}

  void Execute() override {
    rados_t c = nullptr;
    int r = rados_create(&c, clientId_.empty() ? nullptr : clientId_.c_str());
    if (r < 0) {
      Fail(r, "rados_create");
      return;
    }
    if (!confPath_.empty()) {
      r = rados_conf_read_file(c, confPath_.c_str());
      if (r < 0) {
        rados_shutdown(c);
        Fail(r, "reading " + confPath_);
        return;
      }
    }
    for (const auto& [name, value] : settings_) {
      r = rados_conf_set(c, name.c_str(), value.c_str());
      if (r < 0) {
        rados_shutdown(c);
        Fail(r, "setting " + name);
        return;
      }
    }
    r = rados_connect(c);
    if (r < 0) {
      rados_shutdown(c);
      Fail(r, "rados_connect");
      return;
    }
    cluster_ = c;
  }

  void Finished(Napi::Env) override {
    if (cluster_ != nullptr) {
      owner_->cluster_ = cluster_;
      owner_->state_ = RadosHandle::State::kConnected;
    } else {
      owner_->state_ = RadosHandle::State::kFailed;
    }
  }

 private:
  RadosHandle* owner_;
  std::string confPath_;
  std::string clientId_;
  std::vector<std::pair<std::string, std::string>> settings_;
  rados_t cluster_ = nullptr;
};

// Where a command goes: the monitors (any one in quorum answers, or forwards), the active mgr,
// or one named monitor (a "tell" command such as `sessions`, which only that monitor can answer).
enum class CommandTarget { kMon, kMgr, kNamedMon };

class CommandWorker : public PromiseWorker {
 public:
  CommandWorker(Napi::Env env, rados_t cluster, CommandTarget target, std::string monName,
                std::string cmd, std::string input)
      : PromiseWorker(env, SiteOf(target, monName)),
        cluster_(cluster),
        target_(target),
        monName_(std::move(monName)),
        cmd_(std::move(cmd)),
        input_(std::move(input)) {}

  void Execute() override {
    const char* cmds[1] = {cmd_.c_str()};
    char* outbuf = nullptr;
    char* outs = nullptr;
    size_t outbufLen = 0;
    size_t outsLen = 0;
    switch (target_) {
      case CommandTarget::kMon:
        rc_ = rados_mon_command(cluster_, cmds, 1, input_.data(), input_.size(), &outbuf,
                                &outbufLen, &outs, &outsLen);
        break;
      case CommandTarget::kMgr:
        rc_ = rados_mgr_command(cluster_, cmds, 1, input_.data(), input_.size(), &outbuf,
                                &outbufLen, &outs, &outsLen);
        break;
      case CommandTarget::kNamedMon:
        // An all-digits name is a rank to librados (MonCommandTarget only lets ranks be digits).
        rc_ = rados_mon_command_target(cluster_, monName_.c_str(), cmds, 1, input_.data(),
                                       input_.size(), &outbuf, &outbufLen, &outs, &outsLen);
        break;
    }
    if (outbuf != nullptr) {
      outbuf_.assign(outbuf, outbufLen);
      rados_buffer_free(outbuf);
    }
    if (outs != nullptr) {
      outs_.assign(outs, outsLen);
      rados_buffer_free(outs);
    }
  }

  // The command's own return code is part of the result, not a rejection: callers read `outs`
  // to learn why a command was refused.
  Napi::Value Result(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    result.Set("rc", Napi::Number::New(env, rc_));
    result.Set("outbuf", Napi::Buffer<char>::Copy(env, outbuf_.data(), outbuf_.size()));
    result.Set("outs", Napi::String::New(env, outs_));
    return result;
  }

 private:
  static CallSite SiteOf(CommandTarget target, const std::string& monName) {
    switch (target) {
      case CommandTarget::kMgr:
        return CallSite{"mgrCommand"};
      case CommandTarget::kNamedMon:
        return CallSite{"monCommandTarget", monName};
      case CommandTarget::kMon:
        break;
    }
    return CallSite{"monCommand"};
  }

  rados_t cluster_;
  CommandTarget target_;
  std::string monName_;
  std::string cmd_;
  std::string input_;
  int rc_ = 0;
  std::string outbuf_;
  std::string outs_;
};

class PoolLookupWorker : public PromiseWorker {
 public:
  PoolLookupWorker(Napi::Env env, rados_t cluster, std::string name)
      : PromiseWorker(env, CallSite{"poolLookup", name}),
        cluster_(cluster),
        name_(std::move(name)) {}
  void Execute() override {
    // May wait for a newer OSD map when the name is unknown, hence off the JS thread.
    int64_t r = rados_pool_lookup(cluster_, name_.c_str());
    if (r < 0) {
      Fail(static_cast<int>(r));
    } else {
      id_ = r;
    }
  }
  Napi::Value Result(Napi::Env env) override {
    return Napi::Number::New(env, static_cast<double>(id_));
  }

 private:
  rados_t cluster_;
  std::string name_;
  int64_t id_ = -1;
};

class PoolReverseLookupWorker : public PromiseWorker {
 public:
  PoolReverseLookupWorker(Napi::Env env, rados_t cluster, int64_t id)
      : PromiseWorker(env, CallSite{"poolReverseLookup", std::to_string(id)}),
        cluster_(cluster),
        id_(id) {}
  void Execute() override {
    for (size_t size = 256; size <= 65536; size *= 4) {
      std::vector<char> buf(size);
      int r = rados_pool_reverse_lookup(cluster_, id_, buf.data(), buf.size());
      if (r == -ERANGE) continue;
      if (r < 0) {
        Fail(r);
        return;
      }
      name_.assign(buf.data(), strnlen(buf.data(), buf.size()));
      return;
    }
    Fail(-ERANGE);
  }
  Napi::Value Result(Napi::Env env) override { return Napi::String::New(env, name_); }

 private:
  rados_t cluster_;
  int64_t id_;
  std::string name_;
};

class OpenIoCtxWorker : public PromiseWorker {
 public:
  OpenIoCtxWorker(Napi::Env env, RadosHandle* owner, rados_t cluster, bool byName, std::string name,
                  int64_t id)
      : PromiseWorker(
            env, byName ? CallSite{"openIoCtx", name} : CallSite{"openIoCtx", std::to_string(id)}),
        owner_(owner),
        cluster_(cluster),
        byName_(byName),
        name_(std::move(name)),
        id_(id) {}
  ~OpenIoCtxWorker() override {
    // Not handed over to an IoCtxHandle (the JS side failed): do not leak it.
    if (io_ != nullptr) rados_ioctx_destroy(io_);
  }
  void Execute() override {
    int r = byName_ ? rados_ioctx_create(cluster_, name_.c_str(), &io_)
                    : rados_ioctx_create2(cluster_, id_, &io_);
    if (r < 0) {
      io_ = nullptr;
      Fail(r);
    }
  }
  Napi::Value Result(Napi::Env env) override {
    const double poolId = static_cast<double>(rados_ioctx_get_id(io_));
    Napi::Object handle = GetAddonData(env).ioctxConstructor.New(
        {owner_->Value(), Napi::External<void>::New(env, io_), Napi::Number::New(env, poolId)});
    io_ = nullptr;  // owned by the IoCtxHandle now
    return handle;
  }

 private:
  RadosHandle* owner_;
  rados_t cluster_;
  bool byName_;
  std::string name_;
  int64_t id_;
  rados_ioctx_t io_ = nullptr;
};

class BlocklistWorker : public PromiseWorker {
 public:
  BlocklistWorker(Napi::Env env, rados_t cluster, std::string addr, uint32_t expire)
      : PromiseWorker(env, CallSite{"blocklistAdd", addr}),
        cluster_(cluster),
        addr_(std::move(addr)),
        expire_(expire) {}
  void Execute() override {
    int r = rados_blocklist_add(cluster_, addr_.data(), expire_);
    if (r < 0) Fail(r);
  }

 private:
  rados_t cluster_;
  std::string addr_;
  uint32_t expire_;
};

class ShutdownWorker : public PromiseWorker {
 public:
  ShutdownWorker(Napi::Env env, RadosHandle* owner, std::vector<IoCtxHandle::Detached> ioctxs)
      : PromiseWorker(env, CallSite{"shutdown"}),
        owner_(owner),
        cluster_(owner->cluster_),
        ioctxs_(std::move(ioctxs)) {}
  void Execute() override {
    bool anyWatch = false;
    for (auto& d : ioctxs_) {
      for (WatchCtx* w : d.watches) {
        rados_unwatch2(d.io, w->cookie);
        anyWatch = true;
      }
    }
    // No watch callback may run once the contexts are destroyed.
    if (anyWatch) rados_watch_flush(cluster_);
    for (auto& d : ioctxs_) rados_ioctx_destroy(d.io);
    rados_shutdown(cluster_);
  }
  void Finished(Napi::Env) override {
    for (auto& d : ioctxs_) {
      for (WatchCtx* w : d.watches) {
        w->Destroy();
        delete w;
      }
    }
    owner_->cluster_ = nullptr;
    owner_->state_ = RadosHandle::State::kShutdown;
    auto waiters = std::move(owner_->shutdownWaiters_);
    owner_->shutdownWaiters_.clear();
    for (auto& d : waiters) d.Resolve(Env().Undefined());
  }

 private:
  RadosHandle* owner_;
  rados_t cluster_;
  std::vector<IoCtxHandle::Detached> ioctxs_;
};

// ---------------------------------------------------------------------------------------------
// RadosHandle

Napi::Function RadosHandle::Init(Napi::Env env) {
  return DefineClass(env, "RadosHandle",
                     {
                         InstanceMethod<&RadosHandle::Connect>("connect"),
                         InstanceMethod<&RadosHandle::Shutdown>("shutdown"),
                         InstanceMethod<&RadosHandle::Fsid>("fsid"),
                         InstanceMethod<&RadosHandle::ConfGet>("confGet"),
                         InstanceMethod<&RadosHandle::InstanceId>("instanceId"),
                         InstanceMethod<&RadosHandle::GetAddrs>("getAddrs"),
                         InstanceMethod<&RadosHandle::MonCommand>("monCommand"),
                         InstanceMethod<&RadosHandle::MgrCommand>("mgrCommand"),
                         InstanceMethod<&RadosHandle::MonCommandTarget>("monCommandTarget"),
                         InstanceMethod<&RadosHandle::PoolLookup>("poolLookup"),
                         InstanceMethod<&RadosHandle::PoolReverseLookup>("poolReverseLookup"),
                         InstanceMethod<&RadosHandle::OpenIoCtx>("openIoCtx"),
                         InstanceMethod<&RadosHandle::BlocklistAdd>("blocklistAdd"),
                         InstanceMethod<&RadosHandle::AcquireNativeHandle>("acquireNativeHandle"),
                         InstanceMethod<&RadosHandle::ReleaseNativeHandle>("releaseNativeHandle"),
                         InstanceMethod<&RadosHandle::GetState>("state"),
                     });
}

RadosHandle::RadosHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RadosHandle>(info) {}

RadosHandle::~RadosHandle() {
  if (GetAddonData(Env()).tearingDown) return;  // process exit: leave librados alone
  // Collected while connected (never shut down). Nothing is in flight and no ioctx is open
  // (both would have kept this object alive), but rados_shutdown() blocks, so not here.
  if (state_ == State::kConnected && cluster_ != nullptr) {
    rados_t c = cluster_;
    std::thread([c] { rados_shutdown(c); }).detach();
  }
}

void RadosHandle::CheckUsable(Napi::Env env, const char* operation) const {
  switch (state_) {
    case State::kConnected:
      return;
    case State::kShuttingDown:
    case State::kShutdown:
      throw ErrnoError(env, ESHUTDOWN, {operation}, "the Rados handle is shut down");
    default:
      throw ErrnoError(env, ENOTCONN, {operation}, "the Rados handle is not connected");
  }
}

void RadosHandle::OpStarted() {
  if (inflight_++ == 0) Ref();
}

void RadosHandle::OpFinished() {
  if (--inflight_ == 0) {
    if (state_ == State::kShuttingDown && !shutdownStarted_) StartShutdown(Env());
    Unref();
  }
}

Napi::Value RadosHandle::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::kNew) {
    throw ErrnoError(env, EISCONN, {"connect"}, "connect may only be called once per handle");
  }
  std::string confPath = OptionalStringArg(info, 0, "confPath");
  std::string clientId = OptionalStringArg(info, 1, "clientId");
  std::vector<std::pair<std::string, std::string>> settings;
  if (!info[2].IsArray()) throw Napi::TypeError::New(env, "settings must be an array");
  Napi::Array list = info[2].As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value entry = list.Get(i);
    if (!entry.IsArray() || entry.As<Napi::Array>().Length() != 2) {
      throw Napi::TypeError::New(env, "settings entries must be [name, value] pairs");
    }
    Napi::Array pair = entry.As<Napi::Array>();
    if (!pair.Get(0u).IsString() || !pair.Get(1u).IsString()) {
      throw Napi::TypeError::New(env, "settings entries must be [string, string]");
    }
    settings.emplace_back(StringArg(pair.Get(0u), "conf name"),
                          StringArg(pair.Get(1u), "conf value"));
  }
  state_ = State::kConnecting;
  auto* worker =
      new ConnectWorker(env, this, std::move(confPath), std::move(clientId), std::move(settings));
  worker->KeepAlive(Value());
  return worker->Start();
}

Napi::Value RadosHandle::Shutdown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  switch (state_) {
    case State::kNew:
    case State::kFailed:
    case State::kShutdown: {
      auto d = Napi::Promise::Deferred::New(env);
      d.Resolve(env.Undefined());
      return d.Promise();
    }
    case State::kConnecting:
      throw ErrnoError(env, EINPROGRESS, {"shutdown"}, "connect is still in progress");
    case State::kShuttingDown:
      break;
    case State::kConnected:
      if (pins_ > 0) {
        throw ErrnoError(env, EBUSY, {"shutdown"},
                         "the native handle is pinned by " + std::to_string(pins_) +
                             " user(s); release it first");
      }
      state_ = State::kShuttingDown;
      break;
  }
  auto d = Napi::Promise::Deferred::New(env);
  shutdownWaiters_.push_back(d);
  if (inflight_ == 0 && !shutdownStarted_) StartShutdown(env);
  return d.Promise();
}

void RadosHandle::StartShutdown(Napi::Env env) {
  shutdownStarted_ = true;
  std::vector<IoCtxHandle::Detached> detached;
  // Copy: DetachForShutdown() removes the ioctx from the set.
  std::vector<IoCtxHandle*> open(ioctxs_.begin(), ioctxs_.end());
  for (IoCtxHandle* io : open) detached.push_back(io->DetachForShutdown());
  ioctxs_.clear();
  auto* worker = new ShutdownWorker(env, this, std::move(detached));
  worker->KeepAlive(Value());
  worker->Start();  // settles shutdownWaiters_ when done
}

Napi::Value RadosHandle::Fsid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckUsable(env, "fsid");
  char buf[128] = {0};
  int r = rados_cluster_fsid(cluster_, buf, sizeof(buf));
  if (r < 0) throw ErrnoError(env, r, {"fsid"});
  return Napi::String::New(env, buf, strnlen(buf, sizeof(buf)));
}

Napi::Value RadosHandle::ConfGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = StringArg(info, 0, "name");
  CheckUsable(env, "confGet");
  for (size_t size = 256; size <= 1 << 20; size *= 4) {
    std::vector<char> buf(size);
    int r = rados_conf_get(cluster_, name.c_str(), buf.data(), buf.size());
    if (r == -ENAMETOOLONG) continue;
    if (r < 0) throw ErrnoError(env, r, CallSite{"confGet", name});
    return Napi::String::New(env, buf.data(), strnlen(buf.data(), buf.size()));
  }
  throw ErrnoError(env, ENAMETOOLONG, CallSite{"confGet", name});
}

Napi::Value RadosHandle::InstanceId(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckUsable(env, "instanceId");
  return Napi::BigInt::New(env, static_cast<uint64_t>(rados_get_instance_id(cluster_)));
}

Napi::Value RadosHandle::GetAddrs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckUsable(env, "getAddrs");
  char* addrs = nullptr;
  int r = rados_getaddrs(cluster_, &addrs);
  if (r < 0) throw ErrnoError(env, r, {"getAddrs"});
  std::string s = addrs != nullptr ? addrs : "";
  free(addrs);  // librados strdup()s it
  return Napi::String::New(env, s);
}

Napi::Value RadosHandle::Command(const Napi::CallbackInfo& info, bool mgr) {
  Napi::Env env = info.Env();
  std::string cmd = StringArg(info, 0, "cmd");
  std::string input = BufferArg(info, 1, "input");
  CheckUsable(env, mgr ? "mgrCommand" : "monCommand");
  auto* worker = new CommandWorker(env, cluster_, mgr ? CommandTarget::kMgr : CommandTarget::kMon,
                                   "", std::move(cmd), std::move(input));
  worker->SetHold(InflightHold(this));
  return worker->Start();
}

Napi::Value RadosHandle::MonCommand(const Napi::CallbackInfo& info) { return Command(info, false); }
Napi::Value RadosHandle::MgrCommand(const Napi::CallbackInfo& info) { return Command(info, true); }

Napi::Value RadosHandle::MonCommandTarget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // A monitor by name, or by rank (a number). rados_mon_command_target reads a name made only of
  // digits as a rank, so such a name is refused: the caller passes the rank instead.
  std::string monName;
  if (info[0].IsNumber()) {
    const double rank = NumberArg(info, 0, "mon");
    if (!(rank >= 0 && rank <= 65535 && rank == static_cast<double>(static_cast<int>(rank)))) {
      throw Napi::RangeError::New(env, "mon rank must be an integer in [0, 65535]");
    }
    monName = std::to_string(static_cast<int>(rank));
  } else {
    monName = StringArg(info, 0, "mon");
    if (monName.empty()) throw Napi::TypeError::New(env, "mon must not be empty");
    if (monName.find_first_not_of("0123456789") == std::string::npos) {
      throw Napi::TypeError::New(
          env, "mon is all digits, which librados reads as a rank: pass a number");
    }
  }
  std::string cmd = StringArg(info, 1, "cmd");
  std::string input = BufferArg(info, 2, "input");
  CheckUsable(env, "monCommandTarget");
  auto* worker = new CommandWorker(env, cluster_, CommandTarget::kNamedMon, std::move(monName),
                                   std::move(cmd), std::move(input));
  worker->SetHold(InflightHold(this));
  return worker->Start();
}

Napi::Value RadosHandle::PoolLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = StringArg(info, 0, "name");
  CheckUsable(env, "poolLookup");
  auto* worker = new PoolLookupWorker(env, cluster_, std::move(name));
  worker->SetHold(InflightHold(this));
  return worker->Start();
}

Napi::Value RadosHandle::PoolReverseLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const double id = NumberArg(info, 0, "poolId");
  CheckUsable(env, "poolReverseLookup");
  auto* worker = new PoolReverseLookupWorker(env, cluster_, static_cast<int64_t>(id));
  worker->SetHold(InflightHold(this));
  return worker->Start();
}

Napi::Value RadosHandle::OpenIoCtx(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool byName = info[0].IsString();
  std::string name = byName ? StringArg(info, 0, "pool") : "";
  int64_t id = byName ? -1 : static_cast<int64_t>(NumberArg(info, 0, "pool"));
  CheckUsable(env, "openIoCtx");
  auto* worker = new OpenIoCtxWorker(env, this, cluster_, byName, std::move(name), id);
  worker->SetHold(InflightHold(this));
  return worker->Start();
}

Napi::Value RadosHandle::BlocklistAdd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string addr = StringArg(info, 0, "addr");
  const double expire = NumberArg(info, 1, "expireSeconds");
  CheckUsable(env, "blocklistAdd");
  auto* worker = new BlocklistWorker(env, cluster_, std::move(addr), static_cast<uint32_t>(expire));
  worker->SetHold(InflightHold(this));
  return worker->Start();
}

Napi::Value RadosHandle::AcquireNativeHandle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckUsable(env, "acquireNativeHandle");
  // Pinned: shutdown() refuses with EBUSY and the object cannot be collected.
  if (pins_++ == 0) Ref();
  return Napi::External<void>::New(env, cluster_);
}

Napi::Value RadosHandle::ReleaseNativeHandle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (pins_ == 0) {
    throw ErrnoError(env, EINVAL, {"releaseNativeHandle"}, "the native handle is not acquired");
  }
  if (--pins_ == 0) Unref();
  return env.Undefined();
}

Napi::Value RadosHandle::GetState(const Napi::CallbackInfo& info) {
  const char* s = "new";
  switch (state_) {
    case State::kNew:
      s = "new";
      break;
    case State::kConnecting:
      s = "connecting";
      break;
    case State::kConnected:
      s = "connected";
      break;
    case State::kShuttingDown:
      s = "shutting-down";
      break;
    case State::kShutdown:
      s = "shutdown";
      break;
    case State::kFailed:
      s = "failed";
      break;
  }
  return Napi::String::New(info.Env(), s);
}

}  // namespace radosjs
