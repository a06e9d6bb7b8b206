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
//   general:  j = the number of interior knots at or below x (counted branch-free: a binary search
//             mispredicts most of its steps); u = (x - t_j) * inv_width[i, j]; the polynomials of every
//             (input, interval) in poly[((i * n_int + j) * (k + 1) + r) * (k + 1) + p].
// Bases that do not exist (m < 0 or m >= n_bases, near the grid's ends) are skipped; outside the
// extended grid every basis is 0, as in the paper's definition.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

struct Grid {
    int64_t n_in, k, n_int, n_bases;
    int uniform;
    const void *scale, *shift;         // uniform: (in,)
    const void *knots, *inv_width;     // general: (n_knots, in), knot-major; (in, n_int)
    const void *poly, *dpoly;          // see above; dpoly: k per basis, d/du (uniform, times scale) or d/dx
};

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

// Of the k + 1 bases active on interval j (basis j - k + r for r = 0..k), those that exist: all of
// them except in the k intervals at each end of the extended grid.
inline int64_t first_basis(int64_t j, int64_t k) { return std::max<int64_t>(0, k - j); }
inline int64_t last_basis(int64_t j, int64_t k, int64_t n_bases) { return std::min<int64_t>(k, n_bases - 1 - j + k); }

// The k + 1 active values of an input to or from its adjacent basis columns, unrolled for the usual
// orders: a loop of run-time length costs more in bookkeeping than its few moves.
template <typename T, int K>
inline void copy_fixed(T *__restrict dst, const T *__restrict v) {
    for (int r = 0; r <= K; ++r) dst[r] = v[r];
}

template <typename T>
inline void copy_active(T *__restrict dst, const T *__restrict v, int64_t k) {
    switch (k) {
        case 1: return copy_fixed<T, 1>(dst, v);
        case 2: return copy_fixed<T, 2>(dst, v);
        case 3: return copy_fixed<T, 3>(dst, v);
        case 4: return copy_fixed<T, 4>(dst, v);
        case 5: return copy_fixed<T, 5>(dst, v);
    }
    for (int64_t r = 0; r <= k; ++r) dst[r] = v[r];
}

template <typename T, int K>
inline T dot_fixed(const T *a, const T *b) {
    T sum = 0;
    for (int r = 0; r <= K; ++r) sum += a[r] * b[r];
    return sum;
}

template <typename T>
inline T dot_active(const T *a, const T *b, int64_t k) {
    switch (k) {
        case 1: return dot_fixed<T, 1>(a, b);
        case 2: return dot_fixed<T, 2>(a, b);
        case 3: return dot_fixed<T, 3>(a, b);
        case 4: return dot_fixed<T, 4>(a, b);
        case 5: return dot_fixed<T, 5>(a, b);
    }
    T sum = 0;
    for (int64_t r = 0; r <= k; ++r) sum += a[r] * b[r];
    return sum;
}

// One batch row at a time in two loops: the first, branch-free over the inputs, finds every input's
// interval and u and evaluates its k + 1 active values (zeroed outside the grid); the second writes
// each value to its basis column or gathers from it.
template <typename T>
struct RowWork {
    std::vector<T> interval, u, values;  // interval index as T (-1 outside), u in [0, 1), values (in, k + 1)
    explicit RowWork(const Grid &g) : interval(g.n_in), u(g.n_in), values((g.k + 1) * g.n_in) {}

    void locate(const Grid &g, const T *__restrict x) {
        if (g.uniform) {
            locate_uniform(g, x);
        } else {
            locate_general(g, x);
        }
    }

    void locate_general(const Grid &g, const T *__restrict x) {
        const T *__restrict t = static_cast<const T *>(g.knots);
        const T *__restrict inv_width = static_cast<const T *>(g.inv_width);
        T *__restrict j = interval.data();
        T *__restrict local = u.data();
        const int64_t n_in = g.n_in, last = g.n_int;  // knots t_0 .. t_last
        for (int64_t i = 0; i < n_in; ++i) j[i] = 0;
        for (int64_t m = 1; m < last; ++m) {  // vectorises over the inputs
            const T *__restrict tm = t + m * n_in;
            for (int64_t i = 0; i < n_in; ++i) j[i] += x[i] >= tm[i] ? T(1) : T(0);
        }
        const T *__restrict lowest = t, *__restrict highest = t + last * n_in;
        for (int64_t i = 0; i < n_in; ++i) {
            const bool inside = (x[i] >= lowest[i]) & (x[i] < highest[i]);  // false for NaN
            const int64_t ji = static_cast<int64_t>(j[i]);
            j[i] = inside ? j[i] : T(-1);
            local[i] = inside ? (x[i] - t[ji * n_in + i]) * inv_width[i * g.n_int + ji] : T(0);
        }
    }

