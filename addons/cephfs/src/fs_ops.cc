#include "fs_ops.h"

#include <cephfs/libcephfs.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "ceph_addon/args.h"
#include "mount_op.h"

namespace cephfs_js {

using ceph_addon::StringArg;

namespace {

constexpr uint32_t kDefaultDirMode = 0755;
constexpr uint32_t kDefaultFileMode = 0644;
constexpr size_t kReadChunk = 1 << 20;

uint32_t OptionalMode(const Napi::Value& value, uint32_t fallback) {
  if (value.IsUndefined() || value.IsNull()) return fallback;
  if (!value.IsNumber()) {
    throw Napi::TypeError::New(value.Env(), "mode must be a number");
  }
  return value.As<Napi::Number>().Uint32Value() & 07777;
}

// Bytes of a Buffer argument, copied: the worker thread must not read memory
// that JS could change or free while the call is in flight.
std::vector<char> CopyBuffer(const Napi::Value& value, const char* what) {
  if (!value.IsBuffer()) {
    throw Napi::TypeError::New(value.Env(), std::string(what) + " must be a Buffer");
  }
  auto buffer = value.As<Napi::Buffer<char>>();
  return std::vector<char>(buffer.Data(), buffer.Data() + buffer.Length());
}

Napi::Value Strings(Napi::Env env, std::vector<std::string>& names) {
  Napi::Array array = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); i++) {
    array.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
  }
  return array;
}

Napi::Value Bytes(Napi::Env env, std::vector<char>& bytes) {
  return Napi::Buffer<char>::Copy(env, bytes.data(), bytes.size());
}

// A call whose whole outcome is its return code.
Napi::Value Simple(const Napi::CallbackInfo& info, std::string call, std::string subject,
                   std::function<int(ceph_mount_info*)> fn) {
  return MountOp<NoResult>::Start(
      info.Env(), UnwrapMount(info[0]), {std::move(call), std::move(subject)},
      [fn](ceph_mount_info* mount, NoResult&, OpFailure&) { return fn(mount); }, Undefined);
}

}  // namespace

Napi::Value Fscid(const Napi::CallbackInfo& info) {
  return MountOp<int64_t>::Start(
      info.Env(), UnwrapMount(info[0]), {"ceph_get_fs_cid", "/"},
      [](ceph_mount_info* mount, int64_t& fscid, OpFailure&) {
        fscid = ceph_get_fs_cid(mount);
        return fscid < 0 ? static_cast<int>(fscid) : 0;
      },
      [](Napi::Env env, int64_t& fscid) {
        return Napi::Number::New(env, static_cast<double>(fscid));
      });
}

Napi::Value GetXattr(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info[1], "path");
  std::string name = StringArg(info[2], "name");
  return MountOp<std::vector<char>>::Start(
      info.Env(), UnwrapMount(info[0]), {"ceph_getxattr", path + ", " + name},
      [path, name](ceph_mount_info* mount, std::vector<char>& value, OpFailure&) {
        // Ask for the size, then fetch; retry if the value grew in between.
        for (int attempt = 0; attempt < 5; attempt++) {
          int size = ceph_getxattr(mount, path.c_str(), name.c_str(), nullptr, 0);
          if (size < 0) return size;
          value.resize(static_cast<size_t>(size));
          if (size == 0) return 0;
          int got = ceph_getxattr(mount, path.c_str(), name.c_str(), value.data(), value.size());
          if (got == -ERANGE) continue;
          if (got < 0) return got;
          value.resize(static_cast<size_t>(got));
          return 0;
        }
        return -ERANGE;
      },
      Bytes);
}

Napi::Value SetXattr(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info[1], "path");
  std::string name = StringArg(info[2], "name");
  std::vector<char> value = CopyBuffer(info[3], "value");
  int flags = info[4].IsNumber() ? info[4].As<Napi::Number>().Int32Value() : 0;
  return Simple(info, "ceph_setxattr", path + ", " + name,
                [path, name, value, flags](ceph_mount_info* mount) {
                  return ceph_setxattr(mount, path.c_str(), name.c_str(), value.data(),
                                       value.size(), flags);
                });
}

Napi::Value RemoveXattr(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info[1], "path");
  std::string name = StringArg(info[2], "name");
  return Simple(info, "ceph_removexattr", path + ", " + name, [path, name](ceph_mount_info* mount) {
    return ceph_removexattr(mount, path.c_str(), name.c_str());
  });
}

