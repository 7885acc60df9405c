// Argument checks for strings handed to C APIs: libcephfs takes C strings, so
// an embedded NUL would silently cut a path short.
#pragma once

#include <napi.h>

#include <string>

namespace cephfs_js {

inline std::string RequiredString(const Napi::Value& value, const char* what) {
  if (!value.IsString()) {
    throw Napi::TypeError::New(value.Env(), std::string(what) +
                                                " must be a string");
  }
  std::string text = value.As<Napi::String>().Utf8Value();
  if (text.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(value.Env(), std::string(what) +
                                                " must not contain NUL bytes");
  }
  return text;
}

inline std::string OptionalString(const Napi::Value& value, const char* what) {
  if (value.IsUndefined() || value.IsNull()) return std::string();
  return RequiredString(value, what);
}

}  // namespace cephfs_js
