//! Arbitrary bytes as an uploaded file, read as CSV, XLSX and JSON, validated against every
//! schema and rendered: nothing may panic.
#![no_main]

use ecarto::validation::{self, Options, render};
use ecarto_contrib_schemas::Registry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let options = Options::new(10_000);
    for name in [None, Some("f.csv"), Some("f.xlsx"), Some("f.json")] {
        for schema in Registry::embedded().latest() {
            if let Ok(v) = validation::validate(schema, bytes, name, &options) {
                let _ = render::html(&v.report);
                let _ = render::annotated_csv(schema, &v.report, bytes, name);
                let _ = render::annotated_xlsx(schema, &v.report, bytes, name);
            }
        }
    }
});
