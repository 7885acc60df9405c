#include "notify_reply.h"

namespace radosjs {

namespace {

class Reader {
 public:
  Reader(const char* data, size_t len) : data_(reinterpret_cast<const uint8_t*>(data)), len_(len) {}
  bool AtEnd() const { return pos_ == len_; }
  bool U32(uint32_t* v) { return Little(v, 4); }
  bool U64(uint64_t* v) { return Little(v, 8); }
  bool Bytes(size_t n, std::string* out) {
    if (len_ - pos_ < n) return false;
    out->assign(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return true;
  }

 private:
  template <typename T>
  bool Little(T* v, size_t n) {
    if (len_ - pos_ < n) return false;
    T value = 0;
    for (size_t i = 0; i < n; ++i) value |= static_cast<T>(data_[pos_ + i]) << (8 * i);
    pos_ += n;
    *v = value;
    return true;
  }
  const uint8_t* data_;
  size_t len_;
  size_t pos_ = 0;
};

}  // namespace

bool DecodeNotifyReply(const char* data, size_t len, NotifyReply* out) {
  if (data == nullptr || len == 0) return true;
  Reader r(data, len);
  uint32_t numAcks = 0;
  if (!r.U32(&numAcks)) return false;
  for (uint32_t i = 0; i < numAcks; ++i) {
    NotifyAck ack{};
    uint32_t payloadLen = 0;
    if (!r.U64(&ack.gid) || !r.U64(&ack.cookie) || !r.U32(&payloadLen) ||
        !r.Bytes(payloadLen, &ack.payload)) {
      return false;
    }
    out->acks.push_back(std::move(ack));
  }
  // Very old OSDs sent no timeout list; treat its absence as "none timed out".
  if (r.AtEnd()) return true;
  uint32_t numTimeouts = 0;
  if (!r.U32(&numTimeouts)) return false;
  for (uint32_t i = 0; i < numTimeouts; ++i) {
    NotifyTimeout t{};
    if (!r.U64(&t.gid) || !r.U64(&t.cookie)) return false;
    out->timeouts.push_back(t);
  }
  return r.AtEnd();
}

}  // namespace radosjs
