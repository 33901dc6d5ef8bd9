#!/usr/bin/env python3
"""Derives the seeded organisations and their competence (backend/reference/organisations.csv and
competences.csv) from the territory reference in ../shared/data/territories, with the general
rule of domain.md and its special cases. The CSV files are the data of record, reviewed like
code; rerun this only to rebuild them from a new découpage administratif.

Communes and EPCIs are not listed: their SIREN comes with the territory reference and the
platform creates them, with their competence, the first time someone of theirs signs in.
SIRENs of départements, régions and académies are left empty: an admin sets them
(`ecarto orgs set-siren`) or approves an access request that links one."""
import csv, json, sys, os

src = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/territories"
out = sys.argv[2] if len(sys.argv) > 2 else "backend/reference"
deps = json.load(open(os.path.join(src, "departements.json")))
regs = json.load(open(os.path.join(src, "regions.json")))
acads = {}
with open(os.path.join(src, "departement-academie-region.csv")) as f:
    for row in csv.DictReader(f, delimiter=";"):
        acads[row["code_academie"]] = row["libelle_academie"]

FEM = ("Charente", "Corrèze", "Creuse", "Côte-d'Or", "Dordogne", "Drôme", "Gironde", "Loire",
       "Lozère", "Manche", "Marne", "Mayenne", "Meurthe", "Meuse", "Moselle", "Nièvre", "Sarthe",
       "Savoie", "Seine", "Somme", "Vendée", "Vienne", "Guadeloupe", "Haute-", "Réunion")
PLUR = ("Alpes", "Hautes-", "Bouches", "Côtes", "Deux-", "Pyrénées", "Hauts-", "Yvelines",
        "Ardennes", "Landes", "Vosges")

def of(name):
    if name.startswith("La "):
        return "de " + name
    if name.startswith(PLUR):
        return "des " + name
    if name.startswith(FEM):
        return "de la " + name
    if name[0] in "AEIOUÉÈYH" and not name.startswith("Haut"):
        return "de l'" + name
    if name in ("Paris", "Mayotte"):
        return "de " + name
    return "du " + name

ALL = "ecole,college,lycee,erea,autre"
orgs, comps = [], []
def org(key, siren, kind, name, territory):
    orgs.append([key, siren, kind, name, territory])
def grant(key, types, secteur, territory, reason):
    comps.append([key, "grant", types, secteur, territory, reason])

# Collectivités à statut particulier and collectivités uniques hold competences the general
# rule would give to départements and régions that do not act here.
special_deps = {"2A", "2B", "67", "68", "75", "972", "973", "976"}
special_regs = {"94", "02", "03", "06"}
for d in deps:
    if d["zone"] not in ("metro", "drom") or d["code"] in special_deps:
        continue
    key = "departement-" + d["code"]
    org(key, "", "departement", "Département " + of(d["nom"]), "departement:" + d["code"])
    grant(key, "college", "public", "departement:" + d["code"], "règle générale : collèges publics du département")
comps.append(["departement-69", "exclude", "college", "public", "epci:200046977",
              "la Métropole de Lyon, non le Département du Rhône, est compétente pour les collèges de son territoire"])
for r in regs:
    if len(r["code"]) != 2 or r["code"] in special_regs:
        continue
    key = "region-" + r["code"]
    org(key, "", "region", "Région " + r["nom"], "region:" + r["code"])
    grant(key, "lycee,erea", "public", "region:" + r["code"], "règle générale : lycées et EREA publics de la région")

org("ville-de-paris", "217500016", "collectivite-statut-particulier", "Ville de Paris", "commune:75056")
grant("ville-de-paris", "ecole", "public", "commune:75056", "commune : écoles publiques de Paris")
grant("ville-de-paris", "college", "public", "departement:75", "la Ville de Paris exerce les compétences du département : collèges publics")
org("metropole-de-lyon", "200046977", "collectivite-statut-particulier", "Métropole de Lyon", "epci:200046977")
grant("metropole-de-lyon", "college", "public", "epci:200046977", "la Métropole de Lyon exerce les compétences du département sur son territoire : collèges publics")
org("collectivite-de-corse", "", "collectivite-statut-particulier", "Collectivité de Corse", "region:94")
for d in ("2A", "2B"):
    grant("collectivite-de-corse", "college", "public", "departement:" + d, "la Collectivité de Corse exerce les compétences des deux départements : collèges publics")
grant("collectivite-de-corse", "lycee,erea", "public", "region:94", "la Collectivité de Corse exerce les compétences de la région : lycées et EREA publics")
org("collectivite-europeenne-d-alsace", "", "collectivite-statut-particulier", "Collectivité européenne d'Alsace", "departement:67")
for d in ("67", "68"):
    grant("collectivite-europeenne-d-alsace", "college", "public", "departement:" + d, "la Collectivité européenne d'Alsace a remplacé le Bas-Rhin et le Haut-Rhin : collèges publics")
for code, name in (("972", "Collectivité territoriale de Martinique"), ("973", "Collectivité territoriale de Guyane"), ("976", "Département de Mayotte")):
    key = "collectivite-" + code
    org(key, "", "collectivite-statut-particulier" if code != "976" else "departement", name, "departement:" + code)
    grant(key, "college,lycee,erea", "public", "departement:" + code, "collectivité unique : compétences du département et de la région, collèges, lycées et EREA publics")

for code, name in sorted(acads.items()):
    key = "academie-" + code
    vice = code in ("40", "41", "42", "44")
    label = ("Vice-rectorat " if vice else "Académie ") + ("d'" + name if name[0] in "AEIOUÉ" else "de " + name)
    org(key, "", "academie", label, "academie:" + code)
    grant(key, ALL, "", "academie:" + code, "académie : tous les établissements de l'académie, publics et privés")

with open(os.path.join(out, "organisations.csv"), "w", newline="") as f:
    w = csv.writer(f, delimiter=";", lineterminator="\n")
    w.writerow(["key", "siren", "kind", "name", "territory"])
    w.writerows(orgs)
with open(os.path.join(out, "competences.csv"), "w", newline="") as f:
    w = csv.writer(f, delimiter=";", lineterminator="\n")
    w.writerow(["organisation", "effect", "school_types", "secteur", "territory", "reason"])
    w.writerows(comps)
print(f"{len(orgs)} organisations, {len(comps)} competence lines")
