{
  "variables": {
    # liblz4's frame API is used where its headers are installed (Debian: liblz4-dev); without
    # them the addon is built without lz4CompressFrame and ringlog compresses with lz4-napi.
    "has_lz4%": "<!(test -f /usr/include/lz4frame.h && echo 1 || echo 0)"
  },
  "targets": [
    {
      "target_name": "ringlog_native",
      "sources": ["src/sendfile.c", "src/copy.c", "src/crc32c.c", "src/typed-bytes.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        ["has_lz4==1", { "sources": ["src/lz4.c"], "defines": ["RINGLOG_LZ4"], "libraries": ["-llz4"] }],
        ["OS!='linux'", { "type": "none", "sources!": ["src/sendfile.c", "src/copy.c", "src/crc32c.c", "src/typed-bytes.c", "src/lz4.c"] }]
      ]
    }
  ]
}
