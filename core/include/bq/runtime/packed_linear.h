// A linear layer stored in a packed low-bit format (Q1_0, Q4_0, Q8_0, the bitstudio types), as the fast
// runtime executes it. The transformer (fp32_model / packed model) calls these for every projection; the
// formats implement them with a scalar reference kernel plus AVX2 / AVX-512 paths chosen at run time.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace bq {

class ThreadPool;

class PackedLinear {
public:
    virtual ~PackedLinear() = default;
    virtual int rows() const = 0; // d_out
    virtual int cols() const = 0; // d_in
    // y[rows] = Ŵ x[cols]. pool may be null (single thread).
    virtual void gemv(const float* x, float* y, ThreadPool* pool) const = 0;
    // Y[t][rows] = Ŵ X[t][cols] for t < tokens.
    virtual void gemm(const float* X, int tokens, float* Y, ThreadPool* pool) const = 0;
    // Bytes of weight data read by one gemv (for the roofline).
    virtual std::uint64_t weightBytes() const = 0;
    virtual std::string kind() const = 0; // "q1_0", "q4_0", "bitstudio.arb-rc", ...
};

} // namespace bq
