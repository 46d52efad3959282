{
  "targets": [
    {
      "target_name": "ringlog_native",
      "sources": ["src/sendfile.c", "src/copy.c", "src/crc32c.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        ["OS!='linux'", { "type": "none", "sources!": ["src/sendfile.c", "src/copy.c", "src/crc32c.c"] }]
      ]
    }
  ]
}
