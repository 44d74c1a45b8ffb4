// Driver of the salient / alternating-refinement family (methods.md §3.4, 3.5, 3.7): the shared options, the
// plane layout of the result, block-joint compensation, the exact reconstruction of each block from its stored
// (fp16) parts, the full storage count and the registry entry; each member's own steps come from its file.
#include "bq/quant/methods/binary_family.h"
#include "bq/jobs/job.h"
#include "bq/quant/obc/block_compensation.h"
#include "bq/quant/obc/hessian.h"
#include "bq/util/fp16.h"
#include "method_memory.h"
#include "option_reader.h"
#include "step_recorder.h"
#include <optional>
#include <stdexcept>

namespace bq::quant::binary {

namespace {

constexpr int kBlock = 128;

struct Options {
    double percdamp = 0.01;
    PartitionOptions partition;
};

Options readOptions(const methods::OptionReader& r, const FamilyMember& member)
{
    Options o;
    o.percdamp = r.number("percdamp");
    o.partition.hessianSalience = r.choice("salient_metric") == "hessian";
    o.partition.searchOnSalience = r.choice("search_domain") == "salience";
    o.partition.salientLimit = r.integer("salient_limit");
    o.partition.cgb = familyUsesCgb(member, r.options());
    return o;
}

bool hasCgbOption(const FamilyMember& member)
{
    for (const OptionSpec& option : member.options)
        if (option.name == "cgb") return true;
    return false;
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

// What the planes of the layout hold: how many planes, how many have an element mask (the others, the salient
// planes without CGB, a column mask) and how many row means (one per zone, on its first plane).
struct LayoutCounts {
    int planes = 0, elementMasks = 0, means = 0;
};

LayoutCounts layoutCounts(const FamilyMember& member, bool cgb)
{
    LayoutCounts c;
    for (const PlaneSlot& slot : planeLayout(cgb)) {
        ++c.planes;
        if (slot.zone != SalientSparse || cgb) ++c.elementMasks;
        if (member.rowMeans && slot.order == 0) ++c.means;
    }
    return c;
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

std::string unsupportedReason(const FamilyMember& member, Eigen::Index n, Eigen::Index m,
                              const nlohmann::json& options)
{
    if (n < 1 || m < 1) return member.id + " needs a non-empty weight";
    return methods::optionProblem([&] {
        const methods::OptionReader r(member.id, member.options, options);
        (void)member.start(r.options());
    });
}

// In-memory bytes per weight of the result: one int8 sign matrix per plane, a uint8 element mask per masked plane
// (a column mask otherwise), float row scales (and means) per block, float column scales.
double residentPerWeight(const FamilyMember& member, Eigen::Index rows, Eigen::Index cols,
                         const nlohmann::json& options)
{
    const LayoutCounts c = layoutCounts(member, familyUsesCgb(member, options));
    const double n = double(rows), m = double(cols), groups = double(groupCount(cols, kBlock));
    const double planes = c.planes, elementMasks = c.elementMasks, columnMasks = c.planes - c.elementMasks;
    return planes + elementMasks + columnMasks / n + 4.0 * groups / m * (planes + c.means) +
           (member.columnScales ? 4.0 * planes / n : 0.0);
}

using methods::changeText;
using methods::formatNumber;

// The Layer lab's steps of one layer (QuantizeRequest::recordSteps): the Hessian, then per block the partition
// with the initial zone fits, every iteration of the member's fits, and the stored block. A stored block's step
// waits for the compensation to spread its error, so its snapshot shows the later columns as the next block
// sees them.
class FamilySteps {
public:
    FamilySteps(const FamilyMember& member, const QuantizeRequest& request, MethodDiagnostics& diagnostics,
                const MatrixXfR& W)
        : m_words(member.words), m_steps(request, diagnostics), m_W(W)
    {
    }
    bool active() const { return m_steps.active(); }
    // Whether this block's fits should report their values (the snapshots still fit the budget).
    bool wantsValues() const { return m_steps.wantsSnapshot(); }

    void hessian(const PreparedHessian& ph, double percdamp)
    {
        std::string what = "so each block's error can be spread over the later columns and its diagonal ranks the "
                           "columns' salience";
        if (!m_words.prepare.empty())
            what += "; before that it " + m_words.prepare;
        recordHessianStep(m_steps, ph, percdamp, m_W, what);
    }

    // The fits of one block: the objective after init and each iteration (trace[t]; a member that does not
    // iterate has no trace, its zones are the initial fit); values[t], when asked for, the block's Ŵ_b then.
    void fits(const BlockStep& block, const MemberRun& run, const PartitionOptions& po,
              const std::array<ZoneParams, kZones>& zones, const std::vector<double>& trace,
              const std::vector<MatrixXdR>& values)
    {
        flush();
        const Eigen::Index s = block.view.begin;
        const std::string where = "Block " + std::to_string(s / kBlock + 1) + " · ";
        double fitted = std::numeric_limits<double>::quiet_NaN();
        if (trace.empty()) {
            MatrixXdR V = MatrixXdR::Zero(block.X.rows(), block.X.cols());
            for (int z = 0; z < kZones; ++z)
                if (z != SalientDense || po.cgb)
                    V += zoneValue(zones[std::size_t(z)], block.partition.zone, z);
            fitted = run.blockObjective(block, V);
        }
        auto objectiveAt = [&](std::size_t t) { return t < trace.size() ? trace[t] : fitted; };
        const std::string salience = po.hessianSalience ? "W²/U_jj²" : "|W|";
        std::string sentence = "Ranked the block's columns by salience " + salience + " and kept " +
                               std::to_string(block.partition.salientCount) +
                               " salient column(s) with two sign planes, split the rest at a searched break point "
                               "into a sparse and a concentrated zone";
        if (po.cgb)
            sentence += " (the column-group bitmap splits the salient columns the same way)";
        sentence += ", then fitted each zone by " + m_words.fit + "; the block objective is " +
                    formatNumber(objectiveAt(0)) + ".";
        add(where + "partition and fit", std::move(sentence), objectiveAt(0), block, 0,
            values.empty() ? nullptr : &values[0]);
        const std::size_t count = std::max(trace.size(), values.size());
        for (std::size_t t = 1; t < count; ++t)
            add(where + m_words.name + " iteration " + std::to_string(t),
                m_words.iteration + "; the objective " + changeText(objectiveAt(t - 1), objectiveAt(t)) + ".",
                objectiveAt(t), block, int(t), t < values.size() ? &values[t] : nullptr);
    }

    // The block as stored (fp16 scales); recorded once its error is spread (flush).
    void stored(const BlockStep& block, const MemberRun& run, const MatrixXfR& Q, bool rowMeans)
    {
        const double objective = run.blockObjective(block, Q.cast<double>());
        m_pending = MethodStep{
            .title = "Block " + std::to_string(block.view.begin / kBlock + 1) + " · stored",
            .sentence = std::string("Rounded the scales") + (rowMeans ? " and means" : "") +
                        " to fp16 (objective " + formatNumber(objective) +
                        "), stored the block's signs and bitmaps, and spread its error, divided by U_jj, over the "
                        "later columns.",
            .objective = objective,
            .objectiveName = m_words.objectiveName,
            .columnBegin = block.view.begin,
            .columnEnd = block.view.end};
    }

    // Records the stored block, if any: called when the next block starts and after the last one.
    void flush()
    {
        if (!m_pending)
            return;
        if (m_steps.wantsSnapshot())
            m_pending->snapshot = m_W;
        m_steps.add(std::move(*m_pending));
        m_pending.reset();
    }

private:
    // A fit step: the working matrix with the block replaced by `value` (when given).
    void add(std::string title, std::string sentence, double objective, const BlockStep& block, int iteration,
             const MatrixXdR* value)
    {
        MethodStep step{.title = std::move(title),
                        .sentence = std::move(sentence),
                        .objective = objective,
                        .objectiveName = m_words.objectiveName,
                        .columnBegin = block.view.begin,
                        .columnEnd = block.view.end,
                        .iteration = iteration};
        if (value && m_steps.wantsSnapshot()) {
            step.snapshot = m_W;
            step.snapshot.middleCols(block.view.begin, value->cols()) = value->cast<float>();
        }
        m_steps.add(std::move(step));
    }

    const MemberWords& m_words;
    methods::StepRecorder m_steps;
    const MatrixXfR& m_W; // the working matrix of the compensation
    std::optional<MethodStep> m_pending;
};

} // namespace

void MemberRun::prepare(const QuantizeRequest&, const Eigen::MatrixXd&, MatrixXfR&) {}

void MemberRun::refineBlock(const BlockStep&, std::array<ZoneParams, kZones>&, std::vector<double>&,
                            std::vector<MatrixXdR>*)
{
}

void MemberRun::blockDone(const BlockStep&, const MatrixXfR&) {}

double MemberRun::blockObjective(const BlockStep& block, const MatrixXdR& What) const
{
    return (block.X - What).squaredNorm();
}

std::vector<OptionSpec> familyOptions(bool withCgb)
{
    std::vector<OptionSpec> options{
        floatOption("percdamp", 0.01, 0, 10, "Hessian damping, as a fraction of the mean diagonal"),
        choiceOption("salient_metric", "hessian", {"hessian", "magnitude"},
                     "Column salience: W² / U_jj² (hessian, the paper) or |W| (magnitude, ARB-LLM's code default)"),
        choiceOption("search_domain", "salience", {"salience", "weight"},
                     "What the salient-column search ranks and measures: the salience or the weights"),
        intOption("salient_limit", 50, 1, 128, "Salient columns tried per 128-column block: 1 .. limit - 1")};
    if (withCgb)
        options.push_back(boolOption("cgb", true, "Column-group bitmap: split the salient columns into zones too"));
    return options;
}

bool familyUsesCgb(const FamilyMember& member, const nlohmann::json& options)
{
    if (!hasCgbOption(member)) return false;
    if (options.is_object() && options.contains("cgb") && options["cgb"].is_boolean())
        return options["cgb"].get<bool>();
    return true;
}

double familyStorageBits(const FamilyMember& member, Eigen::Index n, Eigen::Index m, double salientColumns,
                         bool cgb)
{
    const LayoutCounts c = layoutCounts(member, cgb);
    const double N = double(n), Mc = double(m), groups = double(groupCount(m, kBlock));
    double bits = N * Mc              // first sign plane
                  + N * salientColumns // second sign plane on salient columns
                  + N * Mc             // sparse/concentrated group bitmap (reused by CGB)
                  + Mc;                // salient-column bitmap
    bits += 16.0 * N * groups * (c.planes + c.means); // a row scale per plane, a mean per zone (rowMeans)
    if (member.columnScales) // one fp16 column scale per sign plane that covers the column
        bits += 16.0 * (2.0 * (Mc - salientColumns) + (cgb ? 4.0 : 2.0) * salientColumns);
    return bits / (N * Mc);
}

MethodInfo familyMethod(const FamilyMember& member)
{
    MethodInfo info;
    info.id = member.id;
    info.options = member.options;
    info.needsGram = true;
    info.unsupportedReason = [&member](Eigen::Index n, Eigen::Index m, const nlohmann::json& options) {
        return unsupportedReason(member, n, m, options);
    };
    info.estimateBits = [&member](Eigen::Index n, Eigen::Index m, const nlohmann::json& options) {
        return familyStorageBits(member, n, m, kExpectedSalientFraction * double(m), familyUsesCgb(member, options));
    };
    info.residentBytesPerWeight = [&member](Eigen::Index n, Eigen::Index m, const nlohmann::json& options) {
        return residentPerWeight(member, n, m, options);
    };
    info.workingBytes = [](Eigen::Index n, Eigen::Index m, const nlohmann::json&) {
        return methods::weightCopyBytes(n, m) + methods::hessianBytes(m);
    };
    info.quantize = [&member](const QuantizeRequest& request, MethodDiagnostics& diagnostics) {
        return quantizeBinaryFamily(member, request, diagnostics);
    };
    return info;
}

QuantizedLinear quantizeBinaryFamily(const FamilyMember& member, const QuantizeRequest& request,
                                     MethodDiagnostics& diagnostics, MatrixXfR* internal)
{
    const std::string& id = member.id;
    const MatrixXfR& W0 = methods::requireWeight(request, id.c_str());
    const Eigen::MatrixXd& gram = methods::requireGram(request, id.c_str());
    const methods::OptionReader reader(id, member.options, request.options);
    const Options opt = readOptions(reader, member);
    const std::unique_ptr<MemberRun> run = member.start(reader.options());
    const Eigen::Index n = W0.rows(), m = W0.cols();
    const bool cgb = opt.partition.cgb;

    MatrixXfR W = W0;
    run->prepare(request, gram, W);
    PreparedHessian ph = prepareHessian(gram, opt.percdamp, &W, request.tensor);
    if (ph.retries > 0)
        diagnostics.notes.push_back("Cholesky retried " + std::to_string(ph.retries) + "× with 10× damping");
    FamilySteps steps(member, request, diagnostics, W);
    if (steps.active())
        steps.hessian(ph, opt.percdamp);

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
        if (member.rowMeans && slot.order == 0) p.mean = Eigen::MatrixXf::Zero(n, groups);
        if (member.columnScales) p.colScale = Eigen::VectorXf::Zero(m);
        q.planes.push_back(std::move(p));
    }
    diagnostics.salientColumns.assign(std::size_t(m), 0);
    std::vector<double> trace;
    double salientTotal = 0;

    BlockJointOptions bj;
    bj.blockSize = kBlock;
    bj.needMetric = run->blockMetric().has_value();
    bj.metric = run->blockMetric().value_or(BlockMetric::Raw);

    auto quantizeBlock = [&](const BlockView& v) -> MatrixXfR {
        const Eigen::Index s = v.begin, e = v.end, w = e - s, g = s / kBlock;
        PartitionOptions po = opt.partition;
        if (run->splitsOnMetric()) po.splitMetric = &v.metric;
        const BlockPartition part = searchPartition(*v.weight, v.diagU, po);
        salientTotal += part.salientCount;
        for (Eigen::Index j = 0; j < w; ++j) diagnostics.salientColumns[std::size_t(s + j)] = part.salient[std::size_t(j)];

        const MatrixXdR X = v.weight->cast<double>();
        const BlockStep step{v, X, part};
        std::array<ZoneParams, kZones> zones;
        std::vector<double> zoneTrace, blockTrace;
        // The step recording's values of the fits (each zone's added up), only while snapshots fit the budget.
        const bool record = steps.active(), withValues = record && steps.wantsValues();
        std::vector<MatrixXdR> zoneValues, blockValues;
        for (int z = 0; z < kZones; ++z) {
            if (z == SalientDense && !cgb) continue;
            zones[std::size_t(z)] =
                run->fitZone(step, z, isSalientZone(z) ? 2 : 1, &zoneTrace, withValues ? &zoneValues : nullptr);
            addTrace(blockTrace, zoneTrace);
            if (withValues) {
                if (zoneValues.empty()) // a fit that does not iterate: its result is the initial fit
                    zoneValues.push_back(zoneValue(zones[std::size_t(z)], part.zone, z));
                blockValues.resize(std::max(blockValues.size(), zoneValues.size()), MatrixXdR::Zero(n, w));
                for (std::size_t t = 0; t < zoneValues.size(); ++t)
                    blockValues[t] += zoneValues[t];
                zoneValues.clear();
            }
        }
        run->refineBlock(step, zones, blockTrace, withValues ? &blockValues : nullptr);
        addTrace(trace, blockTrace);
        if (record)
            steps.fits(step, *run, opt.partition, zones, blockTrace, blockValues);

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
        run->blockDone(step, Q);
        if (record)
            steps.stored(step, *run, Q, member.rowMeans);
        return Q;
    };
    compensateBlockJoint(W, ph, bj, quantizeBlock, request.cancel);
    if (steps.active())
        steps.flush();

    diagnostics.objectiveTrace = trace;
    q.storageBitsPerWeight = familyStorageBits(member, n, m, salientTotal, cgb);
    if (internal) *internal = W;
    return q;
}

} // namespace bq::quant::binary
