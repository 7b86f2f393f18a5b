/* Direct stride-1 convolution on the flattened channels-first grid (float32), the layout
 * of neuralab/layers/conv.py: an input x (C, M) of padded images flattened row by row,
 * and a kernel offset (i, j) as a constant shift s = i*d*Wp + j*d along M, so that
 *
 *     out[f, q] = bias[f] + sum_b sum_c w[b, c, f] * x[c, q + s_b]       (q < M - s_max)
 *
 * on the full grid (columns whose window leaves the image are computed and dropped by the
 * caller), then max(., 0) when use_relu is set (a fused ReLU). The input gradient is the same sum over dZ with the flipped kernel (a full
 * convolution), and the kernel gradient is dw[b, c, f] = sum_q x[c, q + s_b] dz[f, q].
 *
 * Each output is accumulated in a fixed order: (b, c) for conv, VL lanes of q then their
 * sum for conv_dw. Compiled with -ffp-contract=fast, unlike elementwise.c: every
 * `acc += w * x`, in vectors or not, becomes one fused multiply-add where the CPU has them
 * (and stays a multiply and an add where it has not), so a column's value does not depend
 * on whether a full tile or an edge computed it. The vectors are GCC/Clang vector
 * extensions as wide as the machine's registers.
 */
#include <stdint.h>
#include <string.h>

typedef int64_t i64;
/* One vector register of floats, and tiles that keep their accumulators in registers:
 * AVX-512 has 32 registers of 16 floats, AVX2 16 of 8, SSE/NEON 16 of 4. (A 16-float
 * vector on an AVX2 machine spills: measured 33x slower.) */
#if defined(__AVX512F__)
#define VBYTES 64
enum { QV = 2, FT = 8, DW_FT = 8 };
#elif defined(__AVX__)
#define VBYTES 32
enum { QV = 2, FT = 4, DW_FT = 4 };
#else
#define VBYTES 16
enum { QV = 2, FT = 4, DW_FT = 4 };
#endif
typedef float vec __attribute__((vector_size(VBYTES), aligned(4), may_alias));
typedef int32_t ivec __attribute__((vector_size(VBYTES)));
enum { VL = VBYTES / 4 };  /* tile: QV*VL columns x FT filters */

/* The vector width this file was compiled for: the caller takes the GEMM path instead
 * below 32 bytes (SSE-only: measured 3-5x slower than with AVX2). */
int conv_vector_bytes(void) { return VBYTES; }

static inline vec load(const float *p) { return *(const vec *)p; }
static inline void store(float *p, vec v) { *(vec *)p = v; }
/* max(a, 0) that keeps NaN (as NumPy's maximum): zero the lanes that are below 0 */
static inline vec relu(vec a) { return (vec)((ivec)a & ~(a < (vec){0})); }

/* One tile of QV*VL columns and ft <= FT filters, the accumulators held in registers
 * (inlined with ft = FT, the compiler unrolls the filter loop). */
static inline __attribute__((always_inline)) void conv_tile(
        i64 c_in, i64 nshift, const i64 *shifts, const float *x, i64 ldx, const float *w,
        i64 f_out, i64 f0, const i64 ft, const float *bias, int use_relu, float *out,
        i64 ldo) {
    vec acc[FT][QV];
    for (i64 t = 0; t < ft; t++)
        for (int v = 0; v < QV; v++)
            acc[t][v] = (vec){0} + (bias ? bias[f0 + t] : 0.0f);
    for (i64 b = 0; b < nshift; b++)
        for (i64 c = 0; c < c_in; c++) {
            const float *xr = x + c * ldx + shifts[b];
            const float *wr = w + (b * c_in + c) * f_out + f0;
            vec xv[QV];
            for (int v = 0; v < QV; v++) xv[v] = load(xr + v * VL);
            for (i64 t = 0; t < ft; t++)
                for (int v = 0; v < QV; v++) acc[t][v] += wr[t] * xv[v];
        }
    for (i64 t = 0; t < ft; t++)
        for (int v = 0; v < QV; v++)
            store(out + (f0 + t) * ldo + v * VL, use_relu ? relu(acc[t][v]) : acc[t][v]);
}

