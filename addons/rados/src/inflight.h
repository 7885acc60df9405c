// Keeps a RadosHandle (and optionally an IoCtxHandle) open while an operation uses it.
//
// Creating a hold counts an operation in flight on the handles; destroying it (always on the JS
// thread) uncounts it. A handle with operations in flight is pinned against garbage collection,
// and its shutdown/close waits until the count drops to zero, so librados never sees a handle
// freed under a running call.
#pragma once

namespace radosjs {

class RadosHandle;
class IoCtxHandle;

class InflightHold {
 public:
  explicit InflightHold(RadosHandle* rados, IoCtxHandle* ioctx = nullptr);
  ~InflightHold();
  InflightHold(InflightHold&& other) noexcept;
  InflightHold(const InflightHold&) = delete;
  InflightHold& operator=(const InflightHold&) = delete;
  InflightHold& operator=(InflightHold&&) = delete;

 private:
  RadosHandle* rados_;
  IoCtxHandle* ioctx_;
};

}  // namespace radosjs
