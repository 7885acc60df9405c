// Errors raised to JavaScript by both addons, in one shape: an Error whose
//   errno    is the positive errno value,
//   code     its symbolic name ('ENOENT', 'ETIMEDOUT', ...; 'E<n>' outside the table),
//   syscall  the call that failed (a libcephfs function such as 'ceph_mkdir', or a rados-js
//            operation such as 'omapWrite', which may stand for several librados calls),
//   message  "<syscall>(<subject>): <detail or description> (<code>)", or without "(<subject>)"
//            when the call has none,
// so callers branch on `code` instead of parsing messages. lib/errors.ts builds the same shape on
// the JavaScript side.
#pragma once

#include <napi.h>
#include <string.h>

#include <string>
#include <utility>

#include "ceph_addon/errno_table.h"

namespace ceph_addon {

// What failed, for the error: the call and what it was given (a path, an object name, ...).
struct CallSite {
  // Not explicit, so that {"connect"} and {"stat", oid} read as call sites.
  CallSite(std::string call_name, std::string subject_text = std::string())  // NOLINT
      : call(std::move(call_name)), subject(std::move(subject_text)) {}

  std::string call;
  std::string subject;
};

// The symbolic name of an errno value, sign ignored: "ENOENT"; "E<n>" for a value not in
// errno_table.h.
inline std::string ErrnoName(int err) {
  const int e = err < 0 ? -err : err;
  switch (e) {
#define CEPH_ADDON_ERRNO_CASE(name) \
  case name:                        \
    return #name;
    CEPH_ADDON_ERRNO_TABLE(CEPH_ADDON_ERRNO_CASE)
#undef CEPH_ADDON_ERRNO_CASE
    default:
      return "E" + std::to_string(e);
  }
}

// glibc's description of an errno value, sign ignored ("No such file or directory").
// strerrordesc_np (glibc >= 2.32) is thread-safe, unlike strerror, so worker threads may call it.
inline std::string ErrnoDescription(int err) {
  const int e = err < 0 ? -err : err;
  const char* desc = strerrordesc_np(e);
  return desc != nullptr ? std::string(desc) : "Unknown error " + std::to_string(e);
}

// "<call>(<subject>)", or "<call>" when there is no subject.
inline std::string Describe(const CallSite& where) {
  return where.subject.empty() ? where.call : where.call + "(" + where.subject + ")";
}

// The JS error for `where` failing with errno `err` (sign ignored); `detail` replaces the errno's
// description in the message when given. Must run on the JS thread.
inline Napi::Error ErrnoError(Napi::Env env, int err, const CallSite& where,
                              const std::string& detail = "") {
  const int e = err < 0 ? -err : err;
  const std::string code = ErrnoName(e);
  const std::string text = detail.empty() ? ErrnoDescription(e) : detail;
  Napi::Error error = Napi::Error::New(env, Describe(where) + ": " + text + " (" + code + ")");
  error.Set("errno", Napi::Number::New(env, e));
  error.Set("code", Napi::String::New(env, code));
  error.Set("syscall", Napi::String::New(env, where.call));
  return error;
}

}  // namespace ceph_addon
