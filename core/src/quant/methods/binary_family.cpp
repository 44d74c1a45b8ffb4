// Driver of the salient / alternating-refinement family (methods.md §3.4, 3.5, 3.7): options, the plane
// layout of the result, block-joint compensation, the exact reconstruction of each block from its stored
// (fp16) parts, and the full storage count.
#include "bq/quant/methods/binary_family.h"
#include "bq/jobs/job.h"
#include "bq/quant/obc/block_compensation.h"
#include "bq/quant/dense/dense_kernels.h"
#include "bq/quant/obc/hessian.h"
#include "bq/util/fp16.h"
#include "option_reader.h"
#include <stdexcept>

namespace bq::quant::binary {

namespace {

constexpr int kBlock = 128;

bool hasMean(Family f) { return f == Family::Billm || f == Family::Arb || f == Family::ArbX; }
bool hasColScale(Family f) { return f == Family::ArbRc || f == Family::OutputAlign; }
bool hasCgbOption(Family f) { return f != Family::Billm; }

struct Options {
    double percdamp = 0.01;
    PartitionOptions partition;
    int iterations = 15, xIterations = 15, initIterations = 15, modK = 5;
    BlockMetric metric = BlockMetric::Raw;
    AmpGate gate = AmpGate::Literal;
    double ridge = 0.01;
};

Options readOptions(Family family, const nlohmann::json& options)
{
    const std::string id = familyId(family);
    const methods::OptionReader r(id, familyDefaults(family), options);
    Options o;
    o.percdamp = r.number("percdamp", 0, 10);
    o.partition.hessianSalience = r.choice("salient_metric", {"hessian", "magnitude"}) == "hessian";
    o.partition.searchOnSalience = r.choice("search_domain", {"salience", "weight"}) == "salience";
    o.partition.salientLimit = r.integer("salient_limit", 1, 128);
    if (hasCgbOption(family)) o.partition.cgb = r.flag("cgb");
    if (family != Family::Billm) o.iterations = r.integer("iterations", 0, 1000);
    if (family == Family::ArbX) o.xIterations = r.integer("x_iterations", 0, 1000);
    if (family == Family::ArbX || family == Family::OutputAlign)
        o.metric = parseBlockMetric(r.choice("block_metric", {"raw", "schur"}), id);
    if (family == Family::OutputAlign) {
        o.initIterations = r.integer("init_iterations", 0, 1000);
        o.modK = r.integer("mod_k", 1, 1000);
        o.gate = parseAmpGate(r.choice("amp_gate", {"literal", "directional", "off"}), id);
        o.ridge = r.number("ridge", 0, 10);
        if (r.choice("scope", {"block", "matrix"}) == "matrix")
            throw std::invalid_argument(id + ": option 'scope' = \"matrix\" is not implemented (it needs an m × m "
                                             "b-system per iteration); use \"block\"");
    }
    return o;
}

// Plane p of the result covers zone `zone`, sign plane `order` of that zone.
struct PlaneSlot {
    int zone, order;
};

std::vector<PlaneSlot> planeLayout(bool cgb)
{
    std::vector<PlaneSlot> out;
    for (int z = 0; z < kZones; ++z) {
        if (z == SalientDense && !cgb) continue;
        for (int o = 0; o < (isSalientZone(z) ? 2 : 1); ++o) out.push_back({z, o});
    }
    return out;
}

int rowValuesPerGroup(Family f, bool cgb)
{
    if (f == Family::Billm) return 7; // α₁, α₂, μ salient; α, μ per non-salient group
    if (hasMean(f)) return cgb ? 10 : 7;
    return cgb ? 6 : 4; // arb-rc / output-align: one row scale per sign plane
}

// Ŵ for columns [s, e), computed exactly as QuantizedLinear::dequantize does (same float operations and order).
MatrixXfR reconstructBlock(const QuantizedLinear& q, Eigen::Index s, Eigen::Index e)
{
    MatrixXfR out = MatrixXfR::Zero(q.rows, e - s);
    for (const SignPlane& p : q.planes) {
        const bool mean = p.mean.size() != 0, col = p.colScale.size() != 0;
        for (Eigen::Index i = 0; i < q.rows; ++i)
            for (Eigen::Index j = s; j < e; ++j) {
                if (!p.mask.applies(i, j)) continue;
                const Eigen::Index g = groupOf(j, p.group);
                float v = p.rowScale(i, g) * float(p.signs(i, j));
                if (col) v *= p.colScale[j];
                if (mean) v += p.mean(i, g);
                out(i, j - s) += v;
            }
    }
    return out;
}

void roundParams(ZoneParams& p)
{
    auto r = [](Eigen::VectorXd& v) {
        for (Eigen::Index k = 0; k < v.size(); ++k) v[k] = double(roundToHalf(float(v[k])));
    };
    for (int o = 0; o < p.order; ++o) {
        r(p.alpha[std::size_t(o)]);
        r(p.col[std::size_t(o)]);
    }
    r(p.mean);
}

void addTrace(std::vector<double>& total, const std::vector<double>& part, std::size_t offset = 0)
{
    if (total.size() < offset + part.size()) total.resize(offset + part.size(), 0.0);
    for (std::size_t k = 0; k < part.size(); ++k) total[offset + k] += part[k];
}

} // namespace

const char* familyId(Family family)
{
    switch (family) {
    case Family::Billm: return "billm";
    case Family::Arb: return "arb";
    case Family::ArbX: return "arb-x";
    case Family::ArbRc: return "arb-rc";
    case Family::OutputAlign: return "output-align";
    }
    return "?";
}

nlohmann::json familyDefaults(Family family)
{
    nlohmann::json d = {{"percdamp", 0.01},
                        {"salient_metric", "hessian"},
                        {"search_domain", "salience"},
                        {"salient_limit", 50}};
    if (family == Family::Billm) return d;
    d["iterations"] = 15;
    d["cgb"] = true;
    if (family == Family::ArbX) {
        d["x_iterations"] = 15;
        d["block_metric"] = "raw";
    }
    if (family == Family::OutputAlign) {
        d["init_iterations"] = 15;
        d["mod_k"] = 5;
        d["amp_gate"] = "literal";
        d["scope"] = "block";
        d["block_metric"] = "raw";
        d["ridge"] = 0.01;
    }
    return d;
}

bool familyUsesCgb(Family family, const nlohmann::json& options)
{
    if (!hasCgbOption(family)) return false;
    if (options.is_object() && options.contains("cgb") && options["cgb"].is_boolean()) return options["cgb"].get<bool>();
    return true;
}

std::string familyUnsupportedReason(Family family, Eigen::Index n, Eigen::Index m, const nlohmann::json& options)
{
    if (n < 1 || m < 1) return std::string(familyId(family)) + " needs a non-empty weight";
    try {
        (void)readOptions(family, options);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

double familyStorageBits(Family family, Eigen::Index n, Eigen::Index m, double salientColumns, bool cgb)
{
    const double N = double(n), Mc = double(m), groups = double(groupCount(m, kBlock));
    double bits = N * Mc              // first sign plane
                  + N * salientColumns // second sign plane on salient columns
                  + N * Mc             // sparse/concentrated group bitmap (reused by CGB)
                  + Mc;                // salient-column bitmap
    bits += 16.0 * N * groups * rowValuesPerGroup(family, cgb);
    if (hasColScale(family)) // one fp16 column scale per sign plane that covers the column
        bits += 16.0 * (2.0 * (Mc - salientColumns) + (cgb ? 4.0 : 2.0) * salientColumns);
    return bits / (N * Mc);
}

QuantizedLinear quantizeBinaryFamily(Family family, const QuantizeRequest& request, MethodDiagnostics& diagnostics,
                                     MatrixXfR* internal)
{
    const std::string id = familyId(family);
    const MatrixXfR& W0 = methods::requireWeight(request, id.c_str());
    const Eigen::MatrixXd& gram = methods::requireGram(request, id.c_str());
    const Options opt = readOptions(family, request.options);
    const Eigen::Index n = W0.rows(), m = W0.cols();
    const bool cgb = opt.partition.cgb;

    MatrixXfR W = W0;
    // output-align: corrected target W̃ = W Cᵀ (Ĥ + ρI)⁻¹ (§3.7.2), then Hessian-weighted fitting under Ĥ.
    Eigen::MatrixXd G;      // W Cᵀ (n × m), for the AMP gradient
    Eigen::MatrixXd Zamp;   // Ŵ_cur Gᵀ (n × n): blocks done hold Q, later blocks the uncompensated W̃
    MatrixXfR Wtilde;
    if (family == Family::OutputAlign) {
        if (!request.stats.crossGram || request.stats.crossGram->rows() != m || request.stats.crossGram->cols() != m)
            throw std::invalid_argument(request.tensor + ": output-align needs the cross-Gram C (m × m) of the two "
                                                         "activation streams");
        const Eigen::MatrixXd& C = *request.stats.crossGram;
        G = dense::multiplyABt(W0.cast<double>(), C);
        Eigen::MatrixXd reg = gram;
        reg.diagonal().array() += opt.ridge * std::max(1e-300, gram.diagonal().mean());
        if (!dense::choleskyLower(m, reg.data(), m))
            throw std::runtime_error(request.tensor + ": output-align: Ĥ + ρI is not positive definite");
        Eigen::MatrixXd Gt = G.transpose();
        dense::choleskySolve(m, reg.data(), m, n, Gt.data(), m); // (Ĥ + ρI)⁻¹ Gᵀ
        W = Gt.transpose().cast<float>();
        Wtilde = W;
        if (opt.gate != AmpGate::Off) Zamp = dense::multiplyABt(Wtilde.cast<double>(), G);
    }

    PreparedHessian ph = prepareHessian(gram, opt.percdamp, &W, request.tensor);
    if (ph.retries > 0)
        diagnostics.notes.push_back("Cholesky retried " + std::to_string(ph.retries) + "× with 10× damping");

    QuantizedLinear q;
    q.tensor = request.tensor;
    q.method = id;
    q.rows = n;
    q.cols = m;
    const std::vector<PlaneSlot> layout = planeLayout(cgb);
    const int groups = groupCount(m, kBlock);
    for (const PlaneSlot& slot : layout) {
        SignPlane p;
        p.signs = MatrixXi8R::Ones(n, m);
        if (slot.zone == SalientSparse && !cgb) {
            p.mask.kind = PlaneMask::Kind::Columns;
            p.mask.columns.assign(std::size_t(m), 0);
        } else {
            p.mask.kind = PlaneMask::Kind::Elements;
            p.mask.elements = MatrixXu8R::Zero(n, m);
        }
        p.group = kBlock;
        p.rowScale = Eigen::MatrixXf::Zero(n, groups);
        if (hasMean(family) && slot.order == 0) p.mean = Eigen::MatrixXf::Zero(n, groups);
        if (hasColScale(family)) p.colScale = Eigen::VectorXf::Zero(m);
        q.planes.push_back(std::move(p));
    }
    diagnostics.salientColumns.assign(std::size_t(m), 0);
    std::vector<double> trace;
    double salientTotal = 0;

    BlockJointOptions bj;
    bj.blockSize = kBlock;
    bj.needMetric = family == Family::ArbX || family == Family::OutputAlign;
    bj.metric = opt.metric;

    auto quantizeBlock = [&](const BlockView& v) -> MatrixXfR {
        const Eigen::Index s = v.begin, e = v.end, w = e - s, g = s / kBlock;
        PartitionOptions po = opt.partition;
        if (family == Family::ArbX) po.splitMetric = &v.metric;
        const BlockPartition part = searchPartition(*v.weight, v.diagU, po);
        salientTotal += part.salientCount;
        for (Eigen::Index j = 0; j < w; ++j) diagnostics.salientColumns[std::size_t(s + j)] = part.salient[std::size_t(j)];

        const MatrixXdR X = v.weight->cast<double>();
        std::array<ZoneParams, kZones> zones;
        std::vector<double> t1, t2, sumA, sumB;
        for (int z = 0; z < kZones; ++z) {
            if (z == SalientDense && !cgb) continue;
            const int order = isSalientZone(z) ? 2 : 1;
            ZoneParams& p = zones[std::size_t(z)];
            switch (family) {
            case Family::Billm: p = fitBraq(X, part.zone, z, order); break;
            case Family::Arb: p = fitArb(X, part.zone, z, order, opt.iterations, &t1); break;
            case Family::ArbX:
                p = fitArb(X, part.zone, z, order, opt.iterations, nullptr);
                refineArbX(X, part.zone, z, v.metric, opt.xIterations, p, &t1);
                break;
            case Family::ArbRc: p = fitArbRc(X, part.zone, z, order, opt.iterations, &t1); break;
            case Family::OutputAlign: p = fitArbRc(X, part.zone, z, order, opt.initIterations, nullptr); break;
            }
            addTrace(sumA, t1);
        }
        if (family == Family::OutputAlign) {
            OutputAlignBlock blk;
            blk.target = &X;
            blk.metric = &v.metric;
            blk.zone = &part.zone;
            blk.iterations = opt.iterations;
            blk.modK = opt.modK;
            blk.ridge = 1e-9;
            blk.gate = opt.gate;
            Eigen::MatrixXd ZG, GtG;
            MatrixXdR W0b;
            if (opt.gate != AmpGate::Off) {
                const auto Gb = G.middleCols(s, w);
                ZG = dense::multiply(Zamp, Gb);
                GtG = dense::multiplyAtB(Gb, Gb);
                W0b = Wtilde.middleCols(s, w).cast<double>();
                blk.ampGradient = [&](const MatrixXdR& What) -> MatrixXdR {
                    return 2.0 * (ZG + (What - W0b) * GtG);
                };
            }
            alignBlockOutput(blk, zones, &sumA);
        }
        addTrace(trace, sumA);

        const int gi = int(g);
        for (std::size_t pi = 0; pi < layout.size(); ++pi) {
            const PlaneSlot slot = layout[pi];
            ZoneParams& zp = zones[std::size_t(slot.zone)];
            if (slot.order == 0) roundParams(zp);
            SignPlane& plane = q.planes[pi];
            const auto o = std::size_t(slot.order);
            for (Eigen::Index i = 0; i < X.rows(); ++i) {
                plane.rowScale(i, gi) = float(zp.alpha[o][i]);
                if (plane.mean.size()) plane.mean(i, gi) = float(zp.mean[i]);
                for (Eigen::Index j = 0; j < w; ++j) {
                    if (part.zone(i, j) != slot.zone) continue;
                    plane.signs(i, s + j) = zp.sign[o](i, j);
                    if (plane.mask.kind == PlaneMask::Kind::Elements) plane.mask.elements(i, s + j) = 1;
                }
            }
            if (plane.mask.kind == PlaneMask::Kind::Columns)
                for (Eigen::Index j = 0; j < w; ++j) plane.mask.columns[std::size_t(s + j)] = part.salient[std::size_t(j)];
            if (plane.colScale.size())
                for (Eigen::Index j = 0; j < w; ++j) plane.colScale[s + j] = float(zp.col[o][j]);
        }
        MatrixXfR Q = reconstructBlock(q, s, e);
        if (Zamp.size()) {
            const Eigen::MatrixXd dQ = Q.cast<double>() - Wtilde.middleCols(s, w).cast<double>();
            dense::gemm(false, true, n, n, w, 1.0, dQ.data(), n, G.data() + s * n, n, 1.0, Zamp.data(), n);
        }
        return Q;
    };
    compensateBlockJoint(W, ph, bj, quantizeBlock, request.cancel);

    diagnostics.objectiveTrace = trace;
    q.storageBitsPerWeight = familyStorageBits(family, n, m, salientTotal, cgb);
    if (internal) *internal = W;
    return q;
}

} // namespace bq::quant::binary
