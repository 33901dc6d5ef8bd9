//! Every schema version's fixtures: valid rows pass, each invalid row fails with exactly the
//! findings it lists (column and rule), and every message is plain text naming a fix.

use std::collections::BTreeSet;
use std::path::Path;

use ecarto_contrib_schemas::Registry;
use serde_json::Value;

/// Fixtures are dated against a fixed day, so that they keep their meaning over the years.
const TODAY: &str = "2026-12-01";

fn load(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match serde_json::from_str(&text) {
        Ok(Value::Array(rows)) => rows,
        other => panic!(
            "{}: a JSON array is expected, got {other:?}",
            path.display()
        ),
    }
}

#[test]
fn every_schema_has_fixtures_that_behave() {
    let registry = Registry::embedded();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let mut checked = 0;
    for schema in registry.all() {
        let dir = root
            .join(&schema.name)
            .join("fixtures")
            .join(format!("v{}", schema.version));
        let valid = load(&dir.join("valid.json"));
        assert!(!valid.is_empty(), "{}: no valid fixture", schema.id());
        for row in &valid {
            let found = schema.check_value(row, TODAY);
            assert!(
                found.is_empty(),
                "{}: {row} should be valid, got {found:#?}",
                schema.id()
            );
        }
        let invalid = load(&dir.join("invalid.json"));
        assert!(!invalid.is_empty(), "{}: no invalid fixture", schema.id());
        let mut rules_seen = BTreeSet::new();
        for case in &invalid {
            let row = &case["row"];
            let expected: BTreeSet<(Option<String>, String)> = case["expect"]
                .as_array()
                .expect("expect is an array")
                .iter()
                .map(|e| {
                    (
                        e["column"].as_str().map(str::to_owned),
                        e["rule"].as_str().expect("rule").to_owned(),
                    )
                })
                .collect();
            let found = schema.check_value(row, TODAY);
            let got: BTreeSet<(Option<String>, String)> = found
                .iter()
                .map(|v| (v.column.clone(), v.rule.clone()))
                .collect();
            assert_eq!(
                got,
                expected,
                "{}: {} ({row})",
                schema.id(),
                case["comment"]
            );
            for v in &found {
                assert!(
                    v.message.len() > 20 && !v.message.contains("{"),
                    "{}: message {:?}",
                    schema.id(),
                    v.message
                );
                rules_seen.insert(v.rule.clone());
            }
        }
        for rule in &schema.rules {
            assert!(
                rules_seen.contains(&rule.id),
                "{}: no invalid fixture breaks rule {}",
                schema.id(),
                rule.id
            );
        }
        checked += 1;
    }
    assert!(checked >= 5, "five schemas are expected, found {checked}");
}

#[test]
fn schemas_resolve_by_name_and_version() {
    let registry = Registry::embedded();
    let s = registry.resolve("inventaire-equipement").unwrap();
    assert_eq!(s.version, 1);
    assert_eq!(
        registry
            .resolve("inventaire-equipement@v1")
            .unwrap()
            .version,
        1
    );
    assert_eq!(
        registry.resolve("inventaire-equipement@1").unwrap().version,
        1
    );
    assert!(registry.resolve("inventaire-equipement@v99").is_err());
    assert!(registry.resolve("inconnu").is_err());
    let names: Vec<&str> = registry.latest().map(|s| s.name.as_str()).collect();
    for n in [
        "byod",
        "connectivite-mesuree",
        "experimentation-locale",
        "inventaire-equipement",
        "signalement",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
}

#[test]
fn every_column_is_documented_in_french() {
    for schema in Registry::embedded().all() {
        assert!(
            !schema.title.is_empty() && !schema.description.is_empty(),
            "{}",
            schema.id()
        );
        for c in &schema.columns {
            assert!(
                !c.title.is_empty(),
                "{}.{} has no title",
                schema.id(),
                c.name
            );
            assert!(
                c.description.len() > 15,
                "{}.{} has no description",
                schema.id(),
                c.name
            );
        }
        let ts = schema.table_schema("https://example.org");
        assert_eq!(ts["fields"].as_array().unwrap().len(), schema.columns.len());
        let template = schema.csv_template();
        assert!(template.starts_with(&schema.columns[0].name));
    }
}

#[test]
fn broken_schema_files_are_refused_with_their_name() {
    let bad = [
        ("x/v1.schema.json", "{"),
        (
            "x/v1.schema.json",
            r#"{"x-ecarto": {"name": "y", "version": 1}}"#,
        ),
        (
            "x/one.schema.json",
            r#"{"x-ecarto": {"name": "x", "version": 1}}"#,
        ),
        (
            "x/v1.schema.json",
            r#"{"x-ecarto": {"name": "x", "version": 1, "rules": [{"id": "r", "message": "m", "assert": {"lte": [{"col": "nope"}, 1]}}]}, "properties": {}}"#,
        ),
        (
            "x/v1.schema.json",
            r#"{"x-ecarto": {"name": "x", "version": 1}, "required": ["a"], "properties": {}}"#,
        ),
        (
            "x/v1.schema.json",
            r#"{"x-ecarto": {"name": "x", "version": 1}, "type": 12}"#,
        ),
    ];
    for (file, text) in bad {
        let err = Registry::from_files([(file, text)])
            .err()
            .unwrap_or_else(|| panic!("{text} accepted"));
        assert!(err.to_string().contains(file), "{err}");
    }
}
