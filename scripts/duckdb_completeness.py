"""The completeness table of the scores benchmark, computed independently with DuckDB from the
open-data CSV export: filled and expected values per département, school type, secteur and
field, with the catalogue's expected_for rules, over the annuaire's open schools.

usage: duckdb_completeness.py EXPORT_CSV FIELDS_CSV RUST_TABLE_CSV
Prints the time of the computation, then compares with the table the Rust job wrote."""

import csv
import sys
import time

import duckdb


def expected_sql(rule: str) -> str:
    etic = (
        "secteur = 'public' AND type_etablissement IN ('ecole','college','lycee','erea') "
        "AND (ministere_tutelle IS NULL OR upper(ministere_tutelle) LIKE '%EDUCATION NATIONALE%')"
    )
    return {
        "all": "TRUE",
        "public": "secteur = 'public'",
        "prive": "secteur = 'prive'",
        "etic": etic,
        "none": "FALSE",
    }.get(rule) or (
        # A cité scolaire (types_etablissement collège|lycée) is expected each type's fields.
        "(type_etablissement IN ({types}) OR list_has_any("
        "string_split(coalesce(types_etablissement, ''), '|'), [{types}]))"
    ).format(types=",".join(f"'{t}'" for t in rule.split(",")))


def main() -> None:
    export, fields_csv, rust_table = sys.argv[1:4]
    with open(fields_csv, encoding="utf-8") as f:
        fields = [(r["name"], r["expected_for"]) for r in csv.DictReader(f, delimiter=";")]
    parts = []
    for name, rule in fields:
        if rule == "none":
            continue
        filled = "TRUE" if name == "uai" else f"NULLIF(trim(CAST(\"{name}\" AS VARCHAR)), '') IS NOT NULL"
        parts.append(
            f"SELECT code_departement, coalesce(type_etablissement, 'autre') AS t, "
            f"coalesce(secteur, 'inconnu') AS s, '{name}' AS field, "
            f"count(*) FILTER (WHERE {filled}) AS filled, count(*) AS expected "
            f"FROM schools WHERE {expected_sql(rule)} GROUP BY ALL"
        )
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(
        f"CREATE TEMP TABLE schools AS SELECT * FROM read_csv('{export}', delim=';', header=true, "
        "all_varchar=true) WHERE presence_annuaire = 'present' "
        "AND (etat IS NULL OR etat NOT IN ('ferme', 'a_ouvrir'))"
    )
    rows = con.execute(" UNION ALL ".join(parts)).fetchall()
    secs = time.perf_counter() - started
    print(f"duckdb {secs:.3f}")
    ours = {(d, t, s, f): (int(a), int(b)) for d, t, s, f, a, b in rows if d is not None}
    with open(rust_table, encoding="utf-8") as f:
        theirs = {
            (r["departement"], r["type"], r["secteur"], r["field"]): (int(r["filled"]), int(r["expected"]))
            for r in csv.DictReader(f, delimiter=";")
        }
    theirs = {k: v for k, v in theirs.items() if v[1] > 0}
    same = ours == theirs
    print(f"tables identical: {'yes' if same else 'NO'} ({len(ours)} cells)")
    if not same:
        diff = [k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k)][:10]
        for k in diff:
            print("  ", k, "duckdb", ours.get(k), "rust", theirs.get(k))
        sys.exit(1)


if __name__ == "__main__":
    main()
