// CRC-32C (Castagnoli) with the SSE4.2 crc32 instruction, three streams at a time.
//
// crc32c(data: Uint8Array, initial?: number) -> number
//   The same function as @node-rs/crc32's crc32c: `initial` is an earlier finished CRC to
//   continue from (0 to start). Every RecordBatch v2 byte is checksummed once when a worker
//   seals it and again wherever it is validated, so this is on the hot path.
//
// One crc32 instruction has a latency of 3 cycles but issues every cycle, so a single stream
// runs at a third of the unit's speed. Long inputs are cut into three equal blocks whose CRCs
// run interleaved, then joined: the register after block A, moved past the |B| + |C| zero
// bytes that follow it, XORed with B's moved past |C| and with C's (CRC is linear over GF(2)).
// Moving a register past n zero bytes is multiplying it by x^(8n) mod P; for the two fixed
// block lengths that linear map is precomputed as four byte tables.
//
// Only built into the export list when the CPU has SSE4.2 (checked at load); callers fall
// back to @node-rs/crc32 otherwise.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <node_api.h>

#include "crc32c.h"
#include "typed-bytes.h"

#if defined(__x86_64__)
#include <nmmintrin.h>

#define CASTAGNOLI_REFLECTED 0x82f63b78u
// Bytes per stream per round: rounds of 3 x 2 KiB, then of 3 x 256 bytes for what is left
// (a 16 KiB batch: two long rounds, five short ones and 256 bytes on one stream).
#define LONG_BLOCK 2048
#define SHORT_BLOCK 256

// Byte tables of the maps "move a register past one block of zero bytes" and "past two".
static uint32_t long_one[4][256];
static uint32_t long_two[4][256];
static uint32_t short_one[4][256];
static uint32_t short_two[4][256];

// a * b mod P, both polynomials in the reflected order (bit 31 holds x^0).
static uint32_t multiply_mod_p(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = 1u << 31; bit != 0; bit >>= 1) {
    if (a & bit) product ^= b;
    b = (b & 1) ? (b >> 1) ^ CASTAGNOLI_REFLECTED : b >> 1;
  }
  return product;
}

// x^(8n) mod P, by squaring.
static uint32_t x_to_8n(size_t n) {
  uint32_t result = 1u << 31; // x^0
  uint32_t square = 1u << 23; // x^8
  while (n != 0) {
    if (n & 1) result = multiply_mod_p(result, square);
    square = multiply_mod_p(square, square);
    n >>= 1;
  }
  return result;
}

static void fill_shift_table(uint32_t table[4][256], size_t zero_bytes) {
  uint32_t factor = x_to_8n(zero_bytes);
  for (int byte = 0; byte < 4; byte++) {
    for (uint32_t v = 0; v < 256; v++) table[byte][v] = multiply_mod_p(factor, v << (8 * byte));
  }
}

static inline uint32_t shift(uint32_t table[4][256], uint32_t crc) {
  return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^ table[2][(crc >> 16) & 0xff] ^ table[3][crc >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t crc_stream(uint32_t crc, const uint8_t* p, size_t length) {
  uint64_t c = crc;
  while (length > 0 && ((uintptr_t)p & 7) != 0) {
    c = _mm_crc32_u8((uint32_t)c, *p++);
    length--;
  }
  while (length >= 8) {
    uint64_t word;
    memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    length -= 8;
  }
  while (length > 0) {
    c = _mm_crc32_u8((uint32_t)c, *p++);
    length--;
  }
  return (uint32_t)c;
}

// Rounds of three interleaved blocks of `block` bytes while at least three are left.
__attribute__((target("sse4.2"))) static inline uint32_t crc_rounds(uint32_t crc, const uint8_t** at, size_t* left, size_t block,
                                                                    uint32_t one[4][256], uint32_t two[4][256]) {
  const uint8_t* p = *at;
  size_t length = *left;
  while (length >= 3 * block) {
    uint64_t a = crc, b = 0, c = 0;
    const uint8_t* end = p + block;
    for (; p < end; p += 8) {
      uint64_t wa, wb, wc;
      memcpy(&wa, p, 8);
      memcpy(&wb, p + block, 8);
      memcpy(&wc, p + 2 * block, 8);
      a = _mm_crc32_u64(a, wa);
      b = _mm_crc32_u64(b, wb);
      c = _mm_crc32_u64(c, wc);
    }
    crc = shift(two, (uint32_t)a) ^ shift(one, (uint32_t)b) ^ (uint32_t)c;
    p += 2 * block;
    length -= 3 * block;
  }
  *at = p;
  *left = length;
  return crc;
}

__attribute__((target("sse4.2"))) static uint32_t crc_register(uint32_t crc, const uint8_t* p, size_t length) {
  crc = crc_rounds(crc, &p, &length, LONG_BLOCK, long_one, long_two);
  crc = crc_rounds(crc, &p, &length, SHORT_BLOCK, short_one, short_two);
  return crc_stream(crc, p, length);
}

static int hardware_crc = -1;

int crc32c_available(void) {
  if (hardware_crc < 0) {
    __builtin_cpu_init();
    hardware_crc = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    if (hardware_crc) {
      fill_shift_table(long_one, LONG_BLOCK);
      fill_shift_table(long_two, 2 * LONG_BLOCK);
      fill_shift_table(short_one, SHORT_BLOCK);
      fill_shift_table(short_two, 2 * SHORT_BLOCK);
    }
  }
  return hardware_crc;
}

napi_value crc32c(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t* data;
  size_t length;
  uint32_t initial = 0;
  if (argc < 1 || !typed_bytes(env, argv[0], &data, &length) || (argc > 1 && napi_get_value_uint32(env, argv[1], &initial) != napi_ok)) {
    napi_throw_type_error(env, NULL, "crc32c(data: Uint8Array, initial?: number)");
    return NULL;
  }
  uint32_t crc = ~crc_register(~initial, data, length);
  napi_value result;
  napi_create_uint32(env, crc, &result);
  return result;
}

#else

int crc32c_available(void) { return 0; }

napi_value crc32c(napi_env env, napi_callback_info info) {
  (void)info;
  napi_throw_error(env, NULL, "crc32c: no hardware CRC on this CPU");
  return NULL;
}

#endif
