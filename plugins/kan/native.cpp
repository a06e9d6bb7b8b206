// Fused B-spline kernels of the KAN layer on CPU (loaded by native.py through ctypes; no Python or
// torch headers). One pass per input element does what the eager path needs five tensor passes for:
// locate the knot interval, evaluate the k + 1 active B-splines by Horner's rule and write them into
// their feature rows (forward), or gather their feature gradients and weight them by the splines'
// derivatives (backward). Feature layout, as in spline.py: batch row b starts at f + b * ld and
// holds B_m(x_i) at i * n_bases + m.
//
// Two ways to find the interval and its polynomials:
//   uniform:  s = x * scale[i] + shift[i]; j = floor(s); u = s - j. On a uniform grid the k + 1 active
//             bases are the same k + 1 polynomials of u on every interval: poly[r * (k + 1) + p].
//   general:  j by binary search in the input's knots; u = (x - t_j) * inv_width[i, j]; the
//             polynomials of every (input, interval) in poly[((i * n_int + j) * (k + 1) + r) * (k + 1) + p].
// Bases that do not exist (m < 0 or m >= n_bases, near the grid's ends) are skipped; outside the
// extended grid every basis is 0, as in the paper's definition.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace {

struct Grid {
    int64_t n_in, k, n_int, n_bases;
    int uniform;
    const void *scale, *shift;         // uniform: (in,)
    const void *knots, *inv_width;     // general: (in, n_knots), (in, n_int)
    const void *poly, *dpoly;          // see above; dpoly: k per basis, d/du (uniform, times scale) or d/dx
};

// General grids: the interval by binary search in the input's knots, u in [0, 1) on it
template <typename T>
inline bool locate(const Grid &g, int64_t i, T x, int64_t &j, T &u) {
    const int64_t n_knots = g.n_int + 1;
    const T *t = static_cast<const T *>(g.knots) + i * n_knots;
    if (!(x >= t[0]) || !(x < t[n_knots - 1])) return false;  // also NaN
    j = (std::upper_bound(t, t + n_knots, x) - t) - 1;
    u = (x - t[j]) * static_cast<const T *>(g.inv_width)[i * g.n_int + j];
    return true;
}

// general grids: the coefficients of interval j's active bases, `degree + 1` per basis, highest last
template <typename T>
inline const T *table(const Grid &g, const void *poly, int64_t i, int64_t j, int64_t degree) {
    return static_cast<const T *>(poly) + (i * g.n_int + j) * (g.k + 1) * (degree + 1);
}

template <typename T>
inline T horner(const T *c, int64_t degree, T u) {
    T v = c[degree];
    for (int64_t p = degree - 1; p >= 0; --p) v = v * u + c[p];
    return v;
}

// Uniform grids, one batch row at a time in two loops: the first, branch-free over the inputs,
// vectorises (interval, u and the k + 1 values, zeroed outside the grid); the second writes each
// value to its basis row.
template <typename T>
struct UniformRow {
    std::vector<T> interval, u, values;  // interval index as T (-1 outside), u in [0, 1), values (k + 1, in)
    explicit UniformRow(const Grid &g) : interval(g.n_in), u(g.n_in), values((g.k + 1) * g.n_in) {}

    void locate(const Grid &g, const T *__restrict x) {
        const T *__restrict scale = static_cast<const T *>(g.scale);
        const T *__restrict shift = static_cast<const T *>(g.shift);
        T *__restrict j = interval.data();
        T *__restrict local = u.data();
        const T top = static_cast<T>(g.n_int);
        for (int64_t i = 0; i < g.n_in; ++i) {
            const T s = x[i] * scale[i] + shift[i];
            const bool inside = (s >= 0) & (s < top);  // false for NaN
            const T f = std::floor(s);
            j[i] = inside ? f : T(-1);
            local[i] = inside ? s - f : T(0);
        }
    }

    // values[r, i] = sum_p c[r, p] u_i^p by Horner's rule, inputs innermost (vectorises)
    void evaluate(const Grid &g, const void *poly, int64_t degree) {
        const T *c = static_cast<const T *>(poly);
        const T *__restrict local = u.data();
        for (int64_t r = 0; r <= g.k; ++r) {
            const T *cr = c + r * (degree + 1);
            T *__restrict v = values.data() + r * g.n_in;
            const T top = cr[degree];
            for (int64_t i = 0; i < g.n_in; ++i) v[i] = top;
            for (int64_t p = degree - 1; p >= 0; --p) {
                const T coefficient = cr[p];
                for (int64_t i = 0; i < g.n_in; ++i) v[i] = v[i] * local[i] + coefficient;
            }
        }
    }
};

