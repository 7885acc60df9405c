#include "errors.h"

#include <string.h>

namespace radosjs {

std::string ErrnoName(int err) {
  const int e = err < 0 ? -err : err;
  // glibc >= 2.32: thread-safe lookups of the symbolic name and the description.
  const char* name = strerrorname_np(e);
  if (name != nullptr) return name;
  return "E" + std::to_string(e);
}

Napi::Error ErrnoError(Napi::Env env, const std::string& operation, int err,
                       const std::string& detail) {
  const int e = err < 0 ? -err : err;
  const char* desc = strerrordesc_np(e);
  const std::string code = ErrnoName(e);
  const std::string message =
      operation + ": " +
      (!detail.empty() ? detail : desc != nullptr ? std::string(desc) : "unknown error") + " (" +
      code + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, e));
  error.Set("code", Napi::String::New(env, code));
  error.Set("operation", Napi::String::New(env, operation));
  return error;
}

}  // namespace radosjs
