// A dedicated thread that hands asynchronous operations to librados.
//
// Even "asynchronous" librados calls do work on the calling thread: building an omap write op
// copies and encodes every entry (about 1.5 us each), the Objecter computes the placement and
// takes its locks, and when more than objecter_inflight_ops (1024) operations or
// objecter_inflight_op_bytes are in flight, the call blocks until some complete. None of that may
// happen on the JS thread, so ops are queued here, in call order (which keeps the submission order
// of operations on one object), and run one after another.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace radosjs {

class Submitter {
 public:
  // Starts the thread. The thread shares ownership of the queue, so Stop() may detach it.
  static std::shared_ptr<Submitter> Start();
  void Push(std::function<void()> job);
  // Asks the thread to exit after the job it is running; queued jobs are dropped. Does not wait
  // (a job may be blocked in librados' throttle).
  void Stop();

 private:
  void Run();
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
};

}  // namespace radosjs
