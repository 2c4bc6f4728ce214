//! The layering in lib.rs's "Layout" section, checked on the source: which
//! top-level module may name which (`crate::<module>` paths, comments
//! ignored), that the modules form no cycle, that SQL and `rusqlite`
//! appear only under `src/store/`, and a venue's wire types only under
//! `src/ingest/venues/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each library module and the modules it may depend on. Keep in step with
/// the Layout section of src/lib.rs (and README's module table).
const ALLOWED: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("clock", &[]),
    ("procstat", &[]),
    ("http", &[]),
    ("webhook", &[]),
    ("analytics", &["domain"]),
    ("model", &["domain", "analytics"]),
    ("store", &["domain", "model", "clock"]),
    ("ingest", &["domain", "store", "clock"]),
    (
        "config",
        &["domain", "clock", "http", "ingest", "store", "webhook"],
    ),
    (
        "services",
        &[
            "domain",
            "analytics",
            "model",
            "store",
            "ingest",
            "config",
            "webhook",
            "clock",
        ],
    ),
    (
        "state",
        &[
            "domain", "services", "store", "ingest", "config", "http", "webhook", "clock",
        ],
    ),
    (
        "api",
        &[
            "domain",
            "analytics",
            "model",
            "store",
            "ingest",
            "config",
            "webhook",
            "clock",
            "http",
            "services",
            "state",
        ],
    ),
    ("app", &["domain", "analytics", "model", "api"]),
    (
        "server",
        &[
            "domain",
            "analytics",
            "model",
            "store",
            "ingest",
            "config",
            "webhook",
            "clock",
            "http",
            "services",
            "state",
            "api",
            "app",
        ],
    ),
];

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source without `//` comments (doc links name modules freely).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            // Keep `://` inside string literals such as URLs.
            Some(i) if !l[..i].ends_with(':') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// (top-level module, file, code) for every library file.
fn sources() -> Vec<(String, PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    files
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(&src).unwrap();
            let first = rel.components().next()?.as_os_str().to_str()?.to_string();
            let top = first.trim_end_matches(".rs").to_string();
            // The binary's side (main, cli, bench) may use anything.
            if ["lib", "main", "cli", "bench"].contains(&top.as_str()) {
                return None;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            Some((top, p, code(&text)))
        })
        .collect()
}

fn deps(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeMap<String, PathBuf>> {
    let mut g: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for (top, path, code) in sources() {
        let entry = g.entry(top.clone()).or_default();
        for d in deps(&code) {
            if d != top {
                entry.entry(d).or_insert_with(|| path.clone());
            }
        }
    }
    g
}

#[test]
fn every_module_depends_only_on_the_layers_below_it() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut bad = Vec::new();
    for (module, uses) in graph() {
        let Some(ok) = allowed.get(module.as_str()) else {
            bad.push(format!(
                "{module}: a new top-level module; add it to ALLOWED and lib.rs's Layout"
            ));
            continue;
        };
        for (dep, file) in uses {
            if !ok.contains(&dep.as_str()) {
                bad.push(format!("{module} -> {dep} (first in {})", file.display()));
            }
        }
    }
    assert!(bad.is_empty(), "layering violations:\n{}", bad.join("\n"));
}

#[test]
fn the_modules_form_no_cycle() {
    let g = graph();
    // Depth-first search for a back edge.
    fn visit<'a>(
        n: &'a str,
        g: &'a BTreeMap<String, BTreeMap<String, PathBuf>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(1) => {
                let at = path.iter().position(|p| *p == n).unwrap();
                let mut c: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
                c.push(n.to_string());
                return Some(c);
            }
            Some(_) => return None,
            None => {}
        }
        state.insert(n, 1);
        path.push(n);
        if let Some(next) = g.get(n) {
            for d in next.keys() {
                if let Some(c) = visit(d, g, state, path) {
                    return Some(c);
                }
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        let mut path = Vec::new();
        if let Some(c) = visit(n, &g, &mut state, &mut path) {
            panic!("import cycle: {}", c.join(" -> "));
        }
    }
}

#[test]
fn sql_and_rusqlite_live_only_in_the_store() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let store = src.join("store");
    let sql = [
        "rusqlite",
        "SELECT ",
        "INSERT INTO",
        "DELETE FROM",
        "CREATE TABLE",
        "PRAGMA ",
    ];
    let mut bad = Vec::new();
    for p in files.iter().filter(|p| !p.starts_with(&store)) {
        let text = code(&std::fs::read_to_string(p).unwrap());
        for s in sql {
            if text.contains(s) {
                bad.push(format!("{} names {s:?}", p.display()));
            }
        }
    }
    assert!(bad.is_empty(), "SQL outside src/store:\n{}", bad.join("\n"));
}

#[test]
fn the_checker_sees_paths_and_ignores_comments() {
    let c = code("use crate::store::Store; // crate::api is only mentioned\nlet u = \"http://x\";");
    assert_eq!(
        deps(&c).into_iter().collect::<Vec<_>>(),
        vec!["store".to_string()]
    );
    assert!(c.contains("http://x"));
}

#[test]
fn only_the_venue_folders_name_a_venues_wire_types() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let venues = src.join("ingest").join("venues");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let bad: Vec<String> = files
        .iter()
        .filter(|p| !p.starts_with(&venues))
        .filter(|p| code(&std::fs::read_to_string(p).unwrap()).contains("binance::"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        bad.is_empty(),
        "Binance's module named outside src/ingest/venues (go through venues::adapter):\n{}",
        bad.join("\n")
    );
}
