#!/usr/bin/env python3
"""Writes tests/corpus/hostile/: files an agent's tool, a mistake or an attacker could send to
the validation endpoint, each with the answer expected in expected.csv (file; HTTP status; a
phrase the answer must contain). Deterministic: run it again and git shows no change.

    python3 scripts/make-hostile-corpus.py
"""
import io
import json
import os
import zipfile

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "corpus", "hostile")
LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
HEADER = "uai;date_inventaire;nb_terminaux;maintenance"


def uai(digits):
    return digits + LETTERS[int(digits) % 23]


# Collèges of the Ille-et-Vilaine in the bundled sample of the annuaire.
GOOD = ["0350017D", "0352958A", "0350003N"]


def rows(sep=";", eol="\n"):
    lines = [HEADER.replace(";", sep)]
    for i, u in enumerate(GOOD):
        lines.append(sep.join([u, "2026-09-15", str(40 + i), "prestataire"]))
    return eol.join(lines) + eol


files = {}  # name -> bytes
expected = []  # (name, status, phrase)


# What the report must say of the files it reads but refuses rows of, beyond "valid": false.
PHRASES = {
    "bom-au-milieu.csv": "Ligne 3, colonne « uai » : Le code UAI « 0352958A » contient un caractère invisible (U+FEFF, position 1)",
    "utf8-sequences-invalides.csv": "Ligne 5, colonne « uai » : Un code UAI a 8 caractères",
    "utf8-surlong.csv": "Ligne 5, colonne « uai » : Un code UAI a 8 caractères",
    "guillemet-non-ferme.csv": "Ligne 2, colonne « nb_terminaux »",
    "guillemet-dans-cellule.csv": "n'est pas un nombre",
    "separateurs-melanges.csv": "en a 34",
    "cellules-en-trop.csv": "cette ligne a 7 cellules pour 4 colonnes",
    "cellules-manquantes.csv": "(nb_terminaux) est obligatoire",
    "en-tete-vide.csv": "la colonne obligatoire « Code UAI » (uai) est absente",
    "en-tete-en-double.csv": "cette colonne est déjà présente",
    "cent-mille-colonnes.csv": "la colonne obligatoire « Code UAI » (uai) est absente",
    "cellule-de-10-mo.csv": "au plus 2000 caractères (il en a 10485760)",
    "formules.csv": "« =1+1 » n'est pas un nombre",
    "html-et-script.csv": "n'est pas une valeur autorisée",
    "nombres-extremes.csv": "« 1e309 » n'est pas un nombre",
    "dates-impossibles.csv": "« 2026-02-30 » n'est pas une date réelle",
    "uai-pieges.csv": "« 035OO17D » n'en a pas",
    "injection-sql.csv": "« DROP TABLE schools » n'est pas une date réelle",
    "windows-1252.csv": "le code UAI 0350020G ne figure pas dans l'annuaire",
    "melange-utf8-cp1252.csv": "le code UAI 0350020G ne figure pas dans l'annuaire"
}


def add(name, data, status, phrase):
    phrase = PHRASES.get(name, phrase)
    if isinstance(data, str):
        data = data.encode("utf-8")
    files[name] = data
    expected.append((name, status, phrase))


# --- Encodings -------------------------------------------------------------------------
add("utf16le-bom.csv", b"\xff\xfe" + rows().encode("utf-16-le"), 200, '"encoding":"UTF-16"')
add("utf16be-bom.csv", b"\xfe\xff" + rows().encode("utf-16-be"), 200, '"encoding":"UTF-16"')
add("utf16le-sans-bom.csv", rows().encode("utf-16-le"), 422, "octet nul")
add("windows-1252.csv", (rows().replace("prestataire", "prestataire") + f"{uai('0350020')};2026-09-15;12;collectivité\n").encode("cp1252"), 200, '"encoding":"Windows-1252"')
add("utf8-bom.csv", b"\xef\xbb\xbf" + rows().encode(), 200, '"valid_rows":3')
add("utf8-double-bom.csv", b"\xef\xbb\xbf\xef\xbb\xbf" + rows().encode(), 200, '"valid_rows":3')
add("bom-au-milieu.csv", rows().replace(GOOD[1], "\ufeff" + GOOD[1]), 200, '"valid":false')
add("bom-dans-en-tete.csv", rows().replace("nb_terminaux", "nb_\ufeffterminaux"), 200, '"valid_rows":3')
add("melange-utf8-cp1252.csv", rows().encode() + f"{uai('0350020')};2026-09-15;12;collectivité\n".encode("cp1252"), 200, '"encoding":"Windows-1252"')
add("utf8-sequences-invalides.csv", rows().encode() + b"\xc3\x28\xa0\xa1;2026-09-15;1;prestataire\n", 200, '"valid":false')
add("utf8-surlong.csv", rows().encode() + b"\xc0\xaf0350021;2026-09-15;1;prestataire\n", 200, '"valid":false')
add("octets-nuls-dans-cellule.csv", rows().replace("prestataire", "presta\x00taire", 1), 422, "octet nul")
add("octets-nuls-seulement.csv", b"\x00" * 4096, 422, "fichier inutilisable")
add("utf32-bom.csv", b"\xff\xfe\x00\x00" + rows().encode("utf-32-le"), 422, "fichier inutilisable")

