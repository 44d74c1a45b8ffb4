#include "bq/formats/bitstudio_gguf.h"
#include "bq/formats/gguf_file.h"
#include "bq/model/model.h"
#include "bq/util/errors.h"
#include "bq/util/fp16.h"
#include "bq/util/limits.h"
#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace bq {


namespace {

std::int64_t packedBytes(Eigen::Index m) { return (m + 7) / 8; }

// Bits of an n × m predicate, rows padded to whole bytes, LSB first (the Q1_0 order).
template <typename Bit> std::vector<std::byte> packBits(Eigen::Index n, Eigen::Index m, Bit bit)
{
    const std::int64_t mb = packedBytes(m);
    std::vector<std::byte> out(static_cast<std::size_t>(n * mb), std::byte{0});
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < m; ++j)
            if (bit(i, j))
                out[static_cast<std::size_t>(i * mb + j / 8)] |= std::byte(1u << (j % 8));
    return out;
}

bool fitsHalf(const float* v, Eigen::Index count)
{
    for (Eigen::Index k = 0; k < count; ++k)
        if (!(roundToHalf(v[k]) == v[k]) || std::signbit(roundToHalf(v[k])) != std::signbit(v[k]))
            return false;
    return true;
}

// F16 when exact, else F32; `values` row-major with the given shape.
Tensor floatComponent(const std::string& name, std::vector<std::int64_t> shape, const float* values, Eigen::Index count)
{
    if (fitsHalf(values, count)) {
        std::vector<std::byte> bytes(static_cast<std::size_t>(count) * 2);
        for (Eigen::Index k = 0; k < count; ++k) {
            const std::uint16_t h = floatToHalf(values[k]);
            std::memcpy(bytes.data() + 2 * k, &h, 2);
        }
        return makeOwnedTensor(name, DType::F16, std::move(shape), std::move(bytes));
    }
    return makeF32Tensor(name, std::move(shape), std::vector<float>(values, values + count));
}

// Eigen::MatrixXf is column-major: copy to row-major first.
Tensor matrixComponent(const std::string& name, const Eigen::MatrixXf& m)
{
    const MatrixXfR r = m;
    return floatComponent(name, {r.rows(), r.cols()}, r.data(), r.size());
}

const char* maskName(PlaneMask::Kind k)
{
    switch (k) {
    case PlaneMask::Kind::All: return "all";
    case PlaneMask::Kind::Columns: return "columns";
    case PlaneMask::Kind::Elements: return "elements";
    }
    return "all";
}

class LayerReader {
public:
    LayerReader(const GgufFile& f, std::string tensor) : m_f(f), m_tensor(std::move(tensor)) {}

    [[noreturn]] void fail(const std::string& field, const std::string& expected) const
    {
        throw FormatError(m_f.path().string(), field, expected + " (bitstudio layer " + m_tensor + ")");
    }

    Tensor get(const std::string& name, std::vector<std::int64_t> shape, bool isFloat) const
    {
        const GgufTensorInfo* info = m_f.findTensor(name);
        std::string want = "[";
        for (std::size_t i = 0; i < shape.size(); ++i)
            want += (i ? ", " : "") + std::to_string(shape[i]);
        want += "]";
        if (!info)
            fail("tensor " + name, std::string(isFloat ? "an F16/F32" : "an I8") + " tensor of shape " + want);
        Tensor t = m_f.tensor(*info);
        const bool typeOk = isFloat ? (t.dtype == DType::F16 || t.dtype == DType::F32) : t.dtype == DType::I8;
        if (!typeOk)
            fail("tensor " + name, std::string(isFloat ? "type F16 or F32" : "type I8") + ", found " +
                                       dtypeName(t.dtype));
        if (t.shape != shape)
            fail("tensor " + name, "shape " + want + ", found " + t.shapeString());
        return t;
    }
    Eigen::MatrixXf matrix(const std::string& name, Eigen::Index rows, Eigen::Index cols) const
    {
        const auto v = get(name, {rows, cols}, true).toFloat();
        return Eigen::Map<const MatrixXfR>(v.data(), rows, cols);
    }

private:
    const GgufFile& m_f;
    std::string m_tensor;
};

bool bitAt(const std::byte* row, Eigen::Index j) { return (std::to_integer<unsigned>(row[j / 8]) >> (j % 8)) & 1u; }

} // namespace

