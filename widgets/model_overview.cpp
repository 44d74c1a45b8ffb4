#include "widgets/model_overview.h"
#include "bq/model/model.h"
#include "bq/model/model_stats.h"
#include "bq/model/tensor_names.h"
#include "bq/tokenizer/tokenizer.h"
#include "widgets/model_summary.h"
#include <algorithm>
#include <QLocale>

namespace studio {

using namespace bq;

namespace {

const char* const kSample = "Once upon a time, there was a little bird who wanted to fly.";

QString row(const QStringList& cells, bool header = false)
{
    QString out = QStringLiteral("<tr>");
    for (int i = 0; i < cells.size(); ++i) {
        const QString align = i == 0 ? QStringLiteral("left") : QStringLiteral("right");
        out += header ? QStringLiteral("<th align='%1'>%2</th>").arg(align, cells[i])
                      : QStringLiteral("<td align='%1'>%2</td>").arg(align, cells[i]);
    }
    return out + QStringLiteral("</tr>");
}

QString tokenizerSample(const Tokenizer& tok)
{
    std::vector<std::int32_t> ids;
    try {
        ids = tok.encode(kSample);
    } catch (const std::exception& e) {
        return QStringLiteral("<p>Tokenizer error: %1</p>").arg(QString::fromUtf8(e.what()).toHtmlEscaped());
    }
    QString pieces;
    for (std::int32_t id : ids) {
        QString piece = QString::fromStdString(tok.piece(id)).toHtmlEscaped();
        pieces += QStringLiteral("<span style='background-color:#e3ecf7'>&nbsp;%1&nbsp;</span><sub>%2</sub> ")
                      .arg(piece)
                      .arg(id);
    }
    return QStringLiteral("<p><i>%1</i> → %2 tokens (%3 characters)</p><p style='line-height:150%'>%4</p>")
        .arg(QString::fromUtf8(kSample).toHtmlEscaped())
        .arg(ids.size())
        .arg(QString::fromUtf8(kSample).size())
        .arg(pieces);
}

} // namespace

ModelOverview::ModelOverview(QWidget* parent) : QTextBrowser(parent)
{
    setOpenLinks(false);
    setFrameShape(QFrame::NoFrame);
    document()->setDocumentMargin(14);
    setModel(nullptr);
}

void ModelOverview::setModel(const std::shared_ptr<const Model>& model)
{
    if (!model) {
        setHtml(tr("<h2>bitstudio</h2><p>1-bit post-training quantization studio.</p>"
                   "<p>Open a model with <b>File → Open model…</b> (llama2.c checkpoints, GGUF files) or "
                   "<b>File → Open HF directory…</b> (safetensors with config.json), or explore the built-in "
                   "<b>demo model</b>.</p>"));
        return;
    }
    setHtml(overviewHtml(*model));
}

QString ModelOverview::overviewHtml(const Model& model)
{
    QString name = QString::fromStdString(model.config.arch);
    for (const auto& [key, value] : model.metadata)
        if (key == "general.name" && !value.empty())
            name = QString::fromStdString(value);
    QString html = QStringLiteral("<h2>%1</h2><p style='color:#666'>%2 — %3</p>")
                       .arg(name.toHtmlEscaped(), QString::fromStdString(model.sourcePath).toHtmlEscaped(),
                            QString::fromStdString(model.sourceFormat).toHtmlEscaped());

    html += QStringLiteral("<h3>Summary</h3><table cellspacing='0' cellpadding='3'>");
    for (const auto& [label, value] : modelSummaryRows(model))
        html += QStringLiteral("<tr><td style='color:#555'>%1</td><td>%2</td></tr>")
                    .arg(label.toHtmlEscaped(), value.toHtmlEscaped());
    html += QStringLiteral("</table>");

    // Weights by data type, then the totals: every tensor, the 2-D tensors, the whole file.
    const ModelStats stats = modelStats(model);
    const QString bitsHelp = modelSummaryToolTip(QStringLiteral("Bits per weight")).toHtmlEscaped();
    html += QStringLiteral("<h3>Weights by type</h3><table cellspacing='0' cellpadding='3' border='0'>");
    html += row({tr("Type"), tr("Tensors"), tr("Parameters"), tr("Size"),
                 QStringLiteral("<span title='%1'>%2</span>").arg(bitsHelp, tr("Bits/weight")), tr("Share")},
                true);
    for (const TypeUsage& u : stats.byType) {
        html += row({QStringLiteral("<span title='%1'>%2</span>")
                         .arg(dtypeTooltip(u.type).toHtmlEscaped(), QString::fromLatin1(dtypeName(u.type))),
                     QString::number(u.tensors), groupedNumber(u.parameters), humanBytes(u.bytes),
                     QString::number(u.bitsPerWeight(), 'f', 3), shareOf(u.parameters, stats.parameters).toHtmlEscaped()});
    }
    html += row({tr("<b>all</b>"), QString::number(stats.tensors), groupedNumber(stats.parameters),
                 humanBytes(stats.bytes), QStringLiteral("<b>%1</b>").arg(stats.bitsPerWeight(), 0, 'f', 3),
                 QStringLiteral("100%")});
    html += row({tr("matrices (2-D)"), QString::number(stats.matrixTensors), groupedNumber(stats.matrixParameters),
                 humanBytes(stats.matrixBytes), QString::number(stats.matrixBitsPerWeight(), 'f', 3),
                 shareOf(stats.matrixParameters, stats.parameters).toHtmlEscaped()});
    if (const std::uint64_t file = sourceFileBytes(model); file > 0 && stats.parameters > 0)
        html += row({tr("file"), QString(), QString(), humanBytes(file),
                     QString::number(8.0 * double(file) / double(stats.parameters), 'f', 3), QString()});
    html += QStringLiteral("</table><p style='color:#666'>%1</p>")
                .arg(tr("Bits/weight = 8 · stored bytes / weights: the true storage cost, block scales and offsets "
                        "included. The matrices are the 2-D tensors (linear layers and embeddings); the file row "
                        "divides the whole file's size, headers and metadata included."));

    // One block's matrices (all blocks share the architecture).
    if (model.config.nLayers > 0) {
        html += QStringLiteral("<h3>Block structure</h3><p>Each of the %1 blocks holds:</p>"
                               "<table cellspacing='0' cellpadding='3'>")
                    .arg(model.config.nLayers);
        html += row({tr("Tensor"), tr("Shape"), tr("Type"), tr("Parameters")}, true);
        std::int64_t blockParams = 0;
        std::vector<const Tensor*> block;
        for (const auto& [tname, t] : model.tensors)
            if (tname.rfind("blk.0.", 0) == 0)
                block.push_back(&t);
        std::sort(block.begin(), block.end(),
                  [](const Tensor* a, const Tensor* b) { return tensorOrderLess(a->name, b->name); });
        for (const Tensor* tp : block) {
            const Tensor& t = *tp;
            const std::string& tname = t.name;
            blockParams += t.numel();
            html += row({QString::fromStdString(tname.substr(6)), QString::fromStdString(t.shapeString()),
                         QString::fromLatin1(dtypeName(t.dtype)), groupedNumber(t.numel())});
        }
        html += row({tr("<b>total</b>"), QString(), QString(),
                     QStringLiteral("<b>%1</b>").arg(groupedNumber(blockParams))});
        html += QStringLiteral("</table>");
    }

    if (model.tokenizer)
        html += QStringLiteral("<h3>Tokenizer</h3>") + tokenizerSample(*model.tokenizer);
    if (!model.chatTemplate.empty())
        html += QStringLiteral("<h3>Chat template</h3><pre>%1</pre>")
                    .arg(QString::fromStdString(model.chatTemplate).toHtmlEscaped());
    return html;
}

} // namespace studio
