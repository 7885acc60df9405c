// Argument checks for the native methods of both addons. The TypeScript layers validate first;
// these stop a malformed call from reaching librados or libcephfs. Strings are handed to the C
// APIs as NUL-terminated char*, so a JS string with an embedded NUL ("/a\0x") would silently
// reach them cut short ("/a"): StringArg refuses it with a TypeError naming the argument.
// (Strings passed with explicit lengths, such as omap keys, are copied by the callers and may
// contain NUL.)
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace ceph_addon {

// A string argument for a C string parameter: TypeError if not a string or if it contains NUL.
inline std::string StringArg(const Napi::Value& value, const char* name) {
  if (!value.IsString()) {
    throw Napi::TypeError::New(value.Env(), std::string(name) + " must be a string");
  }
  std::string text = value.As<Napi::String>().Utf8Value();
  if (text.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(value.Env(), std::string(name) + " must not contain NUL bytes");
  }
  return text;
}

// Same, with undefined and null read as "".
inline std::string OptionalStringArg(const Napi::Value& value, const char* name) {
  if (value.IsUndefined() || value.IsNull()) return std::string();
  return StringArg(value, name);
}

inline std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return StringArg(info[i], name);
}

inline std::string OptionalStringArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return OptionalStringArg(info[i], name);
}

inline double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  }
  return info[i].As<Napi::Number>().DoubleValue();
}

inline uint64_t BigIntArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsBigInt()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a bigint");
  }
  bool lossless = true;
  uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw Napi::RangeError::New(info.Env(), std::string(name) + " is out of range");
  return v;
}

// Copies a Buffer argument (or nothing for undefined/null) into a std::string; bytes, so NUL is
// allowed (the callers pass its length along).
inline std::string BufferArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info[i].IsUndefined() || info[i].IsNull()) return "";
  if (!info[i].IsBuffer()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a Buffer");
  }
  auto buf = info[i].As<Napi::Buffer<char>>();
  return std::string(buf.Data(), buf.Length());
}

}  // namespace ceph_addon
