#ifndef RINGLOG_TYPED_BYTES_H
#define RINGLOG_TYPED_BYTES_H
#include <stddef.h>
#include <stdint.h>
#include <node_api.h>
/** The bytes of a Uint8Array (Buffer, or a SharedArrayBuffer view): 1 and *data, *length set, else 0. */
int typed_bytes(napi_env env, napi_value value, uint8_t** data, size_t* length);
#endif
