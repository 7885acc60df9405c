// Argument checks for the native methods. The TypeScript layer validates first; these only
// stop a malformed call from reaching librados.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace radosjs {

inline std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

inline std::string OptionalStringArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info[i].IsUndefined() || info[i].IsNull()) return "";
  return StringArg(info, i, name);
}

inline double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

inline uint64_t BigIntArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsBigInt()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a bigint");
  bool lossless = true;
  uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw Napi::RangeError::New(info.Env(), std::string(name) + " is out of range");
  return v;
}

// Copies a Buffer argument (or nothing for undefined/null) into a std::string.
inline std::string BufferArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info[i].IsUndefined() || info[i].IsNull()) return "";
  if (!info[i].IsBuffer()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a Buffer");
  auto buf = info[i].As<Napi::Buffer<char>>();
  return std::string(buf.Data(), buf.Length());
}

}  // namespace radosjs
