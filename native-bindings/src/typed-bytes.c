// The one way the addon's functions read a Uint8Array argument.
#include "typed-bytes.h"

int typed_bytes(napi_env env, napi_value value, uint8_t** data, size_t* length) {
  napi_typedarray_type type;
  size_t count;
  void* base;
  napi_value buffer;
  size_t byte_offset;
  if (napi_get_typedarray_info(env, value, &type, &count, &base, &buffer, &byte_offset) != napi_ok) return 0;
  if (type != napi_uint8_array) return 0;
  *data = (uint8_t*)base;
  *length = count;
  return 1;
}