    void locate_uniform(const Grid &g, const T *__restrict x) {
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

    // values[i, r] = the k + 1 active polynomials (of `degree`) at u_i, side by side as the second
    // loop reads them; outside the grid (interval -1) left as they were, never read
    void evaluate(const Grid &g, const void *poly, int64_t degree) {
        if (g.uniform) {
            evaluate_uniform(g, poly, degree);
            return;
        }
        const int64_t rows = g.k + 1;
        for (int64_t i = 0; i < g.n_in; ++i) {
            const int64_t j = static_cast<int64_t>(interval[i]);
            if (j < 0) continue;
            const T *c = table<T>(g, poly, i, j, degree);
            for (int64_t r = 0; r < rows; ++r) values[i * rows + r] = horner(c + r * (degree + 1), degree, u[i]);
        }
    }

    // Uniform grids: the same polynomials on every interval. For the usual orders the rows and
    // degree are compile-time constants, so each u_i is loaded once and the k + 1 polynomials stay
    // in registers (a pass per Horner step over memory costs 3x more).
    void evaluate_uniform(const Grid &g, const void *poly, int64_t degree) {
        const T *c = static_cast<const T *>(poly);
        switch (g.k * 8 + degree) {
            case 1 * 8 + 1: return evaluate_fixed<2, 1>(g, c);
            case 1 * 8 + 0: return evaluate_fixed<2, 0>(g, c);
            case 2 * 8 + 2: return evaluate_fixed<3, 2>(g, c);
            case 2 * 8 + 1: return evaluate_fixed<3, 1>(g, c);
            case 3 * 8 + 3: return evaluate_fixed<4, 3>(g, c);
            case 3 * 8 + 2: return evaluate_fixed<4, 2>(g, c);
            case 4 * 8 + 4: return evaluate_fixed<5, 4>(g, c);
            case 4 * 8 + 3: return evaluate_fixed<5, 3>(g, c);
            case 5 * 8 + 5: return evaluate_fixed<6, 5>(g, c);
            case 5 * 8 + 4: return evaluate_fixed<6, 4>(g, c);
        }
        const T *__restrict local = u.data();
        for (int64_t r = 0; r <= g.k; ++r) {
            const T *cr = c + r * (degree + 1);
            T *__restrict v = values.data() + r;
            const int64_t stride = g.k + 1;
            for (int64_t i = 0; i < g.n_in; ++i) {
                T acc = cr[degree];
                for (int64_t p = degree - 1; p >= 0; --p) acc = acc * local[i] + cr[p];
                v[i * stride] = acc;
            }
        }
    }

    template <int Rows, int Degree>
    void evaluate_fixed(const Grid &g, const T *c) {
        T coefficients[Rows][Degree + 1];
        for (int r = 0; r < Rows; ++r)
            for (int p = 0; p <= Degree; ++p) coefficients[r][p] = c[r * (Degree + 1) + p];
        const T *__restrict local = u.data();
        T *__restrict v = values.data();
        const int64_t n_in = g.n_in;
        for (int64_t i = 0; i < n_in; ++i) {
            const T x = local[i];
            for (int r = 0; r < Rows; ++r) {
                T acc = coefficients[r][Degree];
                for (int p = Degree - 1; p >= 0; --p) acc = acc * x + coefficients[r][p];
                v[i * Rows + r] = acc;
            }
        }
    }
};

template <typename T>
void features_rows(const Grid &g, const T *x, T *f, int64_t ld, int64_t begin, int64_t end) {
    const int64_t n_in = g.n_in, k = g.k;
    RowWork<T> work(g);
    for (int64_t b = begin; b < end; ++b) {
        T *row = f + b * ld;
        std::memset(row, 0, sizeof(T) * g.n_bases * n_in);
        work.locate(g, x + b * n_in);
        work.evaluate(g, g.poly, k);
        for (int64_t i = 0; i < n_in; ++i) {
            const int64_t j = static_cast<int64_t>(work.interval[i]);
            if (j < 0) continue;
            T *dst = row + i * g.n_bases + j - k;  // the active bases are adjacent columns
            const T *v = work.values.data() + i * (k + 1);
            const int64_t lo = first_basis(j, k), hi = last_basis(j, k, g.n_bases);
            if (lo == 0 && hi == k) {
                copy_active(dst, v, k);
            } else {
                for (int64_t r = lo; r <= hi; ++r) dst[r] = v[r];
            }
        }
    }
}

template <typename T>
void input_grad_rows(const Grid &g, const T *x, const T *gf, int64_t ld, T *grad_x, int64_t begin, int64_t end) {
    const int64_t n_in = g.n_in, k = g.k;
    RowWork<T> work(g);
    const T *scale = static_cast<const T *>(g.scale);  // uniform: d/du to d/dx (general tables hold d/dx)
    for (int64_t b = begin; b < end; ++b) {
        const T *row = gf + b * ld;
        work.locate(g, x + b * n_in);
        work.evaluate(g, g.dpoly, k - 1);
        T *out = grad_x + b * n_in;
        for (int64_t i = 0; i < n_in; ++i) {
            const int64_t j = static_cast<int64_t>(work.interval[i]);
            if (j < 0) continue;
            const int64_t lo = first_basis(j, k), hi = last_basis(j, k, g.n_bases);
            const T *src = row + i * g.n_bases + j - k;
            const T *v = work.values.data() + i * (k + 1);
            T sum = 0;
            if (lo == 0 && hi == k) {
                sum = dot_active(v, src, k);
            } else {
                for (int64_t r = lo; r <= hi; ++r) sum += v[r] * src[r];
            }
            out[i] += g.uniform ? sum * scale[i] : sum;
        }
    }
}

// below this many elements per thread, waking one costs more than it saves
inline int64_t threads_for(int64_t elements, int64_t n_threads) {
    const int64_t min_elements = 1 << 12;
    return std::max<int64_t>(1, std::min(n_threads, elements / min_elements));
}

// run body(begin, end) over [0, batch) in up to n_threads chunks, on torch's own OpenMP threads:
// native.py links this library against the OpenMP runtime torch loaded, so the pool is torch's (no
// second set of threads contending with its spinning workers) and torch.set_num_threads holds.
// Built without OpenMP, the pragma is ignored and the chunks run one after another.
template <typename Body>
void parallel_rows(int64_t batch, int64_t n_in, int64_t n_threads, Body body) {
    n_threads = threads_for(batch * n_in, n_threads);
    const int64_t step = (batch + n_threads - 1) / n_threads;
#pragma omp parallel for num_threads(n_threads) schedule(static, 1) if (n_threads > 1)
    for (int64_t t = 0; t < n_threads; ++t) body(std::min(batch, t * step), std::min(batch, (t + 1) * step));
}

Grid make_grid(int64_t n_in, int64_t k, int64_t n_int, int64_t n_bases, int uniform, const void *scale,
               const void *shift, const void *knots, const void *inv_width, const void *poly, const void *dpoly) {
    return Grid{n_in, k, n_int, n_bases, uniform, scale, shift, knots, inv_width, poly, dpoly};
}

// The spline weight (out, in, nb) = coef (in, out, nb) with in and out swapped, times scale_sp * mask:
// whole rows of nb values, which torch's element-wise ops handle slowly for nb ~ 8.
template <typename T>
void spline_weight(const T *__restrict coef, const T *__restrict scale_sp, const T *__restrict mask, int64_t n_in,
                   int64_t n_out, int64_t nb, T *__restrict out, int64_t n_threads) {
    n_threads = threads_for(n_in * n_out * nb, n_threads);
    // written in order, read strided: scattered writes cost more than scattered reads
#pragma omp parallel for num_threads(n_threads) schedule(static) if (n_threads > 1)
    for (int64_t o = 0; o < n_out; ++o)
        for (int64_t i = 0; i < n_in; ++i) {
            const T s = scale_sp[i * n_out + o] * mask[i * n_out + o];
            const T *c = coef + (i * n_out + o) * nb;
            T *w = out + (o * n_in + i) * nb;
            for (int64_t m = 0; m < nb; ++m) w[m] = c[m] * s;
        }
}

// Its gradient back in the parameters' layouts: with g = grad_t (out, in, nb) swapped to (in, out, nb),
// grad_coef = g * scale_sp * mask and grad_sp = mask * sum_m g * coef (either may be null).
template <typename T>
void spline_grads(const T *__restrict grad_t, const T *__restrict coef, const T *__restrict scale_sp,
                  const T *__restrict mask, int64_t n_in, int64_t n_out, int64_t nb, T *__restrict grad_coef,
                  T *__restrict grad_sp, int64_t n_threads) {
    n_threads = threads_for(n_in * n_out * nb, n_threads);
#pragma omp parallel for num_threads(n_threads) schedule(static) if (n_threads > 1)
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
                                               int64_t n_out, int64_t nb, T *out, int64_t n_threads) {         \
        spline_weight<T>(coef, scale_sp, mask, n_in, n_out, nb, out, n_threads);                               \
    }                                                                                                          \
    extern "C" void kan_spline_grads_##suffix(const T *grad_t, const T *coef, const T *scale_sp, const T *mask, \
                                              int64_t n_in, int64_t n_out, int64_t nb, T *grad_coef,           \
                                              T *grad_sp, int64_t n_threads) {                                 \
        spline_grads<T>(grad_t, coef, scale_sp, mask, n_in, n_out, nb, grad_coef, grad_sp, n_threads);         \
    }

KAN_EXPORT(float, f32)
KAN_EXPORT(double, f64)
