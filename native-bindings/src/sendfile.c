// Zero-copy file-to-socket transfer for ringlog's fetch path (Linux sendfile(2)).
//
// sendFile(socketFd, fileFd, position, length[, idleTimeoutMs]) -> Promise<number>
//   Tries one non-blocking sendfile() on the calling thread; if the socket would block or
//   bytes remain, finishes on the libuv threadpool, waiting with poll(2) between tries.
//   Resolves with the bytes sent (always `length`) or rejects with an errno-bearing Error
//   (EPIPE/ECONNRESET when the peer goes away, ETIMEDOUT after idleTimeoutMs without
//   progress).
// dup(fd) -> number, close(fd) -> undefined, shutdown(fd) -> undefined
//   The JS side sends on its own dup() of the socket so a closed-and-reused fd number can
//   never receive the bytes, and shuts that dup down to cancel a transfer whose socket
//   was destroyed (the poll wakes up and sendfile fails with EPIPE).
//
// Safety rules (docs/ARCHITECTURE.md, "Data flow"): the socket's O_NONBLOCK flag is never changed (it is
// shared with libuv through the open file description) and the fd is never handed to
// uv_poll (libuv already owns an epoll registration for it). The caller guarantees that
// Node has nothing queued on the socket and writes nothing until the promise settles.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include "copy.h"
#include "crc32c.h"
#ifdef RINGLOG_LZ4
#include "lz4.h"
#endif

// Largest count Linux transfers in one sendfile() call.
#define MAX_SENDFILE_CHUNK 0x7ffff000
#define DEFAULT_IDLE_TIMEOUT_MS 30000
// Error code for a file that ends before the requested range does (sendfile returns 0).
#define FILE_TOO_SHORT (-1)

typedef struct {
  int socket_fd;
  int file_fd;
  int64_t position;      // next file offset to send
  int64_t remaining;     // bytes still to send
  int64_t sent;          // bytes sent so far
  int64_t idle_timeout_ms;
  int error;             // 0, an errno value, or FILE_TOO_SHORT
  napi_deferred deferred;
  napi_async_work work;
} transfer_t;

typedef enum { STEP_PROGRESS, STEP_WOULD_BLOCK, STEP_FAILED } step_result_t;

// One sendfile() call; updates the transfer and classifies the outcome.
static step_result_t send_step(transfer_t* t) {
  for (;;) {
    size_t count = t->remaining > MAX_SENDFILE_CHUNK ? MAX_SENDFILE_CHUNK : (size_t)t->remaining;
    off_t offset = (off_t)t->position;
    ssize_t n = sendfile(t->socket_fd, t->file_fd, &offset, count);
    if (n > 0) {
      t->position += n;
      t->remaining -= n;
      t->sent += n;
      return STEP_PROGRESS;
    }
    if (n == 0) {
      t->error = FILE_TOO_SHORT;
      return STEP_FAILED;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return STEP_WOULD_BLOCK;
    t->error = errno;
    return STEP_FAILED;
  }
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Threadpool side: alternate sendfile() and poll(POLLOUT) until done, failed or idle too long.
static void execute_transfer(napi_env env, void* data) {
  (void)env;
  transfer_t* t = (transfer_t*)data;
  int64_t deadline = now_ms() + t->idle_timeout_ms;
  int peer_gone = 0;
  while (t->remaining > 0) {
    step_result_t r = send_step(t);
    if (r == STEP_FAILED) return;
    if (r == STEP_PROGRESS) {
      deadline = now_ms() + t->idle_timeout_ms;
      peer_gone = 0;
      continue;
    }
    // Would block. A hang-up reported by the previous poll that still leaves the socket
    // unwritable means the connection is gone; don't spin on it.
    if (peer_gone) {
      t->error = EPIPE;
      return;
    }
    int64_t wait = deadline - now_ms();
    if (wait <= 0) {
      t->error = ETIMEDOUT;
      return;
    }
    struct pollfd pfd = { .fd = t->socket_fd, .events = POLLOUT, .revents = 0 };
    int ready = poll(&pfd, 1, wait > INT32_MAX ? INT32_MAX : (int)wait);
    if (ready < 0) {
      if (errno == EINTR) continue;
      t->error = errno;
      return;
    }
    if (ready == 0) continue;  // the deadline check above turns this into ETIMEDOUT
    if (pfd.revents & POLLNVAL) {
      t->error = EBADF;
      return;
    }
    // On POLLERR/POLLHUP the next sendfile() reports the socket's own errno.
    if (pfd.revents & (POLLERR | POLLHUP)) peer_gone = 1;
  }
}

static napi_value make_error(napi_env env, int error) {
  napi_value message, code, err, errno_value, syscall;
  if (error == FILE_TOO_SHORT) {
    napi_create_string_utf8(env, "sendfile: file ended before the requested range", NAPI_AUTO_LENGTH, &message);
    napi_create_string_utf8(env, "ERR_FILE_TOO_SHORT", NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, message, &err);
    return err;
  }
  // libuv's error numbers are negated errno values on Unix; reuse its names and texts so
  // the error looks like Node's own system errors (code 'EPIPE', errno -32).
  const char* name = uv_err_name(-error);
  char text[256];
  snprintf(text, sizeof text, "%s: %s, sendfile", name, uv_strerror(-error));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, message, &err);
  napi_create_int32(env, -error, &errno_value);
  napi_set_named_property(env, err, "errno", errno_value);
  napi_create_string_utf8(env, "sendfile", NAPI_AUTO_LENGTH, &syscall);
  napi_set_named_property(env, err, "syscall", syscall);
  return err;
}

// Settles the promise and frees the transfer; runs on the JS thread.
static void settle(napi_env env, transfer_t* t, napi_status status) {
  if (status == napi_cancelled && t->error == 0 && t->remaining > 0) t->error = ECANCELED;
  if (t->error == 0) {
    napi_value sent;
    napi_create_double(env, (double)t->sent, &sent);
    napi_resolve_deferred(env, t->deferred, sent);
  } else {
    napi_reject_deferred(env, t->deferred, make_error(env, t->error));
  }
  if (t->work != NULL) napi_delete_async_work(env, t->work);
  free(t);
}

static void complete_transfer(napi_env env, napi_status status, void* data) {
  settle(env, (transfer_t*)data, status);
}

static int get_fd_arg(napi_env env, napi_value value, const char* what, int* out) {
  int32_t fd;
  if (napi_get_value_int32(env, value, &fd) != napi_ok || fd < 0) {
    char text[96];
    snprintf(text, sizeof text, "%s must be a non-negative file descriptor", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", text);
    return 0;
  }
  *out = fd;
  return 1;
}

static int get_int64_arg(napi_env env, napi_value value, const char* what, int64_t* out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 0) || d > 9007199254740991.0 ||
      d != (double)(int64_t)d) {
    char text[96];
    snprintf(text, sizeof text, "%s must be a non-negative safe integer", what);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", text);
    return 0;
  }
  *out = (int64_t)d;
  return 1;
}