template <typename T>
void features_rows(const Grid &g, const T *x, T *f, int64_t ld, int64_t begin, int64_t end) {
    const int64_t n_in = g.n_in, k = g.k;
    if (g.uniform) {
        UniformRow<T> work(g);
        for (int64_t b = begin; b < end; ++b) {
            T *row = f + b * ld;
            std::memset(row, 0, sizeof(T) * g.n_bases * n_in);
            work.locate(g, x + b * n_in);
            work.evaluate(g, g.poly, k);
            for (int64_t i = 0; i < n_in; ++i) {
                const int64_t j = static_cast<int64_t>(work.interval[i]);
                if (j < 0) continue;
                for (int64_t r = 0; r <= k; ++r) {
                    const int64_t m = j - k + r;
                    if (m >= 0 && m < g.n_bases) row[i * g.n_bases + m] = work.values[r * n_in + i];
                }
            }
        }
        return;
    }
    for (int64_t b = begin; b < end; ++b) {
        T *row = f + b * ld;
        std::memset(row, 0, sizeof(T) * g.n_bases * n_in);
        for (int64_t i = 0; i < n_in; ++i) {
            int64_t j;
            T u;
            if (!locate(g, i, x[b * n_in + i], j, u)) continue;
            const T *c = table<T>(g, g.poly, i, j, k);
            for (int64_t r = 0; r <= k; ++r) {
                const int64_t m = j - k + r;
                if (m >= 0 && m < g.n_bases) row[i * g.n_bases + m] = horner(c + r * (k + 1), k, u);
            }
        }
    }
}

template <typename T>
void input_grad_rows(const Grid &g, const T *x, const T *gf, int64_t ld, T *grad_x, int64_t begin, int64_t end) {
    const int64_t n_in = g.n_in, k = g.k;
    if (g.uniform) {
        UniformRow<T> work(g);
        const T *scale = static_cast<const T *>(g.scale);
        for (int64_t b = begin; b < end; ++b) {
            const T *row = gf + b * ld;
            work.locate(g, x + b * n_in);
            work.evaluate(g, g.dpoly, k - 1);
            T *out = grad_x + b * n_in;
            for (int64_t i = 0; i < n_in; ++i) {
                const int64_t j = static_cast<int64_t>(work.interval[i]);
                if (j < 0) continue;
                T sum = 0;
                for (int64_t r = 0; r <= k; ++r) {
                    const int64_t m = j - k + r;
                    if (m >= 0 && m < g.n_bases) sum += work.values[r * n_in + i] * row[i * g.n_bases + m];
                }
                out[i] += sum * scale[i];
            }
        }
        return;
    }
    for (int64_t b = begin; b < end; ++b) {
        const T *row = gf + b * ld;
        for (int64_t i = 0; i < n_in; ++i) {
            int64_t j;
            T u;
            if (!locate(g, i, x[b * n_in + i], j, u)) continue;
            const T *c = table<T>(g, g.dpoly, i, j, k - 1);
            T sum = 0;
            for (int64_t r = 0; r <= k; ++r) {
                const int64_t m = j - k + r;
                if (m >= 0 && m < g.n_bases) sum += horner(c + r * k, k - 1, u) * row[i * g.n_bases + m];
            }
            grad_x[b * n_in + i] += sum;
        }
    }
}

// run body(begin, end) over [0, batch) on up to n_threads threads; small batches stay on this one
template <typename Body>
void parallel_rows(int64_t batch, int64_t n_in, int64_t n_threads, Body body) {
    const int64_t min_elements = 1 << 14;  // below this a thread costs more than it saves
    n_threads = std::max<int64_t>(1, std::min(n_threads, batch * n_in / min_elements));
    if (n_threads == 1) {
        body(0, batch);
        return;
    }
    std::vector<std::thread> workers;
    const int64_t step = (batch + n_threads - 1) / n_threads;
    for (int64_t t = 1; t < n_threads; ++t) {
        const int64_t begin = std::min(batch, t * step), end = std::min(batch, (t + 1) * step);
        workers.emplace_back(body, begin, end);
    }
    body(0, std::min(batch, step));
    for (auto &w : workers) w.join();
}

