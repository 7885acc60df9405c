#include "submitter.h"

#include <utility>

namespace radosjs {

std::shared_ptr<Submitter> Submitter::Start() {
  auto submitter = std::make_shared<Submitter>();
  std::thread([submitter] { submitter->Run(); }).detach();
  return submitter;
}

void Submitter::Push(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void Submitter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  wake_.notify_one();
}

void Submitter::Run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

}  // namespace radosjs
