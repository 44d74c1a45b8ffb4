#include "widgets/method_options_editor.h"
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QSpinBox>
#include <algorithm>
#include <cmath>
#include <limits>

namespace studio {

using bq::quant::OptionSpec;
using bq::quant::OptionType;

namespace {

QString tooltipOf(const OptionSpec& spec)
{
    return QStringLiteral("<b>%1</b>: %2<br>Allowed: %3<br>Default: %4")
        .arg(QString::fromStdString(spec.name).toHtmlEscaped(), QString::fromStdString(spec.help).toHtmlEscaped(),
             QString::fromStdString(bq::quant::allowedValues(spec)).toHtmlEscaped(),
             QString::fromStdString(spec.defaultValue.dump()).toHtmlEscaped());
}

// Decimals enough to show the range's smallest step of interest (0.001 for [0, 10], 1e-6 for [0, 0.01]).
int decimalsFor(const OptionSpec& spec, double value)
{
    const double smallest = std::min(std::fabs(value) > 0 ? std::fabs(value) : 1.0, spec.max > 0 ? spec.max : 1.0);
    return std::clamp(int(std::ceil(-std::log10(smallest))) + 3, 2, 8);
}

} // namespace

MethodOptionsEditor::MethodOptionsEditor(QWidget* parent) : QWidget(parent)
{
    m_form = new QFormLayout(this);
    m_form->setContentsMargins(0, 0, 0, 0);
    m_form->setFieldGrowthPolicy(QFormLayout::ExpandingFieldsGrow);
    setMethod(nullptr);
}

void MethodOptionsEditor::setMethod(const bq::quant::MethodInfo* method, const nlohmann::json& values)
{
    while (m_form->rowCount() > 0)
        m_form->removeRow(0);
    m_fields.clear();
    m_empty = nullptr;
    m_method = method;
    if (!method) {
        m_empty = new QLabel(tr("Kept in full precision: nothing to set."), this);
        m_form->addRow(m_empty);
        return;
    }
    if (method->options.empty()) {
        m_empty = new QLabel(tr("This method has no options."), this);
        m_form->addRow(m_empty);
    }
    for (const OptionSpec& spec : method->options) {
        const nlohmann::json value = values.contains(spec.name) ? values.at(spec.name) : spec.defaultValue;
        Field field{&spec, nullptr, {}};
        switch (spec.type) {
        case OptionType::Bool: {
            auto* box = new QCheckBox(this);
            box->setChecked(value.is_boolean() && value.get<bool>());
            connect(box, &QCheckBox::toggled, this, &MethodOptionsEditor::edited);
            field.editor = box;
            field.read = [box] { return nlohmann::json(box->isChecked()); };
            break;
        }
        case OptionType::Int:
            if (spec.choices.empty()) {
                auto* spin = new QSpinBox(this);
                spin->setRange(int(std::max<double>(spec.min, std::numeric_limits<int>::min())),
                               int(std::min<double>(spec.max, std::numeric_limits<int>::max())));
                spin->setValue(value.is_number() ? value.get<int>() : int(spec.min));
                connect(spin, &QSpinBox::valueChanged, this, &MethodOptionsEditor::edited);
                field.editor = spin;
                field.read = [spin] { return nlohmann::json(spin->value()); };
            } else { // words or a number, e.g. group = "row" | 128
                auto* combo = new QComboBox(this);
                combo->setEditable(true);
                for (const std::string& word : spec.choices)
                    combo->addItem(QString::fromStdString(word));
                combo->setCurrentText(value.is_string() ? QString::fromStdString(value.get<std::string>())
                                                        : QString::number(value.is_number() ? value.get<long long>() : 0));
                connect(combo, &QComboBox::currentTextChanged, this, &MethodOptionsEditor::edited);
                field.editor = combo;
                field.read = [combo] {
                    bool ok = false;
                    const long long n = combo->currentText().trimmed().toLongLong(&ok);
                    return ok ? nlohmann::json(n) : nlohmann::json(combo->currentText().trimmed().toStdString());
                };
            }
            break;
        case OptionType::Float: {
            auto* spin = new QDoubleSpinBox(this);
            const double v = value.is_number() ? value.get<double>() : spec.min;
            spin->setDecimals(decimalsFor(spec, v));
            spin->setRange(spec.min, spec.max);
            spin->setSingleStep(std::max((spec.max - spec.min) / 100.0, std::pow(10.0, -spin->decimals())));
            spin->setValue(v);
            connect(spin, &QDoubleSpinBox::valueChanged, this, &MethodOptionsEditor::edited);
            field.editor = spin;
            field.read = [spin] { return nlohmann::json(spin->value()); };
            break;
        }
        case OptionType::Choice: {
            auto* combo = new QComboBox(this);
            for (const std::string& choice : spec.choices)
                combo->addItem(QString::fromStdString(choice));
            combo->setCurrentText(QString::fromStdString(value.is_string() ? value.get<std::string>() : ""));
            connect(combo, &QComboBox::currentTextChanged, this, &MethodOptionsEditor::edited);
            field.editor = combo;
            field.read = [combo] { return nlohmann::json(combo->currentText().toStdString()); };
            break;
        }
        }
        field.editor->setObjectName(QString::fromStdString("option_" + spec.name));
        field.editor->setToolTip(tooltipOf(spec));
        auto* label = new QLabel(QString::fromStdString(spec.name), this);
        label->setToolTip(tooltipOf(spec));
        m_form->addRow(label, field.editor);
        m_fields.push_back(std::move(field));
    }
}

nlohmann::json MethodOptionsEditor::values() const
{
    nlohmann::json out = nlohmann::json::object();
    for (const Field& f : m_fields)
        out[f.spec->name] = f.read();
    return out;
}

nlohmann::json MethodOptionsEditor::changedFromDefaults() const
{
    nlohmann::json out = nlohmann::json::object();
    for (const Field& f : m_fields) {
        const nlohmann::json v = f.read();
        const bool same = (v.is_number() && f.spec->defaultValue.is_number())
                              ? v.get<double>() == f.spec->defaultValue.get<double>()
                              : v == f.spec->defaultValue;
        if (!same)
            out[f.spec->name] = v;
    }
    return out;
}

} // namespace studio
