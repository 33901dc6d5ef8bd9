//! Cross-field rules (`x-ecarto.rules`): what JSON Schema cannot say, such as « recent
//! terminals ≤ all terminals » or « end date ≥ start date ». A rule is a comparison of two
//! operands, each a column, a sum of operands, a number, a date or `$today`; it is skipped
//! when a column it reads is empty, so that it speaks only of values the agent gave.

use serde_json::Value;

use crate::{Lookup, Violation};

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Column(String),
    Sum(Vec<Operand>),
    Number(f64),
    /// A `YYYY-MM-DD` date.
    Date(String),
    Today,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Lte,
    Lt,
    Gte,
    Gt,
    Eq,
    Ne,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleExpr {
    pub op: Comparison,
    pub left: Operand,
    pub right: Operand,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    /// The columns the rule is about; the first is where the finding is reported.
    pub columns: Vec<String>,
    pub expr: RuleExpr,
    /// Plain French, with `{column}` placeholders for the row's values.
    pub message: String,
}

impl RuleExpr {
    pub fn columns(&self) -> impl Iterator<Item = &String> {
        fn walk<'a>(o: &'a Operand, out: &mut Vec<&'a String>) {
            match o {
                Operand::Column(c) => out.push(c),
                Operand::Sum(items) => items.iter().for_each(|i| walk(i, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.left, &mut out);
        walk(&self.right, &mut out);
        out.into_iter()
    }
}

fn operand(v: &Value) -> Result<Operand, String> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .map(Operand::Number)
            .ok_or_else(|| format!("nombre hors limites : {n}")),
        Value::String(s) if s == "$today" => Ok(Operand::Today),
        Value::String(s) if is_iso_date(s) => Ok(Operand::Date(s.clone())),
        Value::Object(m) if m.len() == 1 => {
            if let Some(c) = m.get("col").and_then(Value::as_str) {
                Ok(Operand::Column(c.to_owned()))
            } else if let Some(items) = m.get("sum").and_then(Value::as_array) {
                Ok(Operand::Sum(
                    items.iter().map(operand).collect::<Result<_, _>>()?,
                ))
            } else {
                Err(format!("opérande inconnu : {v}"))
            }
        }
        _ => Err(format!("opérande inconnu : {v}")),
    }
}

fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

pub(crate) fn parse(v: &Value) -> Result<Rule, String> {
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .ok_or("règle sans id")?
        .to_owned();
    let message = v
        .get("message")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("règle {id} sans message"))?
        .to_owned();
    let assert = v
        .get("assert")
        .and_then(Value::as_object)
        .filter(|m| m.len() == 1)
        .ok_or_else(|| format!("règle {id} : assert doit être {{\"<op>\": [a, b]}}"))?;
    let (op, args) = assert.iter().next().ok_or("assert vide")?;
    let op = match op.as_str() {
        "lte" => Comparison::Lte,
        "lt" => Comparison::Lt,
        "gte" => Comparison::Gte,
        "gt" => Comparison::Gt,
        "eq" => Comparison::Eq,
        "ne" => Comparison::Ne,
        other => return Err(format!("règle {id} : comparaison inconnue {other}")),
    };
    let args = args
        .as_array()
        .filter(|a| a.len() == 2)
        .ok_or_else(|| format!("règle {id} : deux opérandes attendus"))?;
    let expr = RuleExpr {
        op,
        left: operand(&args[0]).map_err(|e| format!("règle {id} : {e}"))?,
        right: operand(&args[1]).map_err(|e| format!("règle {id} : {e}"))?,
    };
    let mut columns: Vec<String> = v
        .get("columns")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if columns.is_empty() {
        columns = expr.columns().cloned().collect();
    }
    Ok(Rule {
        id,
        columns,
        expr,
        message,
    })
}

#[derive(Debug, PartialEq, PartialOrd)]
enum Resolved<'a> {
    Number(f64),
    Text(&'a str),
}

