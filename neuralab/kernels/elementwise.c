/* neuralab's compiled elementwise kernels: passes that NumPy runs as several passes over
 * memory, written out once.
 *
 * Every kernel does the same IEEE operations in the same order as the NumPy code it
 * replaces (neuralab/kernels/__init__.py names it), so the results are equal bit for bit:
 * the file is compiled with -ffp-contract=off (no fused multiply-adds) and without
 * -ffast-math. Arrays are passed as pointers with their strides in elements; the last
 * axis is contiguous. Each kernel exists for float (suffix f32) and double (f64).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef int64_t i64;

#define DEFINE_KERNELS(T, SUFFIX, SQRT)                                                      \
/* Adam: m += (g - m) c1; v += (g g - v) c2; w -= step * m / (sqrt(v) + eps)            \
 * -- neuralab.optimizers.Adam._update, pass by pass. */                                  \
void adam_##SUFFIX(i64 n, T *w, const T *g, T *m, T *v, T c1, T c2, T eps, T step) {     \
    for (i64 i = 0; i < n; i++) {                                                        \
        T gi = g[i];                                                                     \
        T t = gi - m[i];                                                                 \
        t *= c1;                                                                         \
        T mi = m[i] + t;                                                                 \
        t = gi * gi;                                                                     \
        t -= v[i];                                                                       \
        t *= c2;                                                                         \
        T vi = v[i] + t;                                                                 \
        t = SQRT(vi);                                                                    \
        t += eps;                                                                        \
        t = mi / t;                                                                      \
        t *= step;                                                                       \
        m[i] = mi;                                                                       \
        v[i] = vi;                                                                       \
        w[i] -= t;                                                                       \
    }                                                                                    \
}                                                                                        \
                                                                                         \
/* dz = dout * (y > 0) (as NumPy: dout * 0 where y <= 0) over (a, b, c, l) arrays with    \
 * strides (sa, sb, sc) in elements per array, rows of l contiguous. */                   \
void relu_backward_##SUFFIX(const i64 *shape, const T *dout, const i64 *ds, const T *y,    \
                            const i64 *ys, T *out, const i64 *os) {                       \
    for (i64 i = 0; i < shape[0]; i++)                                                   \
        for (i64 j = 0; j < shape[1]; j++)                                               \
            for (i64 h = 0; h < shape[2]; h++) {                                         \
                const T *d = dout + i * ds[0] + j * ds[1] + h * ds[2];                   \
                const T *yy = y + i * ys[0] + j * ys[1] + h * ys[2];                     \
                T *o = out + i * os[0] + j * os[1] + h * os[2];                          \
                for (i64 k = 0; k < shape[3]; k++) o[k] = yy[k] > 0 ? d[k] : (T)0 * d[k]; \
            }                                                                            \
}                                                                                        \
                                                                                         \
/* dx (r, h, w) of 2x2 max pooling with stride 2 over (r, h, w) images x whose maxima are \
 * y: each window's dout times 1 at its first value equal to the maximum (row-major) and  \
 * times 0 at the others, as neuralab.layers.MaxPooling2D's NumPy backward computes it;   \
 * the row and column no window covers (odd h or w) are 0. */                            \
void maxpool2_backward_##SUFFIX(i64 r, i64 h, i64 w, const T *x, const T *y,              \
                                const T *dout, T *dx) {                                  \
    i64 ho = h / 2, wo = w / 2;                                                          \
    if ((h | w) & 1) memset(dx, 0, (size_t)(r * h * w) * sizeof(T));                     \
    for (i64 i = 0; i < r; i++)                                                          \
        for (i64 a = 0; a < ho; a++) {                                                   \
            const T *x0 = x + (i * h + 2 * a) * w, *x1 = x0 + w;                         \
            T *d0 = dx + (i * h + 2 * a) * w, *d1 = d0 + w;                              \
            const T *yr = y + (i * ho + a) * wo, *dr = dout + (i * ho + a) * wo;         \
            for (i64 b = 0; b < wo; b++) {                                               \
                T m = yr[b], d = dr[b], zero = (T)0 * d;                                 \
                int e0 = x0[2 * b] == m, e1 = x0[2 * b + 1] == m;                        \
                int e2 = x1[2 * b] == m, e3 = x1[2 * b + 1] == m;                        \
                int h0 = e0, h1 = e1 & !e0, h2 = e2 & !(e0 | e1), h3 = e3 & !(e0 | e1 | e2); \
                d0[2 * b] = h0 ? d : zero;                                               \
                d0[2 * b + 1] = h1 ? d : zero;                                           \
                d1[2 * b] = h2 ? d : zero;                                               \
                d1[2 * b + 1] = h3 ? d : zero;                                           \
            }                                                                            \
        }                                                                                \
}

DEFINE_KERNELS(float, f32, sqrtf)
DEFINE_KERNELS(double, f64, sqrt)