Grid make_grid(int64_t n_in, int64_t k, int64_t n_int, int64_t n_bases, int uniform, const void *scale,
               const void *shift, const void *knots, const void *inv_width, const void *poly, const void *dpoly) {
    return Grid{n_in, k, n_int, n_bases, uniform, scale, shift, knots, inv_width, poly, dpoly};
}

// The spline weight (out, in, nb) = coef (in, out, nb) with in and out swapped, times scale_sp * mask:
// whole rows of nb values, which torch's element-wise ops handle slowly for nb ~ 8.
template <typename T>
void spline_weight(const T *coef, const T *scale_sp, const T *mask, int64_t n_in, int64_t n_out, int64_t nb,
                   T *out) {
    for (int64_t i = 0; i < n_in; ++i)
        for (int64_t o = 0; o < n_out; ++o) {
            const T s = scale_sp[i * n_out + o] * mask[i * n_out + o];
            const T *c = coef + (i * n_out + o) * nb;
            T *w = out + (o * n_in + i) * nb;
            for (int64_t m = 0; m < nb; ++m) w[m] = c[m] * s;
        }
}

// Its gradient back in the parameters' layouts: with g = grad_t (out, in, nb) swapped to (in, out, nb),
// grad_coef = g * scale_sp * mask and grad_sp = mask * sum_m g * coef (either may be null).
template <typename T>
void spline_grads(const T *grad_t, const T *coef, const T *scale_sp, const T *mask, int64_t n_in, int64_t n_out,
                  int64_t nb, T *grad_coef, T *grad_sp) {
    for (int64_t i = 0; i < n_in; ++i)
        for (int64_t o = 0; o < n_out; ++o) {
            const int64_t edge = i * n_out + o;
            const T *g = grad_t + (o * n_in + i) * nb;
            if (grad_sp) {
                const T *c = coef + edge * nb;
                T dot = 0;
                for (int64_t m = 0; m < nb; ++m) dot += g[m] * c[m];
                grad_sp[edge] = dot * mask[edge];
            }
            if (grad_coef) {
                const T s = scale_sp[edge] * mask[edge];
                T *out = grad_coef + edge * nb;
                for (int64_t m = 0; m < nb; ++m) out[m] = g[m] * s;
            }
        }
}

}  // namespace

#define KAN_GRID_ARGS                                                                                     \
    int64_t n_in, int64_t k, int64_t n_int, int64_t n_bases, int uniform, const void *scale, const void *shift, \
        const void *knots, const void *inv_width, const void *poly, const void *dpoly
#define KAN_GRID make_grid(n_in, k, n_int, n_bases, uniform, scale, shift, knots, inv_width, poly, dpoly)

#define KAN_EXPORT(T, suffix)                                                                                  \
    extern "C" void kan_features_##suffix(KAN_GRID_ARGS, const T *x, int64_t batch, T *f, int64_t ld,          \
                                          int64_t n_threads) {                                                 \
        const Grid g = KAN_GRID;                                                                               \
        parallel_rows(batch, n_in, n_threads, [&](int64_t b, int64_t e) { features_rows<T>(g, x, f, ld, b, e); }); \
    }                                                                                                          \
    extern "C" void kan_input_grad_##suffix(KAN_GRID_ARGS, const T *x, int64_t batch, const T *gf, int64_t ld,  \
                                            T *grad_x, int64_t n_threads) {                                    \
        const Grid g = KAN_GRID;                                                                               \
        parallel_rows(batch, n_in, n_threads,                                                                  \
                      [&](int64_t b, int64_t e) { input_grad_rows<T>(g, x, gf, ld, grad_x, b, e); });           \
    }                                                                                                          \
    extern "C" void kan_spline_weight_##suffix(const T *coef, const T *scale_sp, const T *mask, int64_t n_in,   \
                                               int64_t n_out, int64_t nb, T *out) {                            \
        spline_weight<T>(coef, scale_sp, mask, n_in, n_out, nb, out);                                          \
    }                                                                                                          \
    extern "C" void kan_spline_grads_##suffix(const T *grad_t, const T *coef, const T *scale_sp, const T *mask, \
                                              int64_t n_in, int64_t n_out, int64_t nb, T *grad_coef,           \
                                              T *grad_sp) {                                                    \
        spline_grads<T>(grad_t, coef, scale_sp, mask, n_in, n_out, nb, grad_coef, grad_sp);                    \
    }

KAN_EXPORT(float, f32)
KAN_EXPORT(double, f64)