fn resolve<'a, L: Lookup + ?Sized>(
    o: &'a Operand,
    row: &'a L,
    today: &'a str,
) -> Option<Resolved<'a>> {
    match o {
        Operand::Column(c) => match row.value(c)? {
            Value::Number(n) => n.as_f64().map(Resolved::Number),
            Value::String(s) => Some(Resolved::Text(s)),
            _ => None,
        },
        Operand::Sum(items) => {
            let mut total = 0.0;
            for i in items {
                match resolve(i, row, today)? {
                    Resolved::Number(n) => total += n,
                    Resolved::Text(_) => return None,
                }
            }
            Some(Resolved::Number(total))
        }
        Operand::Number(n) => Some(Resolved::Number(*n)),
        Operand::Date(d) => Some(Resolved::Text(d)),
        Operand::Today => Some(Resolved::Text(today)),
    }
}

/// The rule's violation on this row, if any. Operands of different kinds (a text where a
/// number is compared) are left to the type checks, which already report that cell.
pub(crate) fn check<L: Lookup + ?Sized>(rule: &Rule, row: &L, today: &str) -> Option<Violation> {
    let left = resolve(&rule.expr.left, row, today)?;
    let right = resolve(&rule.expr.right, row, today)?;
    let ordering = left.partial_cmp(&right)?;
    use std::cmp::Ordering::*;
    let holds = match rule.expr.op {
        Comparison::Lte => ordering != Greater,
        Comparison::Lt => ordering == Less,
        Comparison::Gte => ordering != Less,
        Comparison::Gt => ordering == Greater,
        Comparison::Eq => ordering == Equal,
        Comparison::Ne => ordering != Equal,
    };
    if holds {
        return None;
    }
    Some(Violation {
        column: rule.columns.first().cloned(),
        rule: rule.id.clone(),
        message: fill(&rule.message, row, today),
        related: rule.columns.iter().skip(1).cloned().collect(),
    })
}

/// Replaces `{column}` by the row's value and `{$today}` by the date.
fn fill<L: Lookup + ?Sized>(template: &str, row: &L, today: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                if name == "$today" {
                    out.push_str(today);
                } else {
                    match row.value(name) {
                        Some(Value::String(s)) => out.push_str(s),
                        Some(v) => out.push_str(&v.to_string()),
                        None => out.push_str("(vide)"),
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    fn rule(v: Value) -> Rule {
        parse(&v).unwrap()
    }

    fn row(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn sums_and_comparisons() {
        let r = rule(json!({
            "id": "affectes", "message": "{a} + {b} > {c}",
            "assert": {"lte": [{"sum": [{"col": "a"}, {"col": "b"}]}, {"col": "c"}]}
        }));
        assert_eq!(r.columns, ["a", "b", "c"]);
        assert!(check(&r, &row(json!({"a": 1, "b": 2, "c": 3})), "2026-01-01").is_none());
        let v = check(&r, &row(json!({"a": 2, "b": 2, "c": 3})), "2026-01-01").unwrap();
        assert_eq!(v.column.as_deref(), Some("a"));
        assert_eq!(v.message, "2 + 2 > 3");
        // Skipped when a column is empty.
        assert!(check(&r, &row(json!({"a": 9, "c": 3})), "2026-01-01").is_none());
    }

    #[test]
    fn dates_and_today() {
        let r = rule(json!({
            "id": "pas_futur", "columns": ["d"], "message": "{d} est après le {$today}",
            "assert": {"lte": [{"col": "d"}, "$today"]}
        }));
        assert!(check(&r, &row(json!({"d": "2026-01-01"})), "2026-01-01").is_none());
        let v = check(&r, &row(json!({"d": "2026-01-02"})), "2026-01-01").unwrap();
        assert_eq!(v.message, "2026-01-02 est après le 2026-01-01");
        let r = rule(
            json!({"id": "x", "message": "m", "assert": {"gte": [{"col": "d"}, "2000-01-01"]}}),
        );
        assert!(check(&r, &row(json!({"d": "1999-12-31"})), "2026-01-01").is_some());
    }

    #[test]
    fn malformed_rules_are_refused() {
        for bad in [
            json!({"id": "x", "message": "m", "assert": {"lte": [1]}}),
            json!({"id": "x", "message": "m", "assert": {"like": [1, 2]}}),
            json!({"id": "x", "message": "m", "assert": {"lte": [{"col": 1}, 2]}}),
            json!({"id": "x", "assert": {"lte": [1, 2]}}),
            json!({"message": "m", "assert": {"lte": [1, 2]}}),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }
}