Napi::Value Mkdir(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info[1], "path");
  uint32_t mode = OptionalMode(info[2], kDefaultDirMode);
  return Simple(info, "ceph_mkdir", path, [path, mode](ceph_mount_info* mount) {
    return ceph_mkdir(mount, path.c_str(), mode);
  });
}

// mkdir -p with POSIX answers. ceph_mkdirs itself is not used: in 16.2 it
// reports success when the last component is an existing file, and EACCES
// (not ENOTDIR) when an earlier one is.
static int MakeDirs(ceph_mount_info* mount, const std::string& path, uint32_t mode) {
  if (path.empty()) return -ENOENT;
  struct ceph_statx stx;
  int rc = ceph_statx(mount, path.c_str(), &stx, CEPH_STATX_MODE, 0);
  if (rc == 0) return S_ISDIR(stx.stx_mode) ? 0 : -EEXIST;
  // Otherwise walk from the top, even on errors other than ENOENT: a file in
  // the middle of the path makes statx fail with EACCES, and the walk turns
  // that into ENOTDIR at the right component.
  size_t end = 0;
  while (end != std::string::npos) {
    end = path.find('/', end + 1);
    std::string prefix = path.substr(0, end);
    if (prefix.empty() || prefix.back() == '/') continue;  // "/" or "a//b"
    bool last = end == std::string::npos || path.find_first_not_of('/', end) == std::string::npos;
    rc = ceph_mkdir(mount, prefix.c_str(), mode);
    if (rc == -EEXIST) {
      rc = ceph_statx(mount, prefix.c_str(), &stx, CEPH_STATX_MODE, 0);
      if (rc == 0 && !S_ISDIR(stx.stx_mode)) rc = last ? -EEXIST : -ENOTDIR;
    }
    if (rc < 0) return rc;
    if (last) break;
  }
  return 0;
}

Napi::Value Mkdirs(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info[1], "path");
  uint32_t mode = OptionalMode(info[2], kDefaultDirMode);
  return Simple(info, "ceph_mkdirs", path,
                [path, mode](ceph_mount_info* mount) { return MakeDirs(mount, path, mode); });
}

Napi::Value Stat(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info[1], "path");
  return MountOp<struct ceph_statx>::Start(
      info.Env(), UnwrapMount(info[0]), {"ceph_statx", path},
      [path](ceph_mount_info* mount, struct ceph_statx& stx, OpFailure&) {
        return ceph_statx(mount, path.c_str(), &stx, CEPH_STATX_BASIC_STATS, 0);
      },
      [](Napi::Env env, struct ceph_statx& stx) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("mode", Napi::Number::New(env, stx.stx_mode));
        out.Set("size", Napi::Number::New(env, static_cast<double>(stx.stx_size)));
        out.Set("ino", Napi::BigInt::New(env, static_cast<uint64_t>(stx.stx_ino)));
        out.Set("uid", Napi::Number::New(env, stx.stx_uid));
        out.Set("gid", Napi::Number::New(env, stx.stx_gid));
        out.Set("nlink", Napi::Number::New(env, stx.stx_nlink));
        double mtimeMs = static_cast<double>(stx.stx_mtime.tv_sec) * 1e3 +
                         static_cast<double>(stx.stx_mtime.tv_nsec) / 1e6;
        out.Set("mtimeMs", Napi::Number::New(env, mtimeMs));
        return out;
      });
}

Napi::Value Readdir(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info[1], "path");
  return MountOp<std::vector<std::string>>::Start(
      info.Env(), UnwrapMount(info[0]), {"ceph_opendir", path},
      [path](ceph_mount_info* mount, std::vector<std::string>& names, OpFailure& where) {
        struct ceph_dir_result* dir = nullptr;
        int rc = ceph_opendir(mount, path.c_str(), &dir);
        if (rc < 0) return rc;
        struct dirent entry;
        while ((rc = ceph_readdir_r(mount, dir, &entry)) == 1) {
          if (std::strcmp(entry.d_name, ".") == 0 || std::strcmp(entry.d_name, "..") == 0) {
            continue;
          }
          names.emplace_back(entry.d_name);
        }
        if (rc < 0) where.call = "ceph_readdir_r";
        ceph_closedir(mount, dir);
        return rc;
      },
      Strings);
}

