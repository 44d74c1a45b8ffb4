// The "Log" dock: timestamped core and application messages with a minimum-level filter, a search field and
// copy. GUI thread.
#pragma once
#include "bq/util/log_level.h"
#include <QDateTime>
#include <QString>
#include <QVector>
#include <QWidget>

class QComboBox;
class QLineEdit;
class QPlainTextEdit;

namespace studio {

class LogPanel : public QWidget {
    Q_OBJECT
public:
    explicit LogPanel(QWidget* parent = nullptr);

    void append(bq::LogLevel level, const QString& text);
    void clear();
    // All messages kept so far (unfiltered), "LEVEL text" per line, oldest first.
    QStringList lines() const;
    int errorCount() const { return m_errors; }
    void setSearch(const QString& text); // shows only the lines containing text (any case)
    int shownCount() const;              // lines currently shown

private:
    struct Entry {
        QDateTime time;
        bq::LogLevel level;
        QString text;
    };
    void render();
    bool shown(const Entry& e) const;
    void appendEntry(const Entry& e);

    QVector<Entry> m_entries;
    int m_errors = 0;
    QComboBox* m_level = nullptr;
    QLineEdit* m_search = nullptr;
    QPlainTextEdit* m_view = nullptr;
};

const char* logLevelName(bq::LogLevel level) noexcept;

} // namespace studio
