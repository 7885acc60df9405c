{
  "targets": [
    {
      "target_name": "cephfs",
      "sources": [
        "src/addon.cc",
        "src/mount_state.cc",
        "src/mount_worker.cc",
        "src/fs_ops.cc"
      ],
      "include_dirs": ["../common/include"],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-Wall", "-Wextra"],
      "libraries": ["-lcephfs"]
    }
  ]
}
