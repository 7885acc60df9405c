// Turning negative libcephfs return codes into JS errors that carry the
// positive errno, its symbolic code and a message naming the call and path.
#pragma once

#include <napi.h>

#include <string>

namespace cephfs_js {

// Symbolic name of a (positive) errno value, e.g. "ENOENT"; "EUNKNOWN" if the
// value is not one we expect libcephfs to return.
const char* ErrnoName(int err);

// An Error with `errno` (positive), `code` and the message
// "<call>(<subject>): <strerror>". Must run on the JS thread.
Napi::Error MakeErrnoError(Napi::Env env, int err, const std::string& call,
                           const std::string& subject);

// Same shape, for a mount that has already been closed (ENOTCONN).
Napi::Error MakeClosedError(Napi::Env env, const std::string& call,
                            const std::string& subject);

}  // namespace cephfs_js
