#include "watch.h"

#include "ceph_addon/errors.h"

namespace radosjs {

WatchCtx::WatchCtx(Napi::Env env, Napi::Function callback)
    // Referenced (the default): an active watch keeps the event loop alive, like a listening
    // socket, until it is unwatched.
    : tsfn_(Tsfn::New(env, callback, "rados-js watch", 0, 1)) {}

void WatchCtx::Destroy() { tsfn_.Release(); }

void WatchCtx::Post(WatchEvent* event) {
  if (tsfn_.NonBlockingCall(event) != napi_ok) delete event;
}

void WatchCtx::OnNotify(void* arg, uint64_t notifyId, uint64_t cookie, uint64_t notifierId,
                        void* data, size_t len) {
  auto* event = new WatchEvent();
  event->notifyId = notifyId;
  event->cookie = cookie;
  event->notifierId = notifierId;
  // `data` is only valid during this callback.
  if (data != nullptr && len > 0) event->payload.assign(static_cast<const char*>(data), len);
  static_cast<WatchCtx*>(arg)->Post(event);
}

void WatchCtx::OnError(void* arg, uint64_t cookie, int err) {
  auto* event = new WatchEvent();
  event->isError = true;
  event->cookie = cookie;
  event->err = err;
  static_cast<WatchCtx*>(arg)->Post(event);
}

void WatchCtx::CallJs(Napi::Env env, Napi::Function callback, std::nullptr_t*, WatchEvent* event) {
  if (env == nullptr || callback.IsEmpty()) {
    delete event;
    return;
  }
  Napi::Object value = Napi::Object::New(env);
  value.Set("cookie", Napi::BigInt::New(env, event->cookie));
  if (event->isError) {
    const int e = event->err < 0 ? -event->err : event->err;
    value.Set("type", "error");
    value.Set("errno", Napi::Number::New(env, e));
    value.Set("code", Napi::String::New(env, ceph_addon::ErrnoName(e)));
  } else {
    value.Set("type", "notify");
    value.Set("notifyId", Napi::BigInt::New(env, event->notifyId));
    value.Set("notifierId", Napi::BigInt::New(env, event->notifierId));
    value.Set("payload",
              Napi::Buffer<char>::Copy(env, event->payload.data(), event->payload.size()));
  }
  delete event;
  try {
    callback.Call({value});
  } catch (const Napi::Error& e) {
    // Surface it like an exception thrown from any event callback (uncaughtException).
    e.ThrowAsJavaScriptException();
  }
}

}  // namespace radosjs
