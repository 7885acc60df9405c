// Errors raised to JavaScript: every failure is an Error with a positive `errno`, its symbolic
// `code` ('ENOENT', 'ETIMEDOUT', ...) and the `operation` that failed, so callers can branch on
// `code` instead of parsing messages.
#pragma once

#include <napi.h>

#include <string>

namespace radosjs {

// The symbolic name of an errno value (sign ignored), e.g. "ENOENT"; "E<number>" if unknown.
std::string ErrnoName(int err);

// A JS Error for `operation` failing with errno `err` (sign ignored). The message is
// "<operation>: <detail or strerror> (<code>)".
Napi::Error ErrnoError(Napi::Env env, const std::string& operation, int err,
                       const std::string& detail = "");

}  // namespace radosjs
