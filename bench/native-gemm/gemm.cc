// A measurement, not product code: how fast a plain Node-API addon with an AVX-512 GEMM (6×32 register blocks,
// no packing, a thread spawned per call) runs ResNet-18's matrix products on this machine, next to our wasm
// SIMD GEMM (src/engine/kernels/wasm_gemm.ts). It informs the product owner's choice of a native path for
// issue 6 (parity on ResNet-18's single maps). Build and run: bash bench/native-gemm/run.sh
#include <node_api.h>
#include <immintrin.h>
#include <thread>
#include <vector>
#include <cstdint>

template <int R>
static void block(const float* a, const float* b, float* c, int inner, int lda, int ldb, int ldc) {
  __m512 acc[R][2];
  for (int r = 0; r < R; r++) { acc[r][0] = _mm512_setzero_ps(); acc[r][1] = _mm512_setzero_ps(); }
  for (int k = 0; k < inner; k++) {
    __m512 b0 = _mm512_loadu_ps(b + (size_t)k * ldb), b1 = _mm512_loadu_ps(b + (size_t)k * ldb + 16);
    for (int r = 0; r < R; r++) {
      __m512 av = _mm512_set1_ps(a[(size_t)r * lda + k]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; r++) { _mm512_storeu_ps(c + (size_t)r * ldc, acc[r][0]); _mm512_storeu_ps(c + (size_t)r * ldc + 16, acc[r][1]); }
}

// c[k] = a[k] · b[k] for k in [k0, k1); cols % 32 == 0.
static void gemm(const float* a, const float* b, float* c, int k0, int k1, int rows, int inner, int cols) {
  for (int k = k0; k < k1; k++) {
    const float* ak = a + (size_t)k * rows * inner; const float* bk = b + (size_t)k * inner * cols; float* ck = c + (size_t)k * rows * cols;
    for (int c0 = 0; c0 < cols; c0 += 32) {
      int r = 0;
      for (; r + 6 <= rows; r += 6) block<6>(ak + (size_t)r * inner, bk + c0, ck + (size_t)r * cols + c0, inner, inner, cols, cols);
      for (; r < rows; r++) block<1>(ak + (size_t)r * inner, bk + c0, ck + (size_t)r * cols + c0, inner, inner, cols, cols);
    }
  }
}

static float* f32(napi_env env, napi_value v) {
  void* data; size_t len; napi_typedarray_type t; napi_value ab; size_t off;
  napi_get_typedarray_info(env, v, &t, &len, &data, &ab, &off);
  return (float*)data;
}
static int32_t i32(napi_env env, napi_value v) { int32_t x; napi_get_value_int32(env, v, &x); return x; }

// gemm(a, b, c, batch, rows, inner, cols, threads)
static napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = 8; napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  float *a = f32(env, argv[0]), *b = f32(env, argv[1]), *c = f32(env, argv[2]);
  int batch = i32(env, argv[3]), rows = i32(env, argv[4]), inner = i32(env, argv[5]), cols = i32(env, argv[6]), threads = i32(env, argv[7]);
  if (threads <= 1) { gemm(a, b, c, 0, batch, rows, inner, cols); return nullptr; }
  if (batch >= threads) {
    std::vector<std::thread> ts;
    for (int t = 1; t < threads; t++) ts.emplace_back(gemm, a, b, c, batch * t / threads, batch * (t + 1) / threads, rows, inner, cols);
    gemm(a, b, c, 0, batch / threads, rows, inner, cols);
    for (auto& t : ts) t.join();
  } else {  // split columns of a single product
    int half = (cols / 64) * 32;
    std::thread t([=] { for (int k = 0; k < batch; k++) { /* right half */
      const float* ak = a + (size_t)k * rows * inner; const float* bk = b + (size_t)k * inner * cols; float* ck = c + (size_t)k * rows * cols;
      for (int c0 = half; c0 < cols; c0 += 32) { int r = 0; for (; r + 6 <= rows; r += 6) block<6>(ak + (size_t)r * inner, bk + c0, ck + (size_t)r * cols + c0, inner, inner, cols, cols); for (; r < rows; r++) block<1>(ak + (size_t)r * inner, bk + c0, ck + (size_t)r * cols + c0, inner, inner, cols, cols); } } });
    for (int k = 0; k < batch; k++) {
      const float* ak = a + (size_t)k * rows * inner; const float* bk = b + (size_t)k * inner * cols; float* ck = c + (size_t)k * rows * cols;
      for (int c0 = 0; c0 < half; c0 += 32) { int r = 0; for (; r + 6 <= rows; r += 6) block<6>(ak + (size_t)r * inner, bk + c0, ck + (size_t)r * cols + c0, inner, inner, cols, cols); for (; r < rows; r++) block<1>(ak + (size_t)r * inner, bk + c0, ck + (size_t)r * cols + c0, inner, inner, cols, cols); }
    }
    t.join();
  }
  return nullptr;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn; napi_create_function(env, "gemm", NAPI_AUTO_LENGTH, Gemm, nullptr, &fn);
  napi_set_named_property(env, exports, "gemm", fn);
  return exports;
}
NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
