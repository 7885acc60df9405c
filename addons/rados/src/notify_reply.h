// Decoding of the reply buffer of rados_notify2 / rados_aio_notify.
//
// Layout (librados.h, and the OSD's encoding of map<pair<gid,cookie>, bufferlist> followed by
// list<pair<gid,cookie>>), all little-endian:
//   u32 num_acks, then per ack: u64 gid, u64 cookie, u32 len, len bytes of payload
//   u32 num_timeouts, then per timeout: u64 gid, u64 cookie
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace radosjs {

struct NotifyAck {
  uint64_t gid;
  uint64_t cookie;
  std::string payload;
};

struct NotifyTimeout {
  uint64_t gid;
  uint64_t cookie;
};

struct NotifyReply {
  std::vector<NotifyAck> acks;
  std::vector<NotifyTimeout> timeouts;
};

// False if the buffer is truncated or has trailing garbage. An empty buffer is an empty reply.
bool DecodeNotifyReply(const char* data, size_t len, NotifyReply* out);

}  // namespace radosjs
