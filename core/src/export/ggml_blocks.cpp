#include "bq/export/ggml_blocks.h"
#include "bq/model/tensor_types.h"
#include "bq/util/fp16.h"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace bq::exporter {

namespace {

std::string at(Eigen::Index row, Eigen::Index block, int blockSize)
{
    return "row " + std::to_string(row) + ", columns " + std::to_string(block * blockSize) + ".." +
           std::to_string(block * blockSize + blockSize - 1);
}

std::string num(float v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
    return buf;
}

// The q − 8 levels of one Q4_0 block of n values for scale d, or false when some value is not exactly (q − 8)·d.
bool q4Levels(const float* v, int n, float d, std::int8_t* level)
{
    if (!(d > 0.0f) || !std::isfinite(d))
        return false;
    for (int j = 0; j < n; ++j) {
        const long q = std::lround(v[j] / d);
        if (q < -8 || q > 7 || static_cast<float>(q) * d != v[j])
            return false;
        level[j] = static_cast<std::int8_t>(q);
    }
    return true;
}

} // namespace

std::string packQ1_0(const MatrixXfR& w, std::vector<std::byte>& out)
{
    const TensorTypeTraits& type = tensorType(DType::Q1_0);
    const int block = type.blockSize;
    const Eigen::Index n = w.rows(), m = w.cols();
    if (m % block != 0)
        throw std::invalid_argument("packQ1_0: " + std::to_string(m) + " columns is not a multiple of " +
                                    std::to_string(block));
    const std::size_t start = out.size();
    out.resize(start + static_cast<std::size_t>(n) * type.rowBytes(m));
    std::byte* dst = out.data() + start;
    std::vector<std::int8_t> signs(static_cast<std::size_t>(block));
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index b = 0; b < m / block; ++b, dst += type.blockBytes) {
            const float* v = w.data() + i * m + b * block;
            const float d = std::fabs(v[0]);
            if (roundToHalf(d) != d) {
                out.resize(start);
                return at(i, b, block) + ": magnitude " + num(d) + " is not an fp16 value";
            }
            for (int j = 0; j < block; ++j) {
                if (std::fabs(v[j]) != d) {
                    out.resize(start);
                    return at(i, b, block) + ": holds the magnitudes " + num(d) + " and " + num(std::fabs(v[j])) +
                           " (Q1_0 has one magnitude per 128 weights)";
                }
                signs[static_cast<std::size_t>(j)] = v[j] >= 0.0f ? 1 : -1;
            }
            type.encodeBlock(floatToHalf(d), signs.data(), dst);
        }
    return {};
}

std::string packQ4_0(const MatrixXfR& w, std::vector<std::byte>& out)
{
    const TensorTypeTraits& type = tensorType(DType::Q4_0);
    const int block = type.blockSize;
    const Eigen::Index n = w.rows(), m = w.cols();
    if (m % block != 0)
        throw std::invalid_argument("packQ4_0: " + std::to_string(m) + " columns is not a multiple of " +
                                    std::to_string(block));
    const std::size_t start = out.size();
    out.resize(start + static_cast<std::size_t>(n) * type.rowBytes(m));
    std::byte* dst = out.data() + start;
    std::vector<std::int8_t> level(static_cast<std::size_t>(block));
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index b = 0; b < m / block; ++b, dst += type.blockBytes) {
            const float* v = w.data() + i * m + b * block;
            float amax = 0.0f, amin = INFINITY;
            for (int j = 0; j < block; ++j) {
                const float a = std::fabs(v[j]);
                amax = std::max(amax, a);
                if (a > 0.0f)
                    amin = std::min(amin, a);
            }
            float d = 0.0f;
            bool found = amax == 0.0f;
            if (found)
                std::fill(level.begin(), level.end(), std::int8_t(0));
            // The largest magnitude is |q − 8|·d for some |q − 8| <= 8; so is the smallest non-zero one.
            for (int k = 1; k <= 8 && !found; ++k)
                for (float a : {amax, amin}) {
                    d = roundToHalf(a / static_cast<float>(k));
                    if (q4Levels(v, block, d, level.data())) {
                        found = true;
                        break;
                    }
                }
            if (!found) {
                out.resize(start);
                return at(i, b, block) + ": the values (largest magnitude " + num(amax) +
                       ") lie on no grid (q − 8)·d with one fp16 d and q in 0..15";
            }
            type.encodeBlock(floatToHalf(d), level.data(), dst);
        }
    return {};
}

QuantizedLinear refitToQ1_0(const QuantizedLinear& layer)
{
    if (layer.cols % 128 != 0)
        throw std::invalid_argument("refitToQ1_0: " + layer.tensor + " has " + std::to_string(layer.cols) +
                                    " columns, not a multiple of 128");
    const MatrixXfR w = layer.dequantize();
    QuantizedLinear out;
    out.tensor = layer.tensor;
    out.method = "q1_0-refit";
    out.rows = layer.rows;
    out.cols = layer.cols;
    out.storageBitsPerWeight = tensorType(DType::Q1_0).bitsPerWeight();
    SignPlane p;
    p.group = 128;
    p.signs.resize(layer.rows, layer.cols);
    p.rowScale.resize(layer.rows, layer.cols / 128);
    for (Eigen::Index i = 0; i < layer.rows; ++i)
        for (Eigen::Index b = 0; b < layer.cols / 128; ++b) {
            double sum = 0;
            for (Eigen::Index j = b * 128; j < b * 128 + 128; ++j) {
                p.signs(i, j) = w(i, j) >= 0.0f ? 1 : -1;
                sum += std::fabs(static_cast<double>(w(i, j)));
            }
            p.rowScale(i, b) = roundToHalf(static_cast<float>(sum / 128.0));
        }
    out.planes.push_back(std::move(p));
    return out;
}

std::string q1_0Obstacle(const QuantizedLinear& q)
{
    // Each obstacle once, with the number of planes that have it ("column scales (6 planes)").
    std::vector<std::pair<std::string, int>> why;
    auto add = [&](const std::string& w) {
        for (auto& [text, count] : why)
            if (text == w) {
                ++count;
                return;
            }
        why.emplace_back(w, 1);
    };
    if (q.cols % 128 != 0)
        add(std::to_string(q.cols) + " columns (not a multiple of 128)");
    if (q.planes.size() != 1)
        add(std::to_string(q.planes.size()) + " sign planes (Q1_0 holds one)");
    if (q.codes)
        add("a " + std::to_string(q.codes->bits) + "-bit code plane");
    for (const auto& p : q.planes) {
        if (p.mask.kind == PlaneMask::Kind::Columns)
            add("column masks");
        if (p.mask.kind == PlaneMask::Kind::Elements)
            add("element bitmaps");
        if (p.group != 128)
            add("scale group " + (p.group == 0 ? std::string("whole row") : std::to_string(p.group)) +
                " instead of 128");
        if (p.colScale.size() != 0)
            add("column scales");
        if (p.mean.size() != 0)
            add("group means");
        bool negative = false, notHalf = false;
        for (Eigen::Index e = 0; e < p.rowScale.size(); ++e) {
            const float d = p.rowScale.data()[e];
            negative |= !(d >= 0.0f);
            notHalf |= roundToHalf(d) != d;
        }
        if (negative)
            add("negative scales");
        if (notHalf)
            add("scales that are not fp16 values");
    }
    std::string s;
    for (const auto& [text, count] : why)
        s += (s.empty() ? "" : ", ") + text +
             (count > 1 ? " (" + std::to_string(count) + " planes)" : std::string());
    return s.empty() ? "values that are not ±d per 128-block" : s;
}

} // namespace bq::exporter
