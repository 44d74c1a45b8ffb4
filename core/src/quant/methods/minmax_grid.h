// The min–max asymmetric/symmetric grid of IST-DASLab/gptq quant.py (methods.md §3.2, §3.8), shared by rtn1 and
// gptq. Scale and zero are rounded to fp16 (their stored precision) before any weight is quantized with them.
#pragma once
#include "bq/util/fp16.h"
#include <algorithm>
#include <cmath>

namespace bq::quant::methods {

struct MinMaxGrid {
    float scale = 0; // fp16-representable
    float zero = 0;  // integer, fp16-representable
    int maxq = 1;

    // quant.py find_params from a group's min and max.
    static MinMaxGrid fromRange(float lo, float hi, int bits, bool sym)
    {
        MinMaxGrid g;
        g.maxq = (1 << bits) - 1;
        lo = std::min(lo, 0.0f);
        hi = std::max(hi, 0.0f);
        if (sym) {
            hi = std::max(std::fabs(lo), hi);
            if (lo < 0) lo = -hi;
        }
        if (lo == 0 && hi == 0) lo = -1, hi = 1; // all-zero group: reference range [−1, 1]
        const float s = (hi - lo) / float(g.maxq);
        g.zero = sym ? float((g.maxq + 1) / 2) : std::nearbyint(-lo / s);
        g.scale = roundToHalf(s);
        return g;
    }
    int code(float x) const
    {
        if (scale == 0) return int(std::clamp(zero, 0.0f, float(maxq))); // fp16 underflow: every weight → 0
        return int(std::clamp(std::nearbyint(x / scale) + zero, 0.0f, float(maxq)));
    }
    float value(int q) const { return scale * (float(q) - zero); }
};

} // namespace bq::quant::methods