/* The same sums for the columns of a partial tile, one value at a time. */
static void conv_edge(i64 n, i64 c_in, i64 nshift, const i64 *shifts, const float *x,
                      i64 ldx, const float *w, i64 f_out, i64 f0, i64 ft, const float *bias,
                      int use_relu, float *out, i64 ldo) {
    for (i64 t = 0; t < ft; t++)
        for (i64 k = 0; k < n; k++) {
            float acc = bias ? bias[f0 + t] : 0.0f;
            for (i64 b = 0; b < nshift; b++)
                for (i64 c = 0; c < c_in; c++)
                    acc += w[(b * c_in + c) * f_out + f0 + t] * x[c * ldx + shifts[b] + k];
            out[(f0 + t) * ldo + k] = use_relu && acc < 0 ? 0.0f : acc;
        }
}

void conv_f32(i64 c_in, i64 f_out, i64 q0, i64 q1, const float *x, i64 ldx, const float *w,
              const i64 *shifts, i64 nshift, const float *bias, int use_relu, float *out,
              i64 ldo) {
    for (i64 q = q0; q < q1; q += QV * VL) {
        i64 n = q1 - q < QV * VL ? q1 - q : QV * VL;
        for (i64 f0 = 0; f0 < f_out; f0 += FT) {
            i64 ft = f_out - f0 < FT ? f_out - f0 : FT;
            if (n == QV * VL && ft == FT)
                conv_tile(c_in, nshift, shifts, x + q, ldx, w, f_out, f0, FT, bias, use_relu,
                          out + q, ldo);
            else if (n == QV * VL)
                conv_tile(c_in, nshift, shifts, x + q, ldx, w, f_out, f0, ft, bias, use_relu,
                          out + q, ldo);
            else
                conv_edge(n, c_in, nshift, shifts, x + q, ldx, w, f_out, f0, ft, bias,
                          use_relu, out + q, ldo);
        }
    }
}

/* dw[b, c, f] = sum over q in [q0, q1) of x[c, q + s_b] dz[f, q]: per weight, VL lanes
 * (lane l takes the columns q0 + l, q0 + l + VL, ...), then the lanes summed in order.
 * DW_B shifts and DW_FT filters at a time share their loads of x and dz. */
enum { DW_B = 3 };

static void dw_group(i64 nb, i64 ft, i64 q0, i64 q1, const float *x, const float *dz, i64 ldz,
                     const i64 *shifts, float *dw, i64 c_in, i64 f_out) {
    i64 full = q0 + (q1 - q0) / VL * VL;
    vec acc[DW_B][DW_FT];
    for (int i = 0; i < DW_B; i++)
        for (int t = 0; t < DW_FT; t++) acc[i][t] = (vec){0};
    if (nb == DW_B && ft == DW_FT) {
        for (i64 q = q0; q < full; q += VL) {
            vec xv[DW_B];
            for (int i = 0; i < DW_B; i++) xv[i] = load(x + shifts[i] + q);
            for (int t = 0; t < DW_FT; t++) {
                vec d = load(dz + t * ldz + q);
                for (int i = 0; i < DW_B; i++) acc[i][t] += xv[i] * d;
            }
        }
    } else {
        for (i64 q = q0; q < full; q += VL)
            for (i64 t = 0; t < ft; t++) {
                vec d = load(dz + t * ldz + q);
                for (i64 i = 0; i < nb; i++) acc[i][t] += load(x + shifts[i] + q) * d;
            }
    }
    for (i64 i = 0; i < nb; i++)
        for (i64 t = 0; t < ft; t++) {
            float lane[VL];
            memcpy(lane, &acc[i][t], sizeof lane);
            for (i64 q = full; q < q1; q++)
                lane[q - full] += x[shifts[i] + q] * dz[t * ldz + q];
            float sum = 0.0f;
            for (int l = 0; l < VL; l++) sum += lane[l];
            dw[i * c_in * f_out + t] = sum;
        }
}

void conv_dw_f32(i64 c_in, i64 f_out, i64 q0, i64 q1, const float *x, i64 ldx,
                 const float *dz, i64 ldz, const i64 *shifts, i64 nshift, float *dw) {
    for (i64 c = 0; c < c_in; c++)
        for (i64 b = 0; b < nshift; b += DW_B)
            for (i64 f0 = 0; f0 < f_out; f0 += DW_FT)
                dw_group(nshift - b < DW_B ? nshift - b : DW_B,
                         f_out - f0 < DW_FT ? f_out - f0 : DW_FT, q0, q1, x + c * ldx,
                         dz + f0 * ldz, ldz, shifts + b, dw + (b * c_in + c) * f_out + f0,
                         c_in, f_out);
}
