#include "widgets/log_panel.h"
#include <QApplication>
#include <QClipboard>
#include <QLineEdit>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QVBoxLayout>

namespace studio {

using namespace bq;

namespace {
constexpr int kMaxEntries = 20000; // older lines are dropped so a chatty job cannot grow memory unbounded
}

const char* logLevelName(LogLevel level) noexcept
{
    switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warning: return "warning";
    case LogLevel::Error: return "error";
    }
    return "?";
}

LogPanel::LogPanel(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->setSpacing(4);
    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Show:"), this));
    m_level = new QComboBox(this);
    m_level->addItem(tr("Everything"), int(LogLevel::Debug));
    m_level->addItem(tr("Info and above"), int(LogLevel::Info));
    m_level->addItem(tr("Warnings and errors"), int(LogLevel::Warning));
    m_level->addItem(tr("Errors only"), int(LogLevel::Error));
    m_level->setCurrentIndex(1);
    bar->addWidget(m_level);
    m_search = new QLineEdit(this);
    m_search->setObjectName(QStringLiteral("logSearch"));
    m_search->setPlaceholderText(tr("Search the log"));
    m_search->setClearButtonEnabled(true);
    bar->addWidget(m_search, 1);
    auto* copyButton = new QPushButton(tr("Copy"), this);
    copyButton->setToolTip(tr("Copy the lines shown (level filter and search applied)"));
    bar->addWidget(copyButton);
    auto* clearButton = new QPushButton(tr("Clear"), this);
    bar->addWidget(clearButton);
    layout->addLayout(bar);

    m_view = new QPlainTextEdit(this);
    m_view->setReadOnly(true);
    m_view->setMaximumBlockCount(kMaxEntries);
    m_view->setLineWrapMode(QPlainTextEdit::NoWrap);
    QFont mono(QStringLiteral("Monospace"));
    mono.setStyleHint(QFont::TypeWriter);
    mono.setPointSizeF(font().pointSizeF() * 0.95);
    m_view->setFont(mono);
    layout->addWidget(m_view, 1);

    connect(m_level, &QComboBox::currentIndexChanged, this, &LogPanel::render);
    connect(m_search, &QLineEdit::textChanged, this, &LogPanel::render);
    connect(copyButton, &QPushButton::clicked, this, [this] {
        QApplication::clipboard()->setText(m_view->toPlainText());
    });
    connect(clearButton, &QPushButton::clicked, this, &LogPanel::clear);
}

void LogPanel::append(LogLevel level, const QString& text)
{
    Entry e{QDateTime::currentDateTime(), level, text};
    if (level == LogLevel::Error)
        ++m_errors;
    m_entries.append(e);
    if (m_entries.size() > kMaxEntries)
        m_entries.remove(0, m_entries.size() - kMaxEntries);
    if (shown(e))
        appendEntry(e);
}

void LogPanel::clear()
{
    m_entries.clear();
    m_errors = 0;
    m_view->clear();
}

QStringList LogPanel::lines() const
{
    QStringList out;
    for (const Entry& e : m_entries)
        out << QStringLiteral("%1 %2").arg(QString::fromLatin1(logLevelName(e.level)), e.text);
    return out;
}

bool LogPanel::shown(const Entry& e) const
{
    return int(e.level) >= m_level->currentData().toInt() &&
           (m_search->text().isEmpty() || e.text.contains(m_search->text(), Qt::CaseInsensitive));
}

void LogPanel::setSearch(const QString& text) { m_search->setText(text); }

int LogPanel::shownCount() const { return m_view->document()->blockCount() - (m_view->toPlainText().isEmpty() ? 1 : 0); }

void LogPanel::appendEntry(const Entry& e)
{
    QString color;
    switch (e.level) {
    case LogLevel::Debug: color = QStringLiteral("#808080"); break;
    case LogLevel::Info: color.clear(); break;
    case LogLevel::Warning: color = QStringLiteral("#b36b00"); break;
    case LogLevel::Error: color = QStringLiteral("#c0392b"); break;
    }
    const QString prefix = e.level == LogLevel::Info ? QString()
                                                     : QString::fromLatin1(logLevelName(e.level)) + QStringLiteral(": ");
    QString body = (prefix + e.text).toHtmlEscaped();
    if (!color.isEmpty())
        body = QStringLiteral("<span style='color:%1'>%2</span>").arg(color, body);
    QScrollBar* bar = m_view->verticalScrollBar();
    const bool atEnd = bar->value() == bar->maximum();
    m_view->appendHtml(QStringLiteral("<span style='color:#808080'>%1</span> %2")
                           .arg(e.time.toString(QStringLiteral("HH:mm:ss")), body));
    if (atEnd)
        bar->setValue(bar->maximum());
}

void LogPanel::render()
{
    m_view->clear();
    for (const Entry& e : m_entries)
        if (shown(e))
            appendEntry(e);
}

} // namespace studio
