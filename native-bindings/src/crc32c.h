#ifndef RINGLOG_CRC32C_H
#define RINGLOG_CRC32C_H
#include <node_api.h>
/** 1 if this CPU has the crc32 instruction (then `crc32c` may be exported), else 0. */
int crc32c_available(void);
napi_value crc32c(napi_env env, napi_callback_info info);
#endif