# --- Line endings ----------------------------------------------------------------------
add("fins-crlf.csv", rows(eol="\r\n"), 200, '"valid_rows":3')
add("fins-cr-seul.csv", rows(eol="\r"), 200, '"rows":3')
add("fins-melangees.csv", HEADER + "\r\n" + f"{GOOD[0]};2026-09-15;40;prestataire\n{GOOD[1]};2026-09-15;41;prestataire\r{GOOD[2]};2026-09-15;42;prestataire\r\n", 200, '"rows":3')
add("sans-fin-de-ligne-finale.csv", rows().rstrip("\n"), 200, '"valid_rows":3')
add("retour-ligne-dans-cellule.csv", HEADER + ";commentaire\n" + f'{GOOD[0]};2026-09-15;40;prestataire;"deux\r\nlignes"\n', 200, '"valid_rows":1')
add("lignes-vides-partout.csv", "\n\n" + rows().replace("\n", "\n\n\n"), 422, "la ligne 1 est vide")

# --- Separators, quotes and shapes ------------------------------------------------------
add("guillemet-non-ferme.csv", HEADER + "\n" + f'{GOOD[0]};2026-09-15;"40;prestataire\n{GOOD[1]};2026-09-15;41;prestataire\n', 200, '"valid":false')
add("guillemet-dans-cellule.csv", HEADER + "\n" + f'{GOOD[0]};2026-09-15;4"0;prestataire\n', 200, '"valid":false')
add("tabulations.csv", rows(sep="\t"), 200, '"valid_rows":3')
add("barres-verticales.csv", rows(sep="|"), 422, "semble séparée par « | »")
add("separateurs-melanges.csv", HEADER + "\n" + f"{GOOD[0]},2026-09-15,40,prestataire\n", 200, '"valid":false')
add("cellules-en-trop.csv", HEADER + "\n" + f"{GOOD[0]};2026-09-15;40;prestataire;x;y;z\n", 200, '"rows":1')
add("cellules-manquantes.csv", HEADER + "\n" + f"{GOOD[0]};2026-09-15\n", 200, '"valid":false')
add("en-tete-vide.csv", ";;;\n" + f"{GOOD[0]};2026-09-15;40;prestataire\n", 200, '"valid":false')
add("en-tete-en-double.csv", "uai;uai;date_inventaire;nb_terminaux\n" + f"{GOOD[0]};{GOOD[1]};2026-09-15;40\n", 200, '"valid":false')
add("en-tete-seul.csv", HEADER + "\n", 422, "aucune ligne")
add("vide.csv", b"", 422, "le fichier est vide")
add("espaces-seulement.csv", "   \n \t \n", 422, "fichier inutilisable")
add("cent-mille-colonnes.csv", ";".join(f"c{i}" for i in range(100_000)) + "\n" + ";".join("1" for _ in range(100_000)) + "\n", 200, '"valid":false')
add("cellule-de-10-mo.csv", HEADER + ";commentaire\n" + f"{GOOD[0]};2026-09-15;40;prestataire;" + "A" * (10 * 1024 * 1024) + "\n", 200, '"valid":false')
add("ligne-de-10-mo-sans-separateur.csv", "x" * (10 * 1024 * 1024), 422, "séparateur non reconnu")