std::string componentBase(const std::string& tensor)
{
    const std::string suffix = ".weight";
    if (tensor.size() > suffix.size() && tensor.compare(tensor.size() - suffix.size(), suffix.size(), suffix) == 0)
        return tensor.substr(0, tensor.size() - suffix.size());
    return tensor;
}

nlohmann::json bitstudioDescriptor(const QuantizedLinear& q)
{
    nlohmann::json d;
    d["method"] = q.method;
    d["rows"] = q.rows;
    d["cols"] = q.cols;
    d["storage_bits_per_weight"] = q.storageBitsPerWeight;
    d["planes"] = nlohmann::json::array();
    for (const auto& p : q.planes)
        d["planes"].push_back({{"group", p.group},
                               {"mask", maskName(p.mask.kind)},
                               {"colscale", p.colScale.size() != 0},
                               {"mean", p.mean.size() != 0}});
    d["codes"] = q.codes ? nlohmann::json{{"bits", q.codes->bits}, {"group", q.codes->group}} : nlohmann::json();
    return d;
}

std::vector<Tensor> bitstudioComponents(const QuantizedLinear& q)
{
    q.validate();
    const std::string base = componentBase(q.tensor);
    const Eigen::Index n = q.rows, m = q.cols;
    const std::int64_t mb = packedBytes(m);
    std::vector<Tensor> out;
    for (std::size_t k = 0; k < q.planes.size(); ++k) {
        const auto& p = q.planes[k];
        const std::string pre = base + ".p" + std::to_string(k) + ".";
        if (p.mask.kind == PlaneMask::Kind::All) {
            out.push_back(makeOwnedTensor(pre + "signs", DType::I8, {n, mb},
                                          packBits(n, m, [&](auto i, auto j) { return p.signs(i, j) > 0; })));
        } else { // only the signs the mask selects, in row-major order: unmasked signs never matter
            std::vector<std::byte> bits(1, std::byte{0});
            std::int64_t count = 0;
            for (Eigen::Index i = 0; i < n; ++i)
                for (Eigen::Index j = 0; j < m; ++j)
                    if (p.mask.applies(i, j)) {
                        if (std::size_t(count / 8) >= bits.size())
                            bits.push_back(std::byte{0});
                        if (p.signs(i, j) > 0)
                            bits[std::size_t(count / 8)] |= std::byte(1u << (count % 8));
                        ++count;
                    }
            const auto len = static_cast<std::int64_t>(bits.size());
            out.push_back(makeOwnedTensor(pre + "signs", DType::I8, {len}, std::move(bits)));
        }
        if (p.mask.kind == PlaneMask::Kind::Columns)
            out.push_back(makeOwnedTensor(pre + "colmask", DType::I8, {mb}, packBits(1, m, [&](auto, auto j) {
                                              return p.mask.columns[static_cast<std::size_t>(j)] != 0;
                                          })));
        if (p.mask.kind == PlaneMask::Kind::Elements)
            out.push_back(makeOwnedTensor(pre + "elemmask", DType::I8, {n, mb},
                                          packBits(n, m, [&](auto i, auto j) { return p.mask.elements(i, j) != 0; })));
        out.push_back(matrixComponent(pre + "scale", p.rowScale));
        if (p.colScale.size() != 0)
            out.push_back(floatComponent(pre + "colscale", {m}, p.colScale.data(), m));
        if (p.mean.size() != 0)
            out.push_back(matrixComponent(pre + "mean", p.mean));
    }
    if (q.codes) {
        const auto& c = *q.codes;
        std::vector<std::byte> bytes;
        for (int b = 0; b < c.bits; ++b) {
            auto plane = packBits(n, m, [&](auto i, auto j) { return (c.codes(i, j) >> b) & 1u; });
            bytes.insert(bytes.end(), plane.begin(), plane.end());
        }
        out.push_back(makeOwnedTensor(base + ".codes", DType::I8, {c.bits, n, mb}, std::move(bytes)));
        out.push_back(matrixComponent(base + ".code_scale", c.scale));
        out.push_back(matrixComponent(base + ".code_zero", c.zero));
    }
    return out;
}

