// The central "bq::Model" tab: a readable one-page overview of the loaded model — summary, weights by data type,
// the matrices of one transformer block, and how the tokenizer splits a sample sentence. GUI thread.
#pragma once
#include <QTextBrowser>
#include <memory>

namespace bq {
struct Model;
}

namespace studio {

class ModelOverview : public QTextBrowser {
    Q_OBJECT
public:
    explicit ModelOverview(QWidget* parent = nullptr);
    void setModel(const std::shared_ptr<const bq::Model>& model); // nullptr shows the welcome text

    // The HTML for a model (public so it can be tested without a widget).
    static QString overviewHtml(const bq::Model& model);
};

} // namespace studio
