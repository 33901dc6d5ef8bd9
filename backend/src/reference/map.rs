//! The outlines of the départements for the map page, drawn once from IGN's Admin Express
//! outlines (`departements-avec-outre-mer.geojson`, simplified by Etalab) into SVG paths and
//! kept in the repository (`backend/reference/departements-carte.tsv`, embedded in the
//! binary): the page draws them without reading any file or doing any geometry.
//!
//! Metropolitan France (Corsica included) is drawn in one frame, projected as longitude ×
//! cos(46.5°) and latitude; each overseas département gets an inset of its own along the
//! bottom, at its own scale. Outlines are simplified (Douglas–Peucker, a fraction of a pixel)
//! and islets smaller than a pixel are left out, so that the whole map weighs ~100 kB.

use std::fmt::Write as _;

use serde_json::Value;

/// The drawing's size, in SVG user units.
pub const WIDTH: f64 = 640.0;
pub const HEIGHT: f64 = 712.0;

/// Metropolitan frame: longitude and latitude bounds, and its box.
const LON_MIN: f64 = -5.3;
const LAT_MAX: f64 = 51.2;
const METRO_SCALE: f64 = 58.0;
const METRO_MARGIN: f64 = 10.0;

/// The overseas insets, left to right, and their boxes (x, y, width, height).
pub const INSETS: [&str; 5] = ["971", "972", "973", "974", "976"];
const INSET_Y: f64 = 612.0;
const INSET_W: f64 = 118.0;
const INSET_H: f64 = 88.0;
const INSET_GAP: f64 = 8.0;

/// Île-de-France drawn again, larger, top right: Paris and its petite couronne are specks at
/// the scale of the country.
pub const ZOOM: [&str; 8] = ["75", "77", "78", "91", "92", "93", "94", "95"];
pub const ZOOM_BOX: (f64, f64, f64, f64) = (482.0, 8.0, 150.0, 118.0);

pub fn inset_box(index: usize) -> (f64, f64, f64, f64) {
    (
        METRO_MARGIN + index as f64 * (INSET_W + INSET_GAP),
        INSET_Y,
        INSET_W,
        INSET_H,
    )
}

/// One département as drawn: its code (INSEE), its name, its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outline {
    pub code: String,
    pub name: String,
    /// SVG path data, absolute coordinates with one decimal.
    pub path: String,
    /// Its path in the Île-de-France zoom, for the départements of [`ZOOM`] (else empty).
    pub zoom: String,
}

type Ring = Vec<(f64, f64)>;

fn rings(geometry: &Value) -> Vec<Ring> {
    let polygon = |p: &Value| -> Vec<Ring> {
        p.as_array()
            .into_iter()
            .flatten()
            .map(|ring| {
                ring.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|pt| Some((pt.get(0)?.as_f64()?, pt.get(1)?.as_f64()?)))
                    .collect()
            })
            .collect()
    };
    match geometry["type"].as_str() {
        Some("Polygon") => polygon(&geometry["coordinates"]),
        Some("MultiPolygon") => geometry["coordinates"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(polygon)
            .collect(),
        _ => Vec::new(),
    }
}

fn perpendicular(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt();
    if len == 0.0 {
        return ((p.0 - a.0).powi(2) + (p.1 - a.1).powi(2)).sqrt();
    }
    ((p.0 - a.0) * dy - (p.1 - a.1) * dx).abs() / len
}

/// Douglas–Peucker, iterative: the points of `ring` to keep within `epsilon`.
fn simplify(ring: &[(f64, f64)], epsilon: f64) -> Ring {
    if ring.len() < 4 {
        return ring.to_vec();
    }
    let mut keep = vec![false; ring.len()];
    keep[0] = true;
    keep[ring.len() - 1] = true;
    let mut stack = vec![(0, ring.len() - 1)];
    while let Some((first, last)) = stack.pop() {
        let mut worst = (0.0, 0);
        for i in first + 1..last {
            let d = perpendicular(ring[i], ring[first], ring[last]);
            if d > worst.0 {
                worst = (d, i);
            }
        }
        if worst.0 > epsilon {
            keep[worst.1] = true;
            stack.push((first, worst.1));
            stack.push((worst.1, last));
        }
    }
    ring.iter()
        .zip(keep)
        .filter_map(|(p, k)| k.then_some(*p))
        .collect()
}

