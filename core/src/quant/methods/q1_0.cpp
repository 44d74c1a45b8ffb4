// methods.md §3.10 `q1_0`: weights that export exactly to llama.cpp Q1_0 (per row, each run of 128 input
// columns: one fp16 scale d ≥ 0 and 128 sign bits), Hessian-compensated. The Q1_0 group coincides with the
// 128-column OBC block. Per block: d from the block-entry weights, then R scale↔sign alternations (column-wise
// loop with d fixed, then the least-squares refit of d for the chosen signs); the pass with the lowest block
// objective tr(δ M δᵀ) (δ = W0 − Q) is kept, because the alternation is not monotone. One more candidate
// (Derived): the last refit d with the last pass's signs held fixed, which the refit makes no worse than that
// pass. Optional polish after the layer: per row, least-squares scales for the fixed signs against the ORIGINAL
// row under H, kept only where it lowers that row's objective (so the layer objective never increases).
#include "bq/quant/obc/hessian.h"
#include "bq/quant/obc/obc.h"
#include "bq/util/fp16.h"
#include "method_factories.h"
#include "method_memory.h"
#include "option_reader.h"
#include "step_recorder.h"
#include <Eigen/Cholesky>
#include <cmath>
#include <limits>

namespace bq::quant::methods {

namespace {

const char* kId = "q1_0";
constexpr Eigen::Index kBlock = 128;

// schur + polish measured best on a correlated Gram (768 columns: −2.4 % objective vs raw, −3.8 % more with
// polish); R = 2 beat R = 1 and R = 4. The polish never raises a row's objective.
const std::vector<OptionSpec>& schema()
{
    static const std::vector<OptionSpec> options{
        intOption("alternations", 2, 1, 20, "Scale / sign alternations per 128-column block (the best pass is kept)"),
        boolOption("polish", true, "Per row, least-squares scales for the final signs where they lower the objective"),
        choiceOption("init", "mean", {"mean", "diag_h"},
                     "Initial scale: mean |w| (llama.cpp's reference) or the Diag(H)-weighted mean"),
        choiceOption("block_metric", "schur", {"raw", "schur"},
                     "Block objective: H of the block (raw) or its Schur complement (later columns compensate)"),
        floatOption("percdamp", 0.01, 0, 10, "Hessian damping, as a fraction of the mean diagonal")};
    return options;
}

struct Options {
    int alternations;
    bool polish, diagInit, schur;
    double percdamp;
};

Options read(const nlohmann::json& o)
{
    const OptionReader r(kId, schema(), o);
    return {r.integer("alternations"), r.flag("polish"), r.choice("init") == "diag_h",
            r.choice("block_metric") == "schur", r.number("percdamp")};
}

std::string unsupported(Eigen::Index, Eigen::Index m, const nlohmann::json& o)
{
    std::string why = optionProblem([&] { read(o); });
    if (!why.empty()) return why;
    if (m % kBlock != 0)
        return "q1_0 needs the input dimension to be a multiple of 128 (m = " + std::to_string(m) +
               "): a Q1_0 block is 128 consecutive input columns of a row; quantize this tensor with another method "
               "or keep it in full precision";
    return {};
}

double bits(Eigen::Index, Eigen::Index, const nlohmann::json& options)
{
    read(options);
    return 18.0 * 8.0 / 128.0; // 18 bytes per 128 weights: fp16 d + 128 sign bits
}

// One int8 sign per weight and a float scale per 128 columns.
double residentPerWeight(Eigen::Index, Eigen::Index m, const nlohmann::json&)
{
    return 1.0 + 4.0 * std::ceil(double(m) / 128.0) / double(m);
}

inline float fp16NonNegative(double d) { return roundToHalf(float(std::max(0.0, d))); }

struct Pass {
    Eigen::VectorXf d;
    ColumnBlock Q, E;
    MatrixXi8R signs; // n × 128
    double objective = std::numeric_limits<double>::infinity();
};

// One column-wise pass over the block with the scales d fixed; with `forced` the signs are taken from it
// instead of from the compensated weights.
Pass runPass(const ColumnBlock& W0b, const Eigen::VectorXf& d, const Eigen::Ref<const Eigen::MatrixXf>& Ubb,
             const Eigen::MatrixXf& M, const MatrixXi8R* forced)
{
    const Eigen::Index n = W0b.rows(), w = W0b.cols();
    Pass p;
    p.d = d;
    p.Q = W0b;
    p.signs.resize(n, w);
    compensateWithinBlock(
        p.Q, Ubb, 0,
        [&](Eigen::Index j, const Eigen::Ref<const Eigen::VectorXf>& col, Eigen::Ref<Eigen::VectorXf> q) {
            for (Eigen::Index i = 0; i < n; ++i) {
                const std::int8_t s = forced ? (*forced)(i, j) : (col[i] >= 0.0f ? 1 : -1);
                p.signs(i, j) = s;
                q[i] = s > 0 ? d[i] : -d[i];
            }
        },
        p.E);
    const ColumnBlock delta = W0b - p.Q;
    p.objective = double(((delta * M).array() * delta.array()).sum());
    return p;
}

// d_i = fp16(max(0, b_i M w0_iᵀ / b_i M b_iᵀ)) for the signs of pass p.
Eigen::VectorXf refit(const ColumnBlock& W0b, const MatrixXi8R& signs, const Eigen::MatrixXf& M)
{
    const Eigen::MatrixXf B = signs.cast<float>();
    const Eigen::MatrixXf BM = B * M;
    Eigen::VectorXf d(W0b.rows());
    for (Eigen::Index i = 0; i < W0b.rows(); ++i) {
        const double num = double(BM.row(i).dot(W0b.row(i))), den = double(BM.row(i).dot(B.row(i)));
        d[i] = den > 0 ? fp16NonNegative(num / den) : 0.0f;
    }
    return d;
}

// Per row, the least-squares scales for fixed signs under H against the original row w:
// A_gh = b_gᵀ H_gh b_h, r_g = b_gᵀ (H wᵀ)_g; objective(d) − wHwᵀ = dᵀAd − 2dᵀr. Keeps a row's new scales only
// when they do not raise its objective.
int polish(const MatrixXfR& W, const Eigen::MatrixXd& H, const MatrixXi8R& signs, Eigen::MatrixXf& d,
           const QuantizeRequest& request)
{
    const Eigen::Index n = W.rows(), m = W.cols(), G = m / kBlock;
    const Eigen::MatrixXf Hf = H.cast<float>();
    const Eigen::MatrixXf S = signs.cast<float>();
    const Eigen::MatrixXf HW = W * Hf; // H symmetric: row i is (H w_iᵀ)ᵀ
    std::vector<Eigen::MatrixXd> A(std::size_t(n), Eigen::MatrixXd(G, G));
    Eigen::MatrixXd r(n, G);
    for (Eigen::Index h = 0; h < G; ++h) {
        checkCancel(request);
        const Eigen::MatrixXf K = S.middleCols(h * kBlock, kBlock) * Hf.middleRows(h * kBlock, kBlock); // n × m
        for (Eigen::Index g = 0; g < G; ++g) {
            const auto cols = Eigen::seqN(g * kBlock, kBlock);
            const Eigen::VectorXf a = (S(Eigen::all, cols).array() * K(Eigen::all, cols).array()).rowwise().sum();
            for (Eigen::Index i = 0; i < n; ++i) A[std::size_t(i)](g, h) = a[i];
        }
        const auto cols = Eigen::seqN(h * kBlock, kBlock);
        r.col(h) = (S(Eigen::all, cols).array() * HW(Eigen::all, cols).array()).rowwise().sum().cast<double>();
    }
    int improved = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
        Eigen::MatrixXd Ai = 0.5 * (A[std::size_t(i)] + A[std::size_t(i)].transpose());
        const Eigen::VectorXd ri = r.row(i).transpose();
        const Eigen::VectorXd old = d.row(i).transpose().cast<double>();
        const double rho = 1e-9 * Ai.trace() / double(G) + std::numeric_limits<double>::min();
        Eigen::MatrixXd Ar = Ai;
        Ar.diagonal().array() += rho;
        const Eigen::VectorXd sol = Ar.ldlt().solve(ri);
        Eigen::VectorXd next(G);
        for (Eigen::Index g = 0; g < G; ++g) next[g] = fp16NonNegative(sol[g]);
        auto objective = [&](const Eigen::VectorXd& x) { return x.dot(Ai * x) - 2.0 * x.dot(ri); };
        if (next.allFinite() && objective(next) < objective(old)) {
            d.row(i) = next.transpose().cast<float>();
            ++improved;
        }
    }
    return improved;
}

QuantizedLinear run(const QuantizeRequest& request, MethodDiagnostics& diag)
{
    const MatrixXfR& W0 = requireWeight(request, kId);
    const Options opt = read(request.options);
    const Eigen::Index n = W0.rows(), m = W0.cols();
    if (const std::string why = unsupported(n, m, request.options); !why.empty())
        throw std::invalid_argument(request.tensor + ": " + why);
    const Eigen::MatrixXd& gram = requireGram(request, kId);
    const Eigen::Index G = m / kBlock;

    MatrixXfR W = W0;
    const PreparedHessian ph = prepareHessian(gram, opt.percdamp, &W, request.tensor);
    if (ph.retries > 0)
        diag.notes.push_back("Cholesky retried " + std::to_string(ph.retries) + "× with 10× damping (λ = " +
                             std::to_string(ph.damping) + ")");
    const Eigen::MatrixXf Uf = ph.U.cast<float>();
    StepRecorder steps(request, diag);
    if (steps.active())
        recordHessianStep(steps, ph, opt.percdamp, W, "so each column's error can be spread over the later columns");
    const std::string blockObjective = "tr(δ M δᵀ) of the block (δ = W_b − Q_b)";
    // A block step: the working matrix with the block replaced by Q (later columns as at block entry), or, when
    // Q is null, the matrix as it is. iteration: the scale refits before it (not monotone), −1 for the stored block.
    auto blockStep = [&](Eigen::Index b, std::string title, std::string sentence, double objective,
                         const ColumnBlock* Q, int iteration) {
        const Eigen::Index s = b * kBlock;
        MethodStep step{.title = "Block " + std::to_string(b + 1) + " · " + title,
                        .sentence = std::move(sentence),
                        .objective = objective,
                        .objectiveName = blockObjective,
                        .columnBegin = s,
                        .columnEnd = s + kBlock,
                        .iteration = iteration};
        if (steps.wantsSnapshot()) {
            step.snapshot = W;
            if (Q)
                step.snapshot.middleCols(s, kBlock) = *Q;
        }
        steps.add(std::move(step));
    };

    SignPlane plane;
    plane.group = int(kBlock);
    plane.signs.resize(n, m);
    plane.rowScale.resize(n, G);
    double loss = 0;
    for (Eigen::Index b = 0; b < G; ++b) {
        checkCancel(request);
        const Eigen::Index s = b * kBlock, e = s + kBlock;
        const ColumnBlock W0b = W.middleCols(s, kBlock);
        const auto Ubb = Uf.block(s, s, kBlock, kBlock);

        // Block metric: H_bb (raw) or the Schur complement (U_bbᵀ U_bb)⁻¹ = U_bb⁻¹ U_bb⁻ᵀ.
        Eigen::MatrixXf M;
        if (opt.schur) {
            Eigen::MatrixXd Uinv = Eigen::MatrixXd::Identity(kBlock, kBlock);
            ph.U.block(s, s, kBlock, kBlock).triangularView<Eigen::Upper>().solveInPlace(Uinv);
            M = (Uinv * Uinv.transpose()).cast<float>();
        } else {
            M = ph.H.block(s, s, kBlock, kBlock).cast<float>();
        }

        // Initial scale: llama.cpp's reference (float sum in column order, / 128) or the Diag(H)-weighted mean.
        Eigen::VectorXf d(n);
        for (Eigen::Index i = 0; i < n; ++i) {
            if (opt.diagInit) {
                double num = 0, den = 0;
                for (Eigen::Index j = 0; j < kBlock; ++j)
                    num += ph.H(s + j, s + j) * std::fabs(double(W0b(i, j))), den += ph.H(s + j, s + j);
                d[i] = fp16NonNegative(num / den);
            } else {
                float sum = 0;
                for (Eigen::Index j = 0; j < kBlock; ++j) sum += std::fabs(W0b(i, j));
                d[i] = roundToHalf(sum / float(kBlock));
            }
        }

        Pass best, last;
        int bestPass = 0; // 1 .. alternations, or alternations + 1 for the held signs
        for (int r = 0; r < opt.alternations; ++r) {
            last = runPass(W0b, d, Ubb, M, nullptr);
            d = refit(W0b, last.signs, M);
            if (last.objective < best.objective) best = last, bestPass = r + 1;
            if (steps.active())
                blockStep(b, "pass " + std::to_string(r + 1),
                          "Fixed the block's columns one at a time as ±d with the scales d from " +
                              std::string(r == 0 ? (opt.diagInit ? "the Diag(H)-weighted mean |w|" : "mean |w|")
                                                 : "the previous refit") +
                              ", each column's sign taken after the earlier columns' errors were spread; block "
                              "objective " + formatNumber(last.objective) +
                              ". Then refitted d by least squares to these signs.",
                          last.objective, &last.Q, r);
        }
        Pass held = runPass(W0b, d, Ubb, M, &last.signs);
        if (steps.active())
            blockStep(b, "held signs",
                      "Kept the last pass's signs with the refitted scales: block objective " +
                          formatNumber(held.objective) + ".",
                      held.objective, &held.Q, opt.alternations);
        if (held.objective < best.objective) best = std::move(held), bestPass = opt.alternations + 1;

        W.middleCols(s, kBlock) = best.Q;
        propagateBlockError(W, s, e, best.E, Uf);
        if (steps.active())
            blockStep(b, "stored",
                      "Kept " +
                          (bestPass > opt.alternations ? std::string("the held signs")
                                                       : "pass " + std::to_string(bestPass)) +
                          " (the lowest block objective; the alternation is not monotone) and spread its error "
                          "over the later columns.",
                      best.objective, nullptr, -1);
        plane.signs.middleCols(s, kBlock) = best.signs;
        plane.rowScale.col(b) = best.d;
        loss += double(best.E.squaredNorm());
    }
    diag.objectiveTrace.push_back(loss);
    // The lab's last steps: the layer objective against the original weights, before and after the polish.
    auto dequantized = [&] {
        MatrixXfR What(n, m);
        for (Eigen::Index g = 0; g < G; ++g)
            What.middleCols(g * kBlock, kBlock) =
                plane.signs.middleCols(g * kBlock, kBlock).cast<float>().array().colwise() *
                plane.rowScale.col(g).array();
        return What;
    };
    auto layerStep = [&](std::string title, const std::string& sentence, double before) {
        const MatrixXfR What = dequantized();
        const double objective = hessianDistance(W0, What, ph.H);
        MethodStep step{.title = std::move(title),
                        .sentence = sentence + changeText(before, objective) + ".",
                        .objective = objective,
                        .objectiveName = kHessianErrorName,
                        .columnEnd = m};
        if (steps.wantsSnapshot())
            step.snapshot = What;
        steps.add(std::move(step));
        return objective;
    };
    double layerObjective = 0;
    if (steps.active())
        layerObjective = layerStep("All blocks", "Every block is stored as fp16 d × 128 signs; against the original "
                                                 "weights the layer objective ",
                                   std::numeric_limits<double>::quiet_NaN());
    if (opt.polish) {
        const int improved = polish(W0, ph.H, plane.signs, plane.rowScale, request);
        diag.notes.push_back("polish lowered the objective of " + std::to_string(improved) + " of " +
                             std::to_string(n) + " rows");
        if (steps.active())
            layerStep("Polish",
                      "Re-solved each row's scales by least squares for its final signs against the original weights "
                      "under H, keeping them in " + std::to_string(improved) + " of " + std::to_string(n) +
                          " rows (where they lower the row's objective); the objective ",
                      layerObjective);
    }

    QuantizedLinear out = emptyResult(request, kId);
    out.planes.push_back(std::move(plane));
    out.storageBitsPerWeight = bits(n, m, request.options);
    return out;
}

} // namespace

MethodInfo q1_0Method()
{
    MethodInfo info;
    info.id = kId;
    info.title = "Q1_0 exact, Hessian-compensated (deployable 1-bit)";
    info.description = "Sign × fp16 scale per 128 input columns, exactly llama.cpp's Q1_0 layout, with GPTQ-style "
                       "error compensation and a scale↔sign alternation per block (bitstudio's method). Needs "
                       "calibration and m % 128 = 0. Stores exactly 1.125 bits per weight (18 bytes per 128).";
    info.options = schema();
    info.needsGram = true;
    info.unsupportedReason = unsupported;
    info.estimateBits = bits;
    info.residentBytesPerWeight = residentPerWeight;
    info.workingBytes = [](Eigen::Index n, Eigen::Index m, const nlohmann::json&) {
        return weightCopyBytes(n, m) + hessianBytes(m);
    };
    info.quantize = run;
    return info;
}

} // namespace bq::quant::methods
