// The Compare panel: the full-precision model against its 1-bit model (in memory or an exported file) on a
// chosen text and range — KL divergence, top-1 agreement, both perplexities — and a table of the comparisons
// made so far. View only: it emits runRequested(settings) and shows what the page hands back. GUI thread.
#pragma once
#include <QAbstractTableModel>
#include <QString>
#include <QStringList>
#include <QVector>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableView;

namespace studio {

// What the user asks to compare.
struct CompareSettings {
    QString textPath;         // empty: the built-in demo text
    bool documents = false;   // false: windows (GPTQ protocol); true: blank-line separated documents
    int ctx = 128;            // window length / document truncation; 0 = the model's context
    int docBegin = 0;         // documents mode: [docBegin, docEnd)
    int docEnd = -1;          // -1 = to the end
    QString exportedPath;     // empty: the in-memory quantized model; else this exported GGUF file
    bool store = true;        // store the result in the run file (when the model came from one)
};

// One finished comparison (filled by the page from the core's result).
struct CompareRow {
    QString quantized;        // what ran as the 1-bit side, e.g. "quantized in memory (fp32)"
    QString text, protocol;   // e.g. "demo text", "windows of 128 tokens"
    qint64 tokens = 0;        // predicted positions
    double kl = 0;            // mean KL(P_fp || P_1bit), nats per token
    double top1 = 0;          // fraction of positions with the same argmax
    double pplFp = 0, pplQuantized = 0;
    QString storedIn;         // the run file the result was stored in, or empty
};

// How each comparison figure is computed (tooltips of the table headers and the summary).
QString compareMetricTooltip(const QString& key); // "kl", "top1", "ppl_fp", "ppl_quantized", "tokens"

class CompareResultsModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { QuantizedColumn, TextColumn, ProtocolColumn, TokensColumn, KlColumn, Top1Column, PplFpColumn,
                  PplQuantizedColumn, ColumnCount };
    using QAbstractTableModel::QAbstractTableModel;

    void append(const CompareRow& row);
    void clear();
    const CompareRow& row(int r) const { return m_rows.at(r); }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QVector<CompareRow> m_rows;
};

class ComparePanel : public QWidget {
    Q_OBJECT
public:
    explicit ComparePanel(QWidget* parent = nullptr);

    CompareSettings settings() const;
    // What can be compared: whether a quantized model is there, the run file it came from (enables "store"),
    // and exported files the user can pick instead of the in-memory model (the newest is selected).
    void setQuantizedModel(bool available, const QString& description, const QString& runPath);
    void addExportedFile(const QString& path);
    void setBusy(bool busy);
    void setProgress(int step, int stepCount);
    void showResult(const CompareRow& row);
    void showMessage(const QString& text, bool error);

    CompareResultsModel* results() const { return m_results; }
    QPushButton* runButton() const { return m_run; }
    QPushButton* cancelButton() const { return m_cancel; }
    QComboBox* quantizedSource() const { return m_source; }
    QSpinBox* ctxBox() const { return m_ctx; }
    QString summaryText() const; // the figures shown above the table, one line

signals:
    void runRequested(const studio::CompareSettings& settings);
    void cancelRequested();

private:
    void updateEnabled();
    void chooseText();

    bool m_available = false, m_busy = false;
    QString m_runPath;
    QLabel* m_model = nullptr;
    QComboBox* m_text = nullptr;
    QPushButton* m_browse = nullptr;
    QComboBox* m_mode = nullptr;
    QSpinBox* m_ctx = nullptr;
    QSpinBox* m_docBegin = nullptr;
    QSpinBox* m_docEnd = nullptr;
    QComboBox* m_source = nullptr;
    QCheckBox* m_store = nullptr;
    QPushButton* m_run = nullptr;
    QPushButton* m_cancel = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_kl = nullptr;
    QLabel* m_top1 = nullptr;
    QLabel* m_pplFp = nullptr;
    QLabel* m_pplQuantized = nullptr;
    QLabel* m_message = nullptr;
    QTableView* m_table = nullptr;
    CompareResultsModel* m_results = nullptr;
};

} // namespace studio
