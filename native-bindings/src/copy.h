#ifndef RINGLOG_COPY_H
#define RINGLOG_COPY_H
#include <node_api.h>
napi_value copy_bytes(napi_env env, napi_callback_info info);
#endif
