// methods.md §3.2 `rtn1`: 1-bit min–max round-to-nearest (IST-DASLab/gptq quant.py with bits = 1), per row or
// group. The range is widened to include 0, so one level is always 0 (variant "gptq", the reference
// behaviour). Variant "two_level" (Derived) fits both levels by 1-D two-means instead.
#include "method_factories.h"
#include "method_memory.h"
#include "minmax_grid.h"
#include "option_reader.h"
#include <cmath>

namespace bq::quant::methods {

namespace {

const char* kId = "rtn1";

const std::vector<OptionSpec>& schema()
{
    static const std::vector<OptionSpec> options{
        groupOption("row", "Columns per scale and zero: \"row\" (one pair per row) or a count"),
        choiceOption("variant", "gptq", {"gptq", "two_level"},
                     "gptq: min-max range widened to include 0 (the reference); two_level: both levels by two-means")};
    return options;
}

struct Options {
    int group;
    bool twoLevel;
};

Options read(const nlohmann::json& o)
{
    const OptionReader r(kId, schema(), o);
    return {r.group("group"), r.choice("variant") == "two_level"};
}

double bits(Eigen::Index, Eigen::Index m, const nlohmann::json& options)
{
    return 1.0 + 32.0 * double(groupsPerRow(m, read(options).group)) / double(m);
}

// One uint8 code per weight and a float scale and zero per group.
double residentPerWeight(Eigen::Index, Eigen::Index m, const nlohmann::json& options)
{
    return 1.0 + 8.0 * double(groupsPerRow(m, read(options).group)) / double(m);
}

// Two-means levels {lo, hi} of x (threshold at the midpoint, each level the mean of its side), returned as the
// stored grid ŵ = s·(q − z), s and z rounded to fp16.
MinMaxGrid twoLevelGrid(const float* x, Eigen::Index count)
{
    float lo = *std::min_element(x, x + count), hi = *std::max_element(x, x + count);
    if (lo == hi) { // one value c: levels {min(c,0), max(c,0)}, or {0, 1} for an all-zero group
        const float c = lo;
        lo = std::min(c, 0.0f), hi = std::max(c, 0.0f);
        if (lo == hi) hi = 1;
    } else {
        for (int iter = 0; iter < 100; ++iter) {
            const float t = 0.5f * (lo + hi);
            double sl = 0, sh = 0;
            Eigen::Index nl = 0;
            for (Eigen::Index j = 0; j < count; ++j)
                if (x[j] < t) sl += x[j], ++nl;
                else sh += x[j];
            const float nlo = float(sl / double(nl)), nhi = float(sh / double(count - nl));
            if (nlo == lo && nhi == hi) break;
            lo = nlo, hi = nhi;
        }
    }
    if (roundToHalf(hi - lo) == 0) { // levels closer than fp16 can store: one level at their mean, one at 0
        const float c = 0.5f * (lo + hi);
        lo = std::min(c, 0.0f), hi = std::max(c, 0.0f);
        if (roundToHalf(hi - lo) == 0) lo = 0, hi = 1;
    }
    MinMaxGrid g;
    g.maxq = 1;
    g.scale = roundToHalf(hi - lo);
    g.zero = roundToHalf(-lo / g.scale);
    return g;
}

QuantizedLinear run(const QuantizeRequest& request, MethodDiagnostics&)
{
    const MatrixXfR& W = requireWeight(request, kId);
    const Options opt = read(request.options);
    const Eigen::Index n = W.rows(), m = W.cols(), G = groupsPerRow(m, opt.group);
    const Eigen::Index width = opt.group <= 0 ? m : opt.group;

    QuantizedLinear q = emptyResult(request, kId);
    CodePlane c;
    c.bits = 1;
    c.group = opt.group;
    c.codes.resize(n, m);
    c.scale.resize(n, G);
    c.zero.resize(n, G);
    for (Eigen::Index i = 0; i < n; ++i) {
        checkCancel(request);
        for (Eigen::Index g = 0; g < G; ++g) {
            const Eigen::Index b = g * width, e = std::min(m, b + width);
            const float* x = &W(i, b);
            MinMaxGrid grid;
            if (opt.twoLevel) {
                grid = twoLevelGrid(x, e - b);
                const float l0 = grid.value(0), l1 = grid.value(1);
                for (Eigen::Index j = b; j < e; ++j)
                    c.codes(i, j) = std::fabs(W(i, j) - l1) < std::fabs(W(i, j) - l0) ? 1 : 0;
            } else {
                grid = MinMaxGrid::fromRange(*std::min_element(x, x + (e - b)), *std::max_element(x, x + (e - b)), 1,
                                             false);
                for (Eigen::Index j = b; j < e; ++j) c.codes(i, j) = std::uint8_t(grid.code(W(i, j)));
            }
            c.scale(i, g) = grid.scale;
            c.zero(i, g) = grid.zero;
        }
    }
    q.codes = std::move(c);
    q.storageBitsPerWeight = bits(n, m, request.options);
    return q;
}

} // namespace

MethodInfo rtn1Method()
{
    MethodInfo info;
    info.id = kId;
    info.title = "1-bit min–max round-to-nearest (RTN)";
    info.description = "GPTQ's min–max quantizer at 1 bit per row or group (quant.py): the range includes 0, so "
                       "one level is 0 and the minority sign collapses to 0 (the papers' \"RTN 1-bit\" rows). "
                       "variant=two_level fits both levels by two-means instead. No calibration. Stores 1 bit + "
                       "fp16 scale + fp16 zero per group: 1 + 32/g bits.";
    info.options = schema();
    info.unsupportedReason = [](Eigen::Index, Eigen::Index, const nlohmann::json& o) {
        return optionProblem([&] { read(o); });
    };
    info.estimateBits = bits;
    info.residentBytesPerWeight = residentPerWeight;
    info.workingBytes = [](Eigen::Index n, Eigen::Index m, const nlohmann::json&) { return weightCopyBytes(n, m); };
    info.quantize = run;
    return info;
}

} // namespace bq::quant::methods