# --- Cell contents ------------------------------------------------------------------------
add("formules.csv", HEADER + ";commentaire\n" + f'{GOOD[0]};2026-09-15;=1+1;prestataire;=HYPERLINK("http://exemple.invalid","x")\n{GOOD[1]};2026-09-15;+41;prestataire;@SUM(A1:A9)\n{GOOD[2]};2026-09-15;-2+3;prestataire;=cmd|\'/c calc\'!A0\n', 200, '"valid":false')
add("html-et-script.csv", HEADER + ";commentaire\n" + f'{GOOD[0]};2026-09-15;40;<script>alert(1)</script>;<img src=x onerror=alert(1)>\n', 200, '"valid":false')
add("nombres-extremes.csv", HEADER + "\n" + "\n".join(f"{uai(str(350030 + i).zfill(7))};2026-09-15;{n};prestataire" for i, n in enumerate(["1e309", "NaN", "Infinity", "-0", "0x10", "１２", "99999999999999999999999", "4,5", "1 000", "٣"])) + "\n", 200, '"valid":false')
add("dates-impossibles.csv", HEADER + "\n" + "\n".join(f"{uai(str(350040 + i).zfill(7))};{d};10;prestataire" for i, d in enumerate(["2026-02-30", "0000-00-00", "9999-12-31", "2026-13-01", "31/12/2026", "", "2026-09-15T25:00", "hier"])) + "\n", 200, '"valid":false')
add("uai-pieges.csv", HEADER + "\n" + "\n".join(f"{u};2026-09-15;10;prestataire" for u in [GOOD[0].lower(), " " + GOOD[1] + " ", GOOD[2][:4] + "\u200b" + GOOD[2][4:], "035OO17D", "0350017", "03500170D", GOOD[0][:-1] + "\u0410", "' OR 1=1 --"]) + "\n", 200, '"valid":false')
add("unicode-pieges.csv", HEADER + ";commentaire\n" + f"{GOOD[0]};2026-09-15;40;prestataire;\u202eetiaf\u202c \u0301\u0301\u0301 🏫👩‍🏫 \ud7ff\n", 200, '"valid_rows":1')
add("caracteres-de-controle.csv", HEADER + ";commentaire\n" + f"{GOOD[0]};2026-09-15;40;prestataire;\x1b[31mrouge\x1b[0m\x07\x08\n", 422, "caractères de contrôle")
add("injection-sql.csv", HEADER + "\n" + f"{GOOD[0]}';DROP TABLE schools;--;2026-09-15;40;prestataire\n", 200, '"valid":false')

# --- Not what it says it is -------------------------------------------------------------
add("pdf-renomme.csv", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\n" + bytes(range(256)) * 8, 422, "document PDF")
add("png-renomme.xlsx", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, 422, "image PNG")
add("gzip-renomme.csv", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(256)) * 4, 422, "archive gzip")


def zip_bytes(entries, method=zipfile.ZIP_DEFLATED, level=9):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method, compresslevel=level if method == zipfile.ZIP_DEFLATED else None) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = method
            z.writestr(info, data)
    return out.getvalue()


CONTENT_TYPES = b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
RELS = b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
WORKBOOK = b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="inventaire" sheetId="1" r:id="rId1"/></sheets></workbook>'
WB_RELS = b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'


def col(n):
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def cell(r, c, v):
    ref = f"{col(c)}{r}"
    if isinstance(v, (int, float)):
        return f'<c r="{ref}"><v>{v}</v></c>'
    v = str(v).replace("&", "&amp;").replace("<", "&lt;")
    return f'<c r="{ref}" t="inlineStr"><is><t>{v}</t></is></c>'