static napi_value send_file(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "sendFile(socketFd, fileFd, position, length[, idleTimeoutMs])");
    return NULL;
  }
  int socket_fd, file_fd;
  int64_t position, length, idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
  if (!get_fd_arg(env, argv[0], "socketFd", &socket_fd)) return NULL;
  if (!get_fd_arg(env, argv[1], "fileFd", &file_fd)) return NULL;
  if (!get_int64_arg(env, argv[2], "position", &position)) return NULL;
  if (!get_int64_arg(env, argv[3], "length", &length)) return NULL;
  if (argc >= 5) {
    napi_valuetype type;
    napi_typeof(env, argv[4], &type);
    if (type != napi_undefined && !get_int64_arg(env, argv[4], "idleTimeoutMs", &idle_timeout_ms)) return NULL;
    if (idle_timeout_ms == 0) idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
  }

  transfer_t* t = (transfer_t*)calloc(1, sizeof *t);
  if (t == NULL) {
    napi_throw_error(env, "ENOMEM", "sendFile: out of memory");
    return NULL;
  }
  t->socket_fd = socket_fd;
  t->file_fd = file_fd;
  t->position = position;
  t->remaining = length;
  t->idle_timeout_ms = idle_timeout_ms;
  napi_value promise;
  if (napi_create_promise(env, &t->deferred, &promise) != napi_ok) {
    free(t);
    return NULL;
  }

  // Fast path: one sendfile() here; most fetch responses fit in the socket buffer.
  if (t->remaining == 0 || send_step(t) == STEP_FAILED || t->remaining == 0) {
    settle(env, t, napi_ok);
    return promise;
  }

  napi_value resource_name;
  napi_create_string_utf8(env, "ringlog:sendfile", NAPI_AUTO_LENGTH, &resource_name);
  if (napi_create_async_work(env, NULL, resource_name, execute_transfer, complete_transfer, t, &t->work) != napi_ok ||
      napi_queue_async_work(env, t->work) != napi_ok) {
    t->error = EAGAIN;
    settle(env, t, napi_ok);
  }
  return promise;
}

static napi_value dup_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd;
  if (argc < 1 || !get_fd_arg(env, argv[0], "fd", &fd)) return NULL;
  // Close-on-exec so a child process never inherits the socket.
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    napi_value err = make_error(env, errno);
    napi_throw(env, err);
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, copy, &result);
  return result;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd;
  if (argc < 1 || !get_fd_arg(env, argv[0], "fd", &fd)) return NULL;
  // Linux releases the descriptor even when close() reports EINTR: never retry.
  close(fd);
  return NULL;
}

static napi_value shutdown_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd;
  if (argc < 1 || !get_fd_arg(env, argv[0], "fd", &fd)) return NULL;
  // ENOTCONN just means the connection is already down, which is the goal.
  shutdown(fd, SHUT_RDWR);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    { "sendFile", NULL, send_file, NULL, NULL, NULL, napi_enumerable, NULL },
    { "dup", NULL, dup_fd, NULL, NULL, NULL, napi_enumerable, NULL },
    { "close", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL },
    { "shutdown", NULL, shutdown_fd, NULL, NULL, NULL, napi_enumerable, NULL },
    { "copyBytes", NULL, copy_bytes, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  // Optional exports: crc32c where the CPU has the instruction, lz4CompressFrame where the
  // addon was built against liblz4's headers.
  if (crc32c_available()) {
    napi_property_descriptor crc = { "crc32c", NULL, crc32c, NULL, NULL, NULL, napi_enumerable, NULL };
    napi_define_properties(env, exports, 1, &crc);
  }
#ifdef RINGLOG_LZ4
  napi_property_descriptor lz4 = { "lz4CompressFrame", NULL, lz4_compress_frame, NULL, NULL, NULL, napi_enumerable, NULL };
  napi_define_properties(env, exports, 1, &lz4);
#endif
  return exports;
}