fn area(ring: &[(f64, f64)]) -> f64 {
    let mut a = 0.0;
    for w in ring.windows(2) {
        a += w[0].0 * w[1].1 - w[1].0 * w[0].1;
    }
    (a / 2.0).abs()
}

fn bounds(rings: &[Ring]) -> (f64, f64, f64, f64) {
    let mut b = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for (x, y) in rings.iter().flatten() {
        b = (b.0.min(*x), b.1.min(*y), b.2.max(*x), b.3.max(*y));
    }
    b
}

/// A coordinate with one decimal, `.0` left out.
fn push_coordinate(d: &mut String, v: f64) {
    let s = format!("{v:.1}");
    d.push_str(s.strip_suffix(".0").unwrap_or(&s));
}

/// The path of a département's rings once projected.
fn draw(rings: &[Ring], project: impl Fn((f64, f64)) -> (f64, f64), epsilon: f64) -> String {
    let mut d = String::new();
    for ring in rings {
        let projected: Ring = ring.iter().map(|p| project(*p)).collect();
        let simple = simplify(&projected, epsilon);
        if simple.len() < 4 || area(&simple) < 1.0 {
            continue;
        }
        for (i, (x, y)) in simple.iter().enumerate() {
            d.push(if i == 0 { 'M' } else { 'L' });
            push_coordinate(&mut d, *x);
            d.push(' ');
            push_coordinate(&mut d, *y);
        }
        d.push('Z');
    }
    d
}

/// Draws every département of a GeoJSON FeatureCollection (properties `code` and `nom`).
pub fn outlines(geojson: &str) -> Result<Vec<Outline>, String> {
    let doc: Value =
        serde_json::from_str(geojson).map_err(|e| format!("GeoJSON illisible : {e}"))?;
    let features = doc["features"]
        .as_array()
        .ok_or("pas de « features » : ce n'est pas une FeatureCollection GeoJSON")?;
    let cos = 46.5_f64.to_radians().cos();
    // The zoom's frame: the bounds of Île-de-France's départements together.
    let zoom_rings: Vec<Ring> = features
        .iter()
        .filter(|f| {
            f["properties"]["code"]
                .as_str()
                .is_some_and(|c| ZOOM.contains(&c))
        })
        .flat_map(|f| rings(&f["geometry"]))
        .collect();
    let (zlon_min, zlat_min, zlon_max, zlat_max) = bounds(&zoom_rings);
    let zoom_scale = {
        let (_, _, w, h) = ZOOM_BOX;
        ((w - 8.0) / ((zlon_max - zlon_min) * cos)).min((h - 8.0) / (zlat_max - zlat_min))
    };
    let mut out = Vec::new();
    for f in features {
        let code = f["properties"]["code"]
            .as_str()
            .ok_or("un département sans propriété « code »")?
            .to_owned();
        let name = f["properties"]["nom"].as_str().unwrap_or(&code).to_owned();
        let rings = rings(&f["geometry"]);
        let path = match INSETS.iter().position(|c| *c == code) {
            None => draw(
                &rings,
                |(lon, lat)| {
                    (
                        METRO_MARGIN + (lon - LON_MIN) * cos * METRO_SCALE,
                        METRO_MARGIN + (LAT_MAX - lat) * METRO_SCALE,
                    )
                },
                0.5,
            ),
            Some(i) => {
                let (x0, y0, w, h) = inset_box(i);
                let (lon_min, lat_min, lon_max, lat_max) = bounds(&rings);
                let local = lat_min.to_radians().cos();
                let dx = (lon_max - lon_min) * local;
                let dy = lat_max - lat_min;
                let scale = ((w - 8.0) / dx).min((h - 18.0) / dy);
                let (ox, oy) = (
                    x0 + (w - dx * scale) / 2.0,
                    y0 + 4.0 + (h - 18.0 - dy * scale) / 2.0,
                );
                draw(
                    &rings,
                    |(lon, lat)| {
                        (
                            ox + (lon - lon_min) * local * scale,
                            oy + (lat_max - lat) * scale,
                        )
                    },
                    0.25,
                )
            }
        };
        let zoom = if ZOOM.contains(&code.as_str()) {
            let (x0, y0, w, h) = ZOOM_BOX;
            let (ox, oy) = (
                x0 + (w - (zlon_max - zlon_min) * cos * zoom_scale) / 2.0,
                y0 + (h - (zlat_max - zlat_min) * zoom_scale) / 2.0,
            );
            draw(
                &rings,
                |(lon, lat)| {
                    (
                        ox + (lon - zlon_min) * cos * zoom_scale,
                        oy + (zlat_max - lat) * zoom_scale,
                    )
                },
                0.4,
            )
        } else {
            String::new()
        };
        out.push(Outline {
            code,
            name,
            path,
            zoom,
        });
    }
    out.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(out)
}

