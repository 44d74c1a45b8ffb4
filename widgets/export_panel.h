// The Export panel: format (q1_0, q4_0, bitstudio), embeddings type and the Q1_0 refit switch; the export plan
// as a table (one row per tensor of the file: exact / refit / refused / converted / F32, with the reason as the
// row's tooltip) and the file size, shown before anything is written; then the output file, Export / Cancel,
// and the final report (bytes, refitted tensors, their KL). View only: the page plans and exports on a worker
// and hands the results back as the plain structs below. GUI thread.
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
class QSortFilterProxyModel;
class QTableView;

namespace studio {

struct ExportSettings {
    QString format = QStringLiteral("q1_0"); // "q1_0", "q4_0", "bitstudio"
    QString embeddings = QStringLiteral("F16"); // "F16", "Q8_0", "F32"
    bool refit = false;                      // q1_0 only
    QString path;                            // the output file
    // The user confirmed replacing the existing file at path (the save dialog asks); without it, only a
    // previous bitstudio GGUF is replaced and any other file is refused, as on the command line without --force.
    bool replaceExisting = false;
};

enum class PlanRowAction { Exact, Refit, Refused, Converted, F32 };

struct ExportPlanRowView {
    QString name, shape, method, storedAs, reason, remedy;
    PlanRowAction action = PlanRowAction::Exact;
    quint64 bytes = 0;
};

struct ExportPlanView {
    QString format;                 // the format the plan is for
    QVector<ExportPlanRowView> rows; // the file's tensor order
    int exact = 0, refit = 0, refused = 0, other = 0;
    quint64 headerBytes = 0, fileBytes = 0; // 0 when something is refused
    QString refusal;                // the export's refusal message, empty when nothing is refused
};

struct ExportReportView {
    QString path;
    quint64 bytes = 0;
    double seconds = 0;
    int quantizedTensors = 0;
    QStringList refitted;
    double refitKl = -1, refitTop1 = -1; // < 0: not measured
    qint64 refitTokens = 0;
    QString refitNote;
};

QString planActionText(PlanRowAction action);    // "exact", "refit", ...
QString humanBytes(quint64 bytes);               // "1.23 MiB (1 290 240 bytes)"

class ExportPlanModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { NameColumn, ShapeColumn, ActionColumn, StoredColumn, MethodColumn, BytesColumn, ReasonColumn,
                  ColumnCount };
    static constexpr int SortRole = Qt::UserRole; // file order for names, numbers for bytes

    using QAbstractTableModel::QAbstractTableModel;
    void setPlan(const ExportPlanView& plan);
    void clear();
    const ExportPlanView& plan() const { return m_plan; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    ExportPlanView m_plan;
};

class ExportPanel : public QWidget {
    Q_OBJECT
public:
    explicit ExportPanel(QWidget* parent = nullptr);

    ExportSettings settings() const;
    void setSettings(const ExportSettings& settings);
    // Whether there is a quantized model to export, and what it is.
    void setQuantizedModel(bool available, const QString& description);
    void setPlanning();                      // a plan is being computed for the current settings
    void setPlan(const ExportPlanView& plan);
    void setPlanFailed(const QString& message);
    void setExporting(bool exporting);
    void setProgress(int step, int stepCount);
    void showReport(const ExportReportView& report);
    void showMessage(const QString& text, bool error);

    ExportPlanModel* planModel() const { return m_plan; }
    QTableView* planView() const { return m_view; }
    QComboBox* formatBox() const { return m_format; }
    QComboBox* embeddingsBox() const { return m_embeddings; }
    QCheckBox* refitBox() const { return m_refit; }
    QLineEdit* pathEdit() const { return m_path; }
    QPushButton* exportButton() const { return m_export; }
    QPushButton* cancelButton() const { return m_cancel; }
    QString totalText() const;               // the plan summary line
    QString reportText() const;

signals:
    void settingsChanged(const studio::ExportSettings& settings); // format, embeddings or refit changed
    void exportRequested(const studio::ExportSettings& settings);
    void cancelRequested();

private:
    void updateEnabled();
    void choosePath();
    void emitChanged();

    bool m_available = false, m_exporting = false, m_planReady = false;
    QLabel* m_model = nullptr;
    QComboBox* m_format = nullptr;
    QComboBox* m_embeddings = nullptr;
    QCheckBox* m_refit = nullptr;
    QLabel* m_total = nullptr;
    QTableView* m_view = nullptr;
    ExportPlanModel* m_plan = nullptr;
    QSortFilterProxyModel* m_proxy = nullptr;
    QLineEdit* m_path = nullptr;
    QString m_confirmedReplace; // a path the save dialog confirmed replacing
    QPushButton* m_browse = nullptr;
    QPushButton* m_export = nullptr;
    QPushButton* m_cancel = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_report = nullptr;
};

} // namespace studio