def sheet_xml(body, prolog=""):
    return (f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{body}</sheetData></worksheet>').encode()


def table_rows(data):
    return "".join(f'<row r="{r + 1}">' + "".join(cell(r + 1, c, v) for c, v in enumerate(row)) + "</row>" for r, row in enumerate(data))


DATA = [HEADER.split(";")] + [[u, "2026-09-15", 40 + i, "prestataire"] for i, u in enumerate(GOOD)]


def workbook(sheet, extra=()):
    return zip_bytes([("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", RELS), ("xl/workbook.xml", WORKBOOK), ("xl/_rels/workbook.xml.rels", WB_RELS), ("xl/worksheets/sheet1.xml", sheet), *extra])


add("classeur-ordinaire.xlsx", workbook(sheet_xml(table_rows(DATA))), 200, '"valid_rows":3')
empty_rows = "".join(f'<row r="{r}"><c r="A{r}" s="1"/></row>' for r in range(5, 1_000)) + "".join(f'<row r="{r}" s="1" customFormat="1"/>' for r in range(1_000, 1_048_577))
add("classeur-un-million-de-lignes-vides.xlsx", workbook(sheet_xml(table_rows(DATA) + empty_rows)), 200, '"valid_rows":3')
add("classeur-cellule-lointaine.xlsx", workbook(sheet_xml(table_rows(DATA) + '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>')), 422, "colonnes")
add("classeur-cellule-tout-en-bas.xlsx", workbook(sheet_xml(table_rows(DATA) + '<row r="1048576"><c r="Z1048576" t="inlineStr"><is><t>x</t></is></c></row>')), 422, "cellules accept")
add("classeur-formules.xlsx", workbook(sheet_xml(table_rows(DATA[:2]) + '<row r="3"><c r="A3" t="str"><f>"0350018"&amp;"P"</f><v>0350018P</v></c><c r="B3" t="inlineStr"><is><t>2026-09-15</t></is></c><c r="C3"><f>SUM(1,2)</f><v>3</v></c><c r="D3" t="inlineStr"><is><t>prestataire</t></is></c></row>')), 200, '"rows":2')
add("classeur-sans-feuille.xlsx", zip_bytes([("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", RELS), ("xl/workbook.xml", WORKBOOK.replace(b'<sheet name="inventaire" sheetId="1" r:id="rId1"/>', b"")), ("xl/_rels/workbook.xml.rels", WB_RELS)]), 422, "aucune feuille")
add("classeur-tronque.xlsx", workbook(sheet_xml(table_rows(DATA)))[:300], 422, "ne peut pas être lu comme un classeur")
add("archive-zip-ordinaire.xlsx", zip_bytes([("lisez-moi.txt", b"pas un classeur")]), 422, "ne peut pas être lu comme un classeur")
add("zip-dans-zip.xlsx", zip_bytes([("interieur.xlsx", workbook(sheet_xml(table_rows(DATA))))]), 422, "ne peut pas être lu comme un classeur")
bomb = zip_bytes([("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", RELS), ("xl/workbook.xml", WORKBOOK), ("xl/_rels/workbook.xml.rels", WB_RELS), ("xl/worksheets/sheet1.xml", b"\x00" * (400 * 1024 * 1024))])
add("bombe-zip.xlsx", bomb, 422, "bombe")
add("bombe-zip-renommee.csv", bomb, 422, "bombe")
many = zip_bytes([(f"xl/media/image{i}.bin", b"\x00" * (900 * 1024)) for i in range(400)])
add("bombe-zip-en-400-parties.xlsx", many, 422, "une fois décompressé")
add("chaine-partagee-de-10-mo.xlsx", workbook(sheet_xml(table_rows(DATA[:2]) + '<row r="3">' + cell(3, 0, GOOD[1]) + cell(3, 1, "2026-09-15") + cell(3, 2, 41) + cell(3, 3, "B" * (10 * 1024 * 1024)) + "</row>")), 422, "bombe")
laughs = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"><!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"><!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"><!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"><!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>'
add("milliard-de-rires.xlsx", workbook(sheet_xml(table_rows(DATA) + '<row r="5"><c r="A5" t="inlineStr"><is><t>&lol9;</t></is></c></row>', prolog=laughs)), 422, "feuille")
xxe = '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
add("entite-externe.xlsx", workbook(sheet_xml(table_rows(DATA) + '<row r="5"><c r="A5" t="inlineStr"><is><t>&xxe;</t></is></c></row>', prolog=xxe)), 422, "feuille")

# --- JSON -------------------------------------------------------------------------------
obj = [{"uai": u, "date_inventaire": "2026-09-15", "nb_terminaux": 40 + i, "maintenance": "prestataire"} for i, u in enumerate(GOOD)]
add("json-ordinaire.json", json.dumps(obj), 200, '"valid_rows":3')
add("json-imbrique-100000-niveaux.json", "[" * 100_000 + "]" * 100_000, 422, "fichier inutilisable")
add("json-objet-seul.json", json.dumps(obj[0]), 422, "fichier inutilisable")
add("json-tableau-de-nombres.json", "[1,2,3]", 422, "fichier inutilisable")
add("json-nombre-geant.json", '[{"uai":"%s","date_inventaire":"2026-09-15","nb_terminaux":1%s,"maintenance":"prestataire"}]' % (GOOD[0], "0" * 400), 422, "number out of range")
add("json-cles-en-double.json", '[{"uai":"%s","uai":"%s","date_inventaire":"2026-09-15","nb_terminaux":4}]' % (GOOD[0], GOOD[1]), 200, '"rows":1')
add("json-dechets-a-la-fin.json", json.dumps(obj) + "\x00garbage", 422, "fichier inutilisable")
add("json-tronque.json", json.dumps(obj)[:-7], 422, "fichier inutilisable")

os.makedirs(OUT, exist_ok=True)
for name in os.listdir(OUT):
    os.remove(os.path.join(OUT, name))
for name, data in files.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
with open(os.path.join(OUT, "expected.csv"), "w", encoding="utf-8", newline="\n") as f:
    f.write("file\tstatus\tphrase\n")
    for name, status, phrase in expected:
        f.write(f"{name}\t{status}\t{phrase}\n")
print(f"{len(files)} files in {os.path.normpath(OUT)}")
