#ifndef RINGLOG_LZ4_H
#define RINGLOG_LZ4_H
#include <node_api.h>
napi_value lz4_compress_frame(napi_env env, napi_callback_info info);
#endif
