// One registered watch: the bridge from librados' watch callbacks (on librados threads) to a JS
// function (on the JS thread), through a thread-safe function owned by the watch.
//
// The callbacks never block: they copy the event and queue it. The context must stay alive until
// the watch is removed and rados_watch_flush() has returned; only then may Destroy() be called.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace radosjs {

struct WatchEvent {
  bool isError = false;
  uint64_t notifyId = 0;
  uint64_t cookie = 0;
  uint64_t notifierId = 0;
  std::string payload;
  int err = 0;
};

class WatchCtx {
 public:
  // JS thread. `callback` receives one object per event:
  //   { type: 'notify', notifyId: bigint, cookie: bigint, notifierId: bigint, payload: Buffer }
  //   { type: 'error', cookie: bigint, errno: number, code: string }
  WatchCtx(Napi::Env env, Napi::Function callback);
  // Releases the thread-safe function (events already queued are still delivered). Call only
  // after the watch is gone from librados and its callbacks are flushed.
  void Destroy();

  // librados callbacks (rados_watchcb2_t / rados_watcherrcb_t), `arg` is the WatchCtx.
  static void OnNotify(void* arg, uint64_t notifyId, uint64_t cookie, uint64_t notifierId,
                       void* data, size_t len);
  static void OnError(void* arg, uint64_t cookie, int err);

  uint64_t cookie = 0;

 private:
  static void CallJs(Napi::Env env, Napi::Function callback, std::nullptr_t* context,
                     WatchEvent* event);
  using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, WatchEvent, CallJs>;
  void Post(WatchEvent* event);
  Tsfn tsfn_;
};

}  // namespace radosjs