Napi::Value WriteFile(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info[1], "path");
  std::vector<char> data = CopyBuffer(info[2], "data");
  uint32_t mode = OptionalMode(info[3], kDefaultFileMode);
  return MountOp<NoResult>::Start(
      info.Env(), UnwrapMount(info[0]), {"ceph_open", path},
      [path, data, mode](ceph_mount_info* mount, NoResult&, OpFailure& where) {
        int fd = ceph_open(mount, path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
        if (fd < 0) return fd;
        int rc = 0;
        size_t done = 0;
        while (done < data.size()) {
          int n = ceph_write(mount, fd, data.data() + done,
                             static_cast<int64_t>(data.size() - done), static_cast<int64_t>(done));
          if (n <= 0) {
            rc = n < 0 ? n : -EIO;
            where.call = "ceph_write";
            break;
          }
          done += static_cast<size_t>(n);
        }
        int crc = ceph_close(mount, fd);
        if (rc == 0 && crc < 0) {
          where.call = "ceph_close";
          rc = crc;
        }
        return rc;
      },
      Undefined);
}

Napi::Value ReadFile(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info[1], "path");
  return MountOp<std::vector<char>>::Start(
      info.Env(), UnwrapMount(info[0]), {"ceph_open", path},
      [path](ceph_mount_info* mount, std::vector<char>& data, OpFailure& where) {
        int fd = ceph_open(mount, path.c_str(), O_RDONLY, 0);
        if (fd < 0) return fd;
        // ceph_open accepts a directory, and ceph_read on it then waits
        // forever; refuse it like read(2) does.
        struct ceph_statx stx;
        int rc = ceph_fstatx(mount, fd, &stx, CEPH_STATX_MODE | CEPH_STATX_SIZE, 0);
        where.call = "ceph_fstatx";
        if (rc == 0 && S_ISDIR(stx.stx_mode)) {
          where.call = "ceph_read";
          rc = -EISDIR;
        }
        if (rc < 0) {
          ceph_close(mount, fd);
          return rc;
        }
        data.reserve(static_cast<size_t>(stx.stx_size));
        size_t done = 0;
        for (;;) {
          data.resize(done + kReadChunk);
          int n = ceph_read(mount, fd, data.data() + done, kReadChunk, static_cast<int64_t>(done));
          if (n < 0) {
            rc = n;
            where.call = "ceph_read";
            break;
          }
          if (n == 0) break;
          done += static_cast<size_t>(n);
        }
        data.resize(done);
        ceph_close(mount, fd);
        return rc;
      },
      Bytes);
}

Napi::Value Unlink(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info[1], "path");
  return Simple(info, "ceph_unlink", path,
                [path](ceph_mount_info* mount) { return ceph_unlink(mount, path.c_str()); });
}

Napi::Value Rmdir(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info[1], "path");
  return Simple(info, "ceph_rmdir", path,
                [path](ceph_mount_info* mount) { return ceph_rmdir(mount, path.c_str()); });
}

Napi::Value Mksnap(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info[1], "path");
  std::string name = StringArg(info[2], "name");
  uint32_t mode = OptionalMode(info[3], kDefaultDirMode);
  return Simple(info, "ceph_mksnap", path + ", " + name,
                [path, name, mode](ceph_mount_info* mount) {
                  return ceph_mksnap(mount, path.c_str(), name.c_str(), mode, nullptr, 0);
                });
}

Napi::Value Rmsnap(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info[1], "path");
  std::string name = StringArg(info[2], "name");
  std::string dir = path;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string snapPath = (dir == "/" ? "" : dir) + "/.snap/" + name;
  return Simple(
      info, "ceph_rmsnap", path + ", " + name, [path, name, snapPath](ceph_mount_info* mount) {
        // In 16.2, ceph_rmsnap of a snapshot that does not exist
        // returns ENOENT but leaks an inode reference, and the
        // next ceph_unmount then waits forever. Answer ENOENT
        // without calling it (a snapshot removed by someone else
        // between the two calls can still hit the bug).
        struct ceph_statx stx;
        int rc = ceph_statx(mount, snapPath.c_str(), &stx, CEPH_STATX_INO, AT_SYMLINK_NOFOLLOW);
        if (rc == -ENOENT) return rc;
        return ceph_rmsnap(mount, path.c_str(), name.c_str());
      });
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  return UnwrapMount(info[0])->Close(info.Env());
}

}  // namespace cephfs_js
