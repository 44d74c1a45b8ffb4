// Weight histograms (W and Ŵ on shared symmetric edges) for the studio's distribution plots.
#include "bq/quant/analysis/analysis.h"
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace bq::quant {

double symmetricRange(const MatrixXfR& a, const MatrixXfR& b)
{
    double range = 0;
    for (const MatrixXfR* m : {&a, &b})
        for (Eigen::Index i = 0; i < m->size(); ++i) {
            const double v = std::abs(double(m->data()[i]));
            if (std::isfinite(v))
                range = std::max(range, v);
        }
    return range > 0 ? range : 1.0;
}

Histogram histogram(const MatrixXfR& values, int bins, double range)
{
    if (bins < 1 || !(range > 0) || !std::isfinite(range))
        throw std::invalid_argument("histogram: bins = " + std::to_string(bins) + " must be >= 1 and range = " +
                                    std::to_string(range) + " finite and > 0");
    Histogram out;
    out.edges.resize(std::size_t(bins) + 1);
    for (int b = 0; b <= bins; ++b)
        out.edges[std::size_t(b)] = -range + 2 * range * double(b) / double(bins);
    out.counts.assign(std::size_t(bins), 0);
    const double scale = double(bins) / (2 * range);
    for (Eigen::Index i = 0; i < values.size(); ++i) {
        const double v = values.data()[i];
        if (!std::isfinite(v)) {
            ++out.nonFinite;
            continue;
        }
        // Clamp before converting: out-of-range values land in the end bins, +range in the last (closed) bin.
        const double position = std::clamp((v + range) * scale, 0.0, double(bins - 1));
        ++out.counts[std::size_t(position)];
    }
    return out;
}

} // namespace bq::quant
