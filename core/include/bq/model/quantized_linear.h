// The exact parameters of one quantized linear layer, shared by the methods (producers), the run file, the
// fake-quantized reference model and the exporters (consumers). Every method's result is expressed as a sum
// of sign planes plus, for multi-level grids, one integer-code plane:
//
//   Ŵ_ij = Σ_p [mask_p(i,j)] · ( mean_p[i, j / group_p] + rowScale_p[i, j / group_p] · colScale_p[j] · s_p(i,j) )
//        + [codes] scale[i, j / group] · (q_ij − zero[i, j / group])
//
// with s_p(i,j) ∈ {−1,+1}. Missing optional parts mean: no mask (all weights), colScale = 1, mean = 0.
// W is n × m (n = d_out rows, m = d_in columns), the GGUF/PyTorch layout. All stored values are the values
// an exporter writes: methods round scales and means to their storage precision (fp16) before they are used.
#pragma once
#include <Eigen/Core>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bq {

using MatrixXfR = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixXi8R = Eigen::Matrix<std::int8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixXu8R = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Where a plane applies: everywhere, on a set of columns (salient columns, column groups), or on a per-weight
// bitmap (BiLLM's bell-shaped split, ARB-RC's column-group bitmap when it varies by row).
struct PlaneMask {
    enum class Kind : std::uint8_t { All, Columns, Elements } kind = Kind::All;
    std::vector<std::uint8_t> columns; // m entries (Kind::Columns), 1 = applies
    MatrixXu8R elements;               // n × m (Kind::Elements), 1 = applies
    bool applies(Eigen::Index i, Eigen::Index j) const
    {
        switch (kind) {
        case Kind::All: return true;
        case Kind::Columns: return columns[std::size_t(j)] != 0;
        case Kind::Elements: return elements(i, j) != 0;
        }
        return true;
    }
};

struct SignPlane {
    MatrixXi8R signs;          // n × m, values −1 / +1 (+1 for a zero weight)
    PlaneMask mask;            // which weights the plane covers
    int group = 0;             // columns per scale group (rowScale/mean columns = ceil(m / group)); 0 = whole row
    Eigen::MatrixXf rowScale;  // n × groups, ≥ 0 unless the method allows signed scales
    Eigen::VectorXf colScale;  // m entries, or empty (= 1)
    Eigen::MatrixXf mean;      // n × groups, or empty (= 0)
};

// b-bit integer codes with a scale and zero point per group (gptq, rtn1, ternary as b = 2, zero = 1).
struct CodePlane {
    int bits = 0;
    int group = 0;            // 0 = whole row
    MatrixXu8R codes;         // n × m, 0 .. 2^bits − 1
    Eigen::MatrixXf scale;    // n × groups
    Eigen::MatrixXf zero;     // n × groups (may be fractional for asymmetric grids)
};

struct QuantizedLinear {
    std::string tensor;       // canonical name, e.g. "blk.3.ffn_down.weight"
    std::string method;       // method id as in methods.md: "sign", "arb-rc", "q1_0", ...
    Eigen::Index rows = 0, cols = 0;
    std::vector<SignPlane> planes;
    std::optional<CodePlane> codes;
    // Bits per weight as the method's own storage layout holds it, counting every bitmap, scale, mean and
    // code (methods.md table, "full bits per weight"). Filled by the method.
    double storageBitsPerWeight = 0;

    // Ŵ, n × m row-major. Throws std::logic_error if the parts do not fit rows × cols.
    MatrixXfR dequantize() const;
    // Checks shapes and value ranges (signs ±1, codes < 2^bits); throws std::logic_error naming the problem.
    void validate() const;
    // True when the result is exactly llama.cpp Q1_0: one unmasked plane, group 128, no colScale, no mean,
    // non-negative fp16-representable scales, cols % 128 == 0.
    bool isExactQ1_0() const;
    // Bytes this object holds in memory (sign and mask matrices, scales, means, codes), for the peak-memory
    // estimate of a run, which keeps every layer's result until the end.
    std::size_t residentBytes() const;
};

inline int groupCount(Eigen::Index cols, int group)
{
    return group <= 0 ? 1 : int((cols + group - 1) / group);
}
inline Eigen::Index groupOf(Eigen::Index j, int group) { return group <= 0 ? 0 : j / group; }

} // namespace bq
