#include "errno_error.h"

#include <cerrno>
#include <cstring>

namespace cephfs_js {

const char* ErrnoName(int err) {
  switch (err) {
#define CEPHFS_JS_ERRNO(name) \
  case name:                  \
    return #name;
    CEPHFS_JS_ERRNO(EPERM)
    CEPHFS_JS_ERRNO(ENOENT)
    CEPHFS_JS_ERRNO(ESRCH)
    CEPHFS_JS_ERRNO(EINTR)
    CEPHFS_JS_ERRNO(EIO)
    CEPHFS_JS_ERRNO(ENXIO)
    CEPHFS_JS_ERRNO(E2BIG)
    CEPHFS_JS_ERRNO(EBADF)
    CEPHFS_JS_ERRNO(EAGAIN)
    CEPHFS_JS_ERRNO(ENOMEM)
    CEPHFS_JS_ERRNO(EACCES)
    CEPHFS_JS_ERRNO(EFAULT)
    CEPHFS_JS_ERRNO(EBUSY)
    CEPHFS_JS_ERRNO(EEXIST)
    CEPHFS_JS_ERRNO(EXDEV)
    CEPHFS_JS_ERRNO(ENODEV)
    CEPHFS_JS_ERRNO(ENOTDIR)
    CEPHFS_JS_ERRNO(EISDIR)
    CEPHFS_JS_ERRNO(EINVAL)
    CEPHFS_JS_ERRNO(ENFILE)
    CEPHFS_JS_ERRNO(EMFILE)
    CEPHFS_JS_ERRNO(EFBIG)
    CEPHFS_JS_ERRNO(ENOSPC)
    CEPHFS_JS_ERRNO(EROFS)
    CEPHFS_JS_ERRNO(EMLINK)
    CEPHFS_JS_ERRNO(ERANGE)
    CEPHFS_JS_ERRNO(EDEADLK)
    CEPHFS_JS_ERRNO(ENAMETOOLONG)
    CEPHFS_JS_ERRNO(ENOSYS)
    CEPHFS_JS_ERRNO(ENOTEMPTY)
    CEPHFS_JS_ERRNO(ELOOP)
    CEPHFS_JS_ERRNO(ENODATA)
    CEPHFS_JS_ERRNO(EOPNOTSUPP)
    CEPHFS_JS_ERRNO(ECONNREFUSED)
    CEPHFS_JS_ERRNO(ECONNRESET)
    CEPHFS_JS_ERRNO(ENOTCONN)
    CEPHFS_JS_ERRNO(EISCONN)
    CEPHFS_JS_ERRNO(ESHUTDOWN)  // also what Ceph reports as "blocklisted"
    CEPHFS_JS_ERRNO(ETIMEDOUT)
    CEPHFS_JS_ERRNO(EHOSTUNREACH)
    CEPHFS_JS_ERRNO(ESTALE)
    CEPHFS_JS_ERRNO(EDQUOT)
    CEPHFS_JS_ERRNO(ECANCELED)
#undef CEPHFS_JS_ERRNO
    default:
      return "EUNKNOWN";
  }
}

static Napi::Error Build(Napi::Env env, int err, const std::string& call,
                         const std::string& subject, const std::string& what) {
  Napi::Error error =
      Napi::Error::New(env, call + "(" + subject + "): " + what);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  error.Set("syscall", Napi::String::New(env, call));
  return error;
}

Napi::Error MakeErrnoError(Napi::Env env, int err, const std::string& call,
                           const std::string& subject) {
  // strerror is only called on the JS thread, so its static buffer is safe.
  return Build(env, err, call, subject, std::strerror(err));
}

Napi::Error MakeClosedError(Napi::Env env, const std::string& call,
                            const std::string& subject) {
  return Build(env, ENOTCONN, call, subject, "the CephFS mount is closed");
}

}  // namespace cephfs_js
