{
  "targets": [
    {
      "target_name": "rados",
      "sources": [
        "src/addon.cc",
        "src/aio.cc",
        "src/rados_handle.cc",
        "src/ioctx_handle.cc",
        "src/watch.cc",
        "src/notify_reply.cc",
        "src/submitter.cc"
      ],
      "include_dirs": ["../common/include"],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lrados"]
    }
  ]
}