/// The bundle's lines: `code\tname\tpath\tzoom path`.
pub fn to_bundle(outlines: &[Outline]) -> String {
    let mut s = String::from("code\tnom\tchemin\tchemin_zoom\n");
    for o in outlines {
        let _ = writeln!(s, "{}\t{}\t{}\t{}", o.code, o.name, o.path, o.zoom);
    }
    s
}

const BUNDLE: &str = include_str!("../../reference/departements-carte.tsv");

/// The outlines shipped with the binary.
pub fn shipped() -> &'static [Outline] {
    static OUTLINES: std::sync::OnceLock<Vec<Outline>> = std::sync::OnceLock::new();
    OUTLINES.get_or_init(|| {
        BUNDLE
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut cols = l.split('\t');
                Some(Outline {
                    code: cols.next()?.to_owned(),
                    name: cols.next()?.to_owned(),
                    path: cols.next()?.to_owned(),
                    zoom: cols.next().unwrap_or_default().to_owned(),
                })
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplification_keeps_the_shape_and_drops_specks() {
        let square = vec![
            (0.0, 0.0),
            (5.0, 0.1),
            (10.0, 0.0),
            (10.0, 10.0),
            (0.0, 10.0),
            (0.0, 0.0),
        ];
        let s = simplify(&square, 0.5);
        assert_eq!(s.len(), 5, "{s:?}");
        let p = draw(std::slice::from_ref(&square), |p| p, 0.5);
        assert!(p.starts_with("M0 0L10 0") && p.ends_with('Z'), "{p}");
        let speck = vec![(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5), (0.0, 0.0)];
        assert_eq!(draw(&[speck], |p| p, 0.1), "");
    }

    #[test]
    fn the_shipped_outlines_hold_every_departement_within_the_drawing() {
        let outlines = shipped();
        assert_eq!(outlines.len(), 101);
        for o in outlines {
            assert!(!o.path.is_empty(), "{} has no outline", o.code);
            for n in o.path.split(['M', 'L', 'Z', ' ']).filter(|s| !s.is_empty()) {
                let v: f64 = n.parse().unwrap_or(-1.0);
                assert!((0.0..=WIDTH.max(HEIGHT)).contains(&v), "{}: {v}", o.code);
            }
        }
        assert_eq!(
            outlines.iter().filter(|o| !o.zoom.is_empty()).count(),
            ZOOM.len()
        );
        assert!(to_bundle(outlines).len() < 200_000);
    }
}
