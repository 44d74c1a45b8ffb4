// The options of one quantization method as a form generated from its schema (quant/methods/method_options.h):
// a check box per Bool, a spin box per Int (an editable list when the option also takes words such as "row"),
// a number field per Float, a list per Choice; each with the option's help and allowed values as tooltip.
// Nothing here knows a particular method. GUI thread.
#pragma once
#include "bq/quant/methods/method.h"
#include <QWidget>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

class QFormLayout;
class QLabel;

namespace studio {

class MethodOptionsEditor : public QWidget {
    Q_OBJECT
public:
    explicit MethodOptionsEditor(QWidget* parent = nullptr);

    // Rebuilds the form for `method` (null: empty, "kept in full precision") showing `values` (merged options;
    // missing entries show the defaults).
    void setMethod(const bq::quant::MethodInfo* method, const nlohmann::json& values = nlohmann::json::object());
    // The options as the form holds them, every option of the schema present.
    nlohmann::json values() const;
    // Only the options whose value differs from the method's default (what a rule or override needs to store).
    nlohmann::json changedFromDefaults() const;
    const bq::quant::MethodInfo* method() const { return m_method; }

signals:
    void edited(); // the user changed a value

private:
    struct Field {
        const bq::quant::OptionSpec* spec;
        QWidget* editor;
        std::function<nlohmann::json()> read;
    };
    QFormLayout* m_form = nullptr;
    QLabel* m_empty = nullptr;
    const bq::quant::MethodInfo* m_method = nullptr;
    std::vector<Field> m_fields;
};

} // namespace studio