QuantizedLinear readBitstudioLayer(const GgufFile& f, const std::string& tensor)
{
    LayerReader r(f, tensor);
    const std::string key = kBitstudioTensorKeyPrefix + tensor;
    const auto text = f.getString(key);
    if (!text)
        r.fail(key, "a JSON string describing the layer (the key is missing)");
    checkJsonDepth(*text, f.path().string(), key);
    nlohmann::json d;
    try {
        d = nlohmann::json::parse(*text);
    } catch (const std::exception& e) {
        r.fail(key, std::string("valid JSON (") + e.what() + ")");
    }
    QuantizedLinear q;
    q.tensor = tensor;
    try {
        q.method = d.at("method").get<std::string>();
        q.rows = d.at("rows").get<Eigen::Index>();
        q.cols = d.at("cols").get<Eigen::Index>();
        q.storageBitsPerWeight = d.value("storage_bits_per_weight", 0.0);
        if (q.rows <= 0 || q.cols <= 0 || q.rows > (1 << 24) || q.cols > (1 << 24))
            r.fail(key, "positive rows and cols up to 2^24");
        const Eigen::Index n = q.rows, m = q.cols;
        const std::int64_t mb = packedBytes(m);
        const std::string base = componentBase(tensor);
        const auto& planes = d.at("planes");
        if (!planes.is_array() || static_cast<std::int64_t>(planes.size()) > limits::kMaxBitstudioPlanes)
            r.fail(key, "planes: an array of at most " + std::to_string(limits::kMaxBitstudioPlanes) + " planes");
        // Every plane (and the code plane) unpacks to rows x cols bytes: bound the total by the file's size
        // before any of it is allocated or looped over (the tensors' shapes are checked against the file later).
        const std::uint64_t matrices = planes.size() + (d.at("codes").is_null() ? 0 : 1);
        std::uint64_t cells = 0, budget = 0;
        if (!checkedMul(std::uint64_t(n), std::uint64_t(m), cells) || !checkedMul(cells, matrices, cells) ||
            !checkedMul(f.fileSize(), limits::kBitstudioCellsPerFileByte, budget) || cells > budget)
            r.fail(key, "rows x cols x planes (" + std::to_string(n) + " x " + std::to_string(m) + " x " +
                            std::to_string(matrices) + ") at most " +
                            std::to_string(limits::kBitstudioCellsPerFileByte) + " x the file size (" +
                            std::to_string(f.fileSize()) + " bytes)");
        for (std::size_t k = 0; k < planes.size(); ++k) {
            const auto& pd = planes[k];
            const std::string pre = base + ".p" + std::to_string(k) + ".";
            SignPlane p;
            p.group = pd.at("group").get<int>();
            if (p.group < 0)
                r.fail(key, "plane groups >= 0");
            const int groups = groupCount(m, p.group);
            const std::string mask = pd.at("mask").get<std::string>();
            if (mask == "columns") {
                p.mask.kind = PlaneMask::Kind::Columns;
                const Tensor c = r.get(pre + "colmask", {mb}, false);
                p.mask.columns.resize(static_cast<std::size_t>(m));
                for (Eigen::Index j = 0; j < m; ++j)
                    p.mask.columns[static_cast<std::size_t>(j)] = bitAt(c.data, j) ? 1 : 0;
            } else if (mask == "elements") {
                p.mask.kind = PlaneMask::Kind::Elements;
                const Tensor e = r.get(pre + "elemmask", {n, mb}, false);
                p.mask.elements.resize(n, m);
                for (Eigen::Index i = 0; i < n; ++i)
                    for (Eigen::Index j = 0; j < m; ++j)
                        p.mask.elements(i, j) = bitAt(e.data + i * mb, j) ? 1 : 0;
            } else if (mask != "all") {
                r.fail(key, "plane mask \"all\", \"columns\" or \"elements\", found \"" + mask + "\"");
            }
            if (p.mask.kind == PlaneMask::Kind::All) {
                const Tensor s = r.get(pre + "signs", {n, mb}, false);
                p.signs.resize(n, m);
                for (Eigen::Index i = 0; i < n; ++i)
                    for (Eigen::Index j = 0; j < m; ++j)
                        p.signs(i, j) = bitAt(s.data + i * mb, j) ? 1 : -1;
            } else { // masked signs in row-major order; +1 where the mask does not apply
                std::int64_t count = 0;
                for (Eigen::Index i = 0; i < n; ++i)
                    for (Eigen::Index j = 0; j < m; ++j)
                        count += p.mask.applies(i, j) ? 1 : 0;
                const Tensor s = r.get(pre + "signs", {std::max<std::int64_t>(1, (count + 7) / 8)}, false);
                p.signs.resize(n, m);
                std::int64_t k = 0;
                for (Eigen::Index i = 0; i < n; ++i)
                    for (Eigen::Index j = 0; j < m; ++j) {
                        p.signs(i, j) = 1;
                        if (p.mask.applies(i, j)) {
                            p.signs(i, j) = bitAt(s.data, k) ? 1 : -1;
                            ++k;
                        }
                    }
            }
            p.rowScale = r.matrix(pre + "scale", n, groups);
            if (pd.at("colscale").get<bool>()) {
                const auto v = r.get(pre + "colscale", {m}, true).toFloat();
                p.colScale = Eigen::Map<const Eigen::VectorXf>(v.data(), m);
            }
            if (pd.at("mean").get<bool>())
                p.mean = r.matrix(pre + "mean", n, groups);
            q.planes.push_back(std::move(p));
        }
        if (!d.at("codes").is_null()) {
            CodePlane c;
            c.bits = d["codes"].at("bits").get<int>();
            c.group = d["codes"].at("group").get<int>();
            if (c.bits < 1 || c.bits > 8 || c.group < 0)
                r.fail(key, "codes with 1..8 bits and a group >= 0");
            const int groups = groupCount(m, c.group);
            const Tensor t = r.get(base + ".codes", {c.bits, n, mb}, false);
            c.codes = MatrixXu8R::Zero(n, m);
            for (int b = 0; b < c.bits; ++b)
                for (Eigen::Index i = 0; i < n; ++i)
                    for (Eigen::Index j = 0; j < m; ++j)
                        if (bitAt(t.data + (b * n + i) * mb, j))
                            c.codes(i, j) = static_cast<std::uint8_t>(c.codes(i, j) | (1u << b));
            c.scale = r.matrix(base + ".code_scale", n, groups);
            c.zero = r.matrix(base + ".code_zero", n, groups);
            q.codes = std::move(c);
        }
    } catch (const nlohmann::json::exception& e) {
        r.fail(key, std::string("fields method, rows, cols, planes[group, mask, colscale, mean], codes (") +
                        e.what() + ")");
    }
    try {
        q.validate();
    } catch (const std::logic_error& e) {
        r.fail(key, std::string("a consistent layer (") + e.what() + ")");
    }
    return q;
}

