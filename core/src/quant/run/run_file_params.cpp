#include "run_file_params.h"
#include "bq/util/errors.h"
#include <algorithm>
#include <array>
#include <cstring>

namespace bq::quant {

namespace {

using h5::Handle;

// Bit j % 8 of byte j / 8 in each row (LSB first, numpy.unpackbits(bitorder="little")); padding bits are 0.
// Works on the row-major storage directly: these loops touch every weight and run for every layer.
template <class Matrix, class IsSet>
std::vector<std::uint8_t> packRows(const Matrix& m, IsSet isSet)
{
    const auto n = std::size_t(m.rows()), cols = std::size_t(m.cols()), stride = (cols + 7) / 8;
    std::vector<std::uint8_t> out(n * stride, 0);
    for (std::size_t i = 0; i < n; ++i) {
        const auto* row = m.data() + i * cols;
        std::uint8_t* dst = out.data() + i * stride;
        for (std::size_t j0 = 0; j0 < cols; j0 += 8) {
            const std::size_t len = std::min<std::size_t>(8, cols - j0);
            unsigned byte = 0;
            for (std::size_t k = 0; k < len; ++k) byte |= unsigned(isSet(row[j0 + k])) << k;
            dst[j0 / 8] = std::uint8_t(byte);
        }
    }
    return out;
}

// The inverse: bit set -> `one`, clear -> `zero`, into a row-major n × cols matrix.
template <class Matrix>
void unpackRows(const std::vector<std::uint8_t>& packed, Matrix& m, typename Matrix::Scalar one,
                typename Matrix::Scalar zero)
{
    using T = typename Matrix::Scalar;
    static_assert(sizeof(T) == 1);
    std::array<std::array<T, 8>, 256> expand{}; // byte -> its 8 values
    for (unsigned b = 0; b < 256; ++b)
        for (unsigned k = 0; k < 8; ++k) expand[b][k] = ((b >> k) & 1u) ? one : zero;
    const auto n = std::size_t(m.rows()), cols = std::size_t(m.cols()), stride = (cols + 7) / 8;
    for (std::size_t i = 0; i < n; ++i) {
        T* row = m.data() + i * cols;
        const std::uint8_t* src = packed.data() + i * stride;
        for (std::size_t j0 = 0; j0 < cols; j0 += 8)
            std::memcpy(row + j0, expand[src[j0 / 8]].data(), std::min<std::size_t>(8, cols - j0));
    }
}

std::vector<hsize_t> dims2(Eigen::Index a, Eigen::Index b) { return {hsize_t(a), hsize_t(b)}; }

// Column-major Eigen matrix -> row-major float32 [rows, cols] dataset.
void writeMatrix(const h5::Ctx& c, hid_t g, const std::string& name, const Eigen::MatrixXf& m)
{
    const MatrixXfR r = m;
    h5::writeDataset(c, g, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, dims2(r.rows(), r.cols()), r.data());
}

void expectDims(const h5::Ctx& c, hid_t g, const std::string& name, const std::vector<hsize_t>& want,
                const std::string& what)
{
    if (h5::datasetDims(c, g, name) != want) {
        std::string shape = "[";
        for (std::size_t k = 0; k < want.size(); ++k) shape += (k ? ", " : "") + std::to_string(want[k]);
        throw FormatError(c.file, h5::joinPath(g, name), what + " " + shape + "]");
    }
}

Eigen::MatrixXf readMatrix(const h5::Ctx& c, hid_t g, const std::string& name, Eigen::Index rows, Eigen::Index cols)
{
    expectDims(c, g, name, dims2(rows, cols), "float32");
    MatrixXfR r(rows, cols);
    h5::readDataset(c, g, name, H5T_NATIVE_FLOAT, r.data());
    return r;
}

const char* maskKindName(PlaneMask::Kind k)
{
    switch (k) {
    case PlaneMask::Kind::All: return "all";
    case PlaneMask::Kind::Columns: return "columns";
    case PlaneMask::Kind::Elements: return "elements";
    }
    return "all";
}

void writePlane(const h5::Ctx& c, hid_t params, std::size_t index, const SignPlane& p)
{
    Handle g = h5::createGroup(c, params, "plane_" + std::to_string(index));
    h5::writeAttrInt(c, g.get(), "group", p.group, false);
    h5::writeAttr(c, g.get(), "mask_kind", std::string(maskKindName(p.mask.kind)));
    const auto n = p.signs.rows(), m = p.signs.cols(), stride = (m + 7) / 8;
    const auto signBits = packRows(p.signs, [](std::int8_t s) { return s > 0; });
    h5::writeDataset(c, g.get(), "signs", H5T_STD_U8LE, H5T_NATIVE_UINT8, dims2(n, stride), signBits.data());
    if (p.mask.kind == PlaneMask::Kind::Columns)
        h5::writeDataset(c, g.get(), "mask_columns", H5T_STD_U8LE, H5T_NATIVE_UINT8, {hsize_t(p.mask.columns.size())},
                         p.mask.columns.data());
    if (p.mask.kind == PlaneMask::Kind::Elements) {
        const auto bits = packRows(p.mask.elements, [](std::uint8_t v) { return v != 0; });
        h5::writeDataset(c, g.get(), "mask_elements", H5T_STD_U8LE, H5T_NATIVE_UINT8, dims2(n, stride), bits.data());
    }
    writeMatrix(c, g.get(), "row_scale", p.rowScale);
    if (p.colScale.size() != 0)
        h5::writeDataset(c, g.get(), "col_scale", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {hsize_t(p.colScale.size())},
                         p.colScale.data());
    if (p.mean.size() != 0) writeMatrix(c, g.get(), "mean", p.mean);
}

SignPlane readPlane(const h5::Ctx& c, hid_t params, std::size_t index, Eigen::Index n, Eigen::Index m)
{
    Handle g = h5::openGroup(c, params, "plane_" + std::to_string(index));
    SignPlane p;
    p.group = int(h5::readAttrInt(c, g.get(), "group"));
    const int groups = groupCount(m, p.group);
    const auto stride = std::size_t((m + 7) / 8);

    expectDims(c, g.get(), "signs", dims2(n, Eigen::Index(stride)), "uint8 packed signs");
    std::vector<std::uint8_t> bits(std::size_t(n) * stride);
    h5::readDataset(c, g.get(), "signs", H5T_NATIVE_UINT8, bits.data());
    p.signs.resize(n, m);
    unpackRows(bits, p.signs, std::int8_t(1), std::int8_t(-1));

    const std::string kind = h5::readAttrString(c, g.get(), "mask_kind");
    if (kind == "all") {
        p.mask.kind = PlaneMask::Kind::All;
    } else if (kind == "columns") {
        p.mask.kind = PlaneMask::Kind::Columns;
        expectDims(c, g.get(), "mask_columns", {hsize_t(m)}, "uint8");
        p.mask.columns.resize(std::size_t(m));
        h5::readDataset(c, g.get(), "mask_columns", H5T_NATIVE_UINT8, p.mask.columns.data());
    } else if (kind == "elements") {
        p.mask.kind = PlaneMask::Kind::Elements;
        expectDims(c, g.get(), "mask_elements", dims2(n, Eigen::Index(stride)), "uint8 packed mask");
        h5::readDataset(c, g.get(), "mask_elements", H5T_NATIVE_UINT8, bits.data());
        p.mask.elements.resize(n, m);
        unpackRows(bits, p.mask.elements, std::uint8_t(1), std::uint8_t(0));
    } else {
        throw FormatError(c.file, h5::objectPath(g.get()) + "@mask_kind", "\"all\", \"columns\" or \"elements\"");
    }

    p.rowScale = readMatrix(c, g.get(), "row_scale", n, groups);
    if (h5::linkExists(g.get(), "col_scale")) {
        expectDims(c, g.get(), "col_scale", {hsize_t(m)}, "float32");
        p.colScale.resize(m);
        h5::readDataset(c, g.get(), "col_scale", H5T_NATIVE_FLOAT, p.colScale.data());
    }
    if (h5::linkExists(g.get(), "mean")) p.mean = readMatrix(c, g.get(), "mean", n, groups);
    return p;
}

} // namespace

void writeParams(const h5::Ctx& c, hid_t layerGroup, const QuantizedLinear& q)
{
    Handle g = h5::createGroup(c, layerGroup, "params");
    h5::writeAttr(c, g.get(), "method", q.method);
    h5::writeAttrInt(c, g.get(), "rows", q.rows, true);
    h5::writeAttrInt(c, g.get(), "cols", q.cols, true);
    h5::writeAttr(c, g.get(), "storage_bits_per_weight", q.storageBitsPerWeight);
    h5::writeAttrInt(c, g.get(), "plane_count", std::int64_t(q.planes.size()), false);
    h5::writeAttrInt(c, g.get(), "has_codes", q.codes.has_value(), false);
    for (std::size_t p = 0; p < q.planes.size(); ++p) writePlane(c, g.get(), p, q.planes[p]);
    if (q.codes) {
        Handle cg = h5::createGroup(c, g.get(), "codes");
        h5::writeAttrInt(c, cg.get(), "bits", q.codes->bits, false);
        h5::writeAttrInt(c, cg.get(), "group", q.codes->group, false);
        const MatrixXu8R& codes = q.codes->codes;
        h5::writeDataset(c, cg.get(), "codes", H5T_STD_U8LE, H5T_NATIVE_UINT8, dims2(codes.rows(), codes.cols()),
                         codes.data());
        writeMatrix(c, cg.get(), "scale", q.codes->scale);
        writeMatrix(c, cg.get(), "zero", q.codes->zero);
    }
}

QuantizedLinear readParams(const h5::Ctx& c, hid_t layerGroup, const std::string& tensor)
{
    Handle g = h5::openGroup(c, layerGroup, "params");
    QuantizedLinear q;
    q.tensor = tensor;
    q.method = h5::readAttrString(c, g.get(), "method");
    q.rows = Eigen::Index(h5::readAttrInt(c, g.get(), "rows"));
    q.cols = Eigen::Index(h5::readAttrInt(c, g.get(), "cols"));
    if (q.rows <= 0 || q.cols <= 0)
        throw FormatError(c.file, h5::objectPath(g.get()) + "@rows/cols", "positive dimensions");
    q.storageBitsPerWeight = h5::readAttrDouble(c, g.get(), "storage_bits_per_weight");
    const auto planes = h5::readAttrInt(c, g.get(), "plane_count");
    if (planes < 0 || planes > 64) throw FormatError(c.file, h5::objectPath(g.get()) + "@plane_count", "0..64");
    for (std::int64_t p = 0; p < planes; ++p) q.planes.push_back(readPlane(c, g.get(), std::size_t(p), q.rows, q.cols));
    if (h5::readAttrInt(c, g.get(), "has_codes") != 0) {
        Handle cg = h5::openGroup(c, g.get(), "codes");
        CodePlane cp;
        cp.bits = int(h5::readAttrInt(c, cg.get(), "bits"));
        cp.group = int(h5::readAttrInt(c, cg.get(), "group"));
        const int groups = groupCount(q.cols, cp.group);
        expectDims(c, cg.get(), "codes", dims2(q.rows, q.cols), "uint8");
        cp.codes.resize(q.rows, q.cols);
        h5::readDataset(c, cg.get(), "codes", H5T_NATIVE_UINT8, cp.codes.data());
        cp.scale = readMatrix(c, cg.get(), "scale", q.rows, groups);
        cp.zero = readMatrix(c, cg.get(), "zero", q.rows, groups);
        q.codes = std::move(cp);
    }
    try {
        q.validate();
    } catch (const std::logic_error& e) {
        throw FormatError(c.file, h5::objectPath(g.get()), std::string("consistent parameters (") + e.what() + ")");
    }
    return q;
}

} // namespace bq::quant
