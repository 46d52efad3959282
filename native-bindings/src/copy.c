// Plain memcpy between typed arrays, for copies into and out of SharedArrayBuffer rings.
//
// copyBytes(target, targetOffset, source, sourceOffset, length) -> undefined
//   V8 copies into or out of a SharedArrayBuffer with relaxed atomic word stores (no SIMD),
//   several times slower than memcpy on the lines another core just wrote; a ring frame is
//   copied whole, so one call's fixed cost is small beside it. Both ends are one process's
//   memory and the ring protocol orders the two threads' accesses, so memcpy is safe here.
//   Throws a RangeError if either range falls outside its array.
#include <stdint.h>
#include <string.h>

#include <node_api.h>

#include "copy.h"
#include "typed-bytes.h"

napi_value copy_bytes(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t* target;
  uint8_t* source;
  size_t target_length, source_length;
  int64_t target_offset, source_offset, length;
  if (argc < 5 || !typed_bytes(env, argv[0], &target, &target_length) || !typed_bytes(env, argv[2], &source, &source_length) ||
      napi_get_value_int64(env, argv[1], &target_offset) != napi_ok || napi_get_value_int64(env, argv[3], &source_offset) != napi_ok ||
      napi_get_value_int64(env, argv[4], &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "copyBytes(target: Uint8Array, targetOffset, source: Uint8Array, sourceOffset, length)");
    return NULL;
  }
  if (target_offset < 0 || source_offset < 0 || length < 0 || (uint64_t)(target_offset + length) > target_length ||
      (uint64_t)(source_offset + length) > source_length) {
    napi_throw_range_error(env, NULL, "copyBytes: range outside the array");
    return NULL;
  }
  memmove(target + target_offset, source + source_offset, (size_t)length);
  return NULL;
}