std::map<std::string, QuantizedLinear> readBitstudioLayers(const GgufFile& f)
{
    std::map<std::string, QuantizedLinear> out;
    for (const auto& name : f.getStringArray(kBitstudioTensorsKey))
        out.emplace(name, readBitstudioLayer(f, name));
    return out;
}

std::map<std::string, QuantizedLinear> loadBitstudioLayers(const std::filesystem::path& gguf)
{
    return readBitstudioLayers(*GgufFile::open(gguf));
}

void applyBitstudioTensors(const GgufFile& f, Model& model)
{
    for (const auto& name : f.getStringArray(kBitstudioTensorsKey)) {
        const QuantizedLinear q = readBitstudioLayer(f, name);
        const MatrixXfR w = q.dequantize();
        const std::string prefix = componentBase(name) + ".";
        for (auto it = model.tensors.begin(); it != model.tensors.end();) {
            const std::string& t = it->first;
            const bool component = t.rfind(prefix, 0) == 0 && t != name &&
                                   (t.rfind(prefix + "p", 0) == 0 || t.rfind(prefix + "code", 0) == 0);
            it = component ? model.tensors.erase(it) : std::next(it);
        }
        model.tensors.insert_or_assign(name, makeF32Tensor(name, {q.rows, q.cols},
                                                           std::vector<float>(w.data(), w.data() + w.size())));
    }
}

QuantizedLinear permuteRows(const QuantizedLinear& q, const std::vector<std::int64_t>& order)
{
    if (order.empty())
        return q;
    if (static_cast<Eigen::Index>(order.size()) != q.rows)
        throw std::invalid_argument("permuteRows: " + q.tensor + " has " + std::to_string(q.rows) + " rows, order " +
                                    std::to_string(order.size()));
    auto rowsOf = [&](auto& mat) {
        if (mat.size() == 0)
            return;
        auto src = mat;
        for (Eigen::Index r = 0; r < q.rows; ++r)
            mat.row(r) = src.row(order[static_cast<std::size_t>(r)]);
    };
    QuantizedLinear out = q;
    for (auto& p : out.planes) {
        rowsOf(p.signs);
        rowsOf(p.rowScale);
        rowsOf(p.mean);
        if (p.mask.kind == PlaneMask::Kind::Elements)
            rowsOf(p.mask.elements);
    }
    if (out.codes) {
        rowsOf(out.codes->codes);
        rowsOf(out.codes->scale);
        rowsOf(out.codes->zero);
    }
    return out;
}

} // namespace bq
