#include "widgets/model_summary.h"
#include "bq/model/model.h"
#include "bq/model/model_stats.h"
#include "bq/tokenizer/tokenizer.h"
#include <QFileInfo>
#include <QLocale>
#include <QStringList>
#include <algorithm>
#include <cstring>
#include <vector>

namespace studio {

using namespace bq;

QString humanCount(std::int64_t n)
{
    const double v = double(n);
    if (v >= 1e9)
        return QStringLiteral("%1 B").arg(v / 1e9, 0, 'f', 2);
    if (v >= 1e6)
        return QStringLiteral("%1 M").arg(v / 1e6, 0, 'f', 2);
    if (v >= 1e4)
        return QStringLiteral("%1 K").arg(v / 1e3, 0, 'f', 1);
    return QString::number(n);
}

QString groupedNumber(std::int64_t n)
{
    QLocale locale = QLocale::c();
    locale.setNumberOptions({}); // the C locale omits group separators by default
    return locale.toString(qlonglong(n));
}

QString humanBytes(std::uint64_t bytes)
{
    const double v = double(bytes);
    if (v >= 1024.0 * 1024.0 * 1024.0)
        return QStringLiteral("%1 GiB").arg(v / (1024.0 * 1024.0 * 1024.0), 0, 'f', 2);
    if (v >= 1024.0 * 1024.0)
        return QStringLiteral("%1 MiB").arg(v / (1024.0 * 1024.0), 0, 'f', 2);
    if (v >= 1024.0)
        return QStringLiteral("%1 KiB").arg(v / 1024.0, 0, 'f', 1);
    return QStringLiteral("%1 B").arg(bytes);
}

QString shareOf(std::int64_t part, std::int64_t whole)
{
    const double share = whole > 0 ? 100.0 * double(part) / double(whole) : 0.0;
    if (part > 0 && share < 0.05)
        return QStringLiteral("<0.1%");
    if (part < whole && share >= 99.95)
        return QStringLiteral(">99.9%");
    return QStringLiteral("%1%").arg(share, 0, 'f', 1);
}

QString dtypeTooltip(DType type)
{
    const TensorTypeTraits& t = tensorType(type);
    return QStringLiteral("%1: %2 (%3 bits/weight)")
        .arg(QString::fromLatin1(t.name), QString::fromUtf8(t.description), QString::number(t.bitsPerWeight()));
}

std::uint64_t sourceFileBytes(const Model& model)
{
    const QFileInfo file(QString::fromStdString(model.sourcePath));
    return file.isFile() ? static_cast<std::uint64_t>(file.size()) : 0;
}

QString bitsPerWeightSummary(const Model& model)
{
    const ModelStats stats = modelStats(model);
    QString text = QStringLiteral("%1 overall, %2 in the matrices")
                       .arg(stats.bitsPerWeight(), 0, 'f', 3)
                       .arg(stats.matrixBitsPerWeight(), 0, 'f', 3);
    if (const std::uint64_t file = sourceFileBytes(model); file > 0 && stats.parameters > 0)
        text += QStringLiteral(", %1 for the file").arg(8.0 * double(file) / double(stats.parameters), 0, 'f', 3);
    return text;
}

QString modelSummaryToolTip(const QString& label)
{
    if (label == QLatin1String("Data types"))
        return QStringLiteral("Each storage type's share of the weights (tensor elements) and its number of tensors.");
    if (label == QLatin1String("Bits per weight"))
        return QStringLiteral(
            "8 · stored bytes / weights: the true storage cost, block scales and offsets included.\n"
            "Overall: every tensor. Matrices: the 2-D tensors (linear layers and embeddings), where quantization "
            "spends its bits; the norms and biases are 1-D.\n"
            "File: 8 · the file's size / weights, headers and metadata (tokenizer) included.");
    if (label == QLatin1String("Weights"))
        return QStringLiteral("The tensors' stored bytes (as loaded) and their number.");
    return {};
}

QList<QPair<QString, QString>> modelSummaryRows(const Model& model)
{
    const ModelConfig& c = model.config;
    QList<QPair<QString, QString>> rows;
    auto add = [&](const QString& label, const QString& value) { rows.append({label, value}); };

    add(QStringLiteral("Architecture"), QString::fromStdString(c.arch));
    add(QStringLiteral("Format"), QString::fromStdString(model.sourceFormat));
    const ModelStats stats = modelStats(model);
    const std::int64_t params = stats.parameters;
    add(QStringLiteral("Parameters"),
        QStringLiteral("%1 (%2)").arg(humanCount(params), groupedNumber(params)));
    add(QStringLiteral("Weights"),
        QStringLiteral("%1 in %2 tensors").arg(humanBytes(stats.bytes)).arg(model.tensors.size()));
    // The mix by type name.
    std::vector<TypeUsage> byName = stats.byType;
    std::sort(byName.begin(), byName.end(), [](const TypeUsage& a, const TypeUsage& b) {
        return std::strcmp(dtypeName(a.type), dtypeName(b.type)) < 0;
    });
    QStringList mix;
    for (const TypeUsage& u : byName)
        mix << QStringLiteral("%1 %2 in %3 %4")
                   .arg(QString::fromLatin1(dtypeName(u.type)), shareOf(u.parameters, params))
                   .arg(u.tensors)
                   .arg(u.tensors == 1 ? QStringLiteral("tensor") : QStringLiteral("tensors"));
    add(QStringLiteral("Data types"), mix.join(QStringLiteral(", ")));
    add(QStringLiteral("Bits per weight"), bitsPerWeightSummary(model));
    add(QStringLiteral("Layers"), QString::number(c.nLayers));
    add(QStringLiteral("Dim"), QString::number(c.dim));
    add(QStringLiteral("FFN dim"), QString::number(c.hiddenDim));
    add(QStringLiteral("Heads"), c.nKvHeads == c.nHeads
                                     ? QString::number(c.nHeads)
                                     : QStringLiteral("%1 (%2 KV)").arg(c.nHeads).arg(c.nKvHeads));
    add(QStringLiteral("Head dim"), QString::number(c.headDim));
    add(QStringLiteral("Context"), QString::number(c.maxSeqLen));
    add(QStringLiteral("Vocabulary"), QString::number(c.vocabSize));
    add(QStringLiteral("Tokenizer"), model.tokenizer
                                         ? QStringLiteral("%1 (%2 pieces)")
                                               .arg(QString::fromStdString(model.tokenizer->family()))
                                               .arg(model.tokenizer->vocabSize())
                                         : QStringLiteral("none"));
    QString rope = QStringLiteral("%1, θ = %2")
                       .arg(c.ropeStyle == RopeStyle::Interleaved ? QStringLiteral("interleaved")
                                                                      : QStringLiteral("NeoX (rotate half)"))
                       .arg(double(c.ropeTheta), 0, 'g', 7);
    if (c.ropeScaling)
        rope += QStringLiteral(", llama3 scaling ×%1").arg(double(c.ropeScaling->factor));
    add(QStringLiteral("RoPE"), rope);
    add(QStringLiteral("Tied embeddings"), c.tiedEmbeddings ? QStringLiteral("yes") : QStringLiteral("no"));
    add(QStringLiteral("Norm eps"), QString::number(double(c.normEps), 'g', 3));
    if (c.qkvBias)
        add(QStringLiteral("QKV bias"), QStringLiteral("yes"));
    if (c.qkNorm)
        add(QStringLiteral("QK norm"), QStringLiteral("yes"));
    if (c.slidingWindow > 0)
        add(QStringLiteral("Sliding window"), QString::number(c.slidingWindow));
    return rows;
}

} // namespace studio
