//! The CLI's modules use each other without a cycle (the layers in `main.rs`'s module doc).
//!
//! The graph is read from the sources: every `crate::`, `super::` and `self::` path, and every
//! path that starts with a child module's name, outside comments and test modules, names the
//! module it lands in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`commands::plan`; `` for the crate root) → its source, test modules left out.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "tests.rs")
            {
                out.push(path);
            }
        }
    }
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files
        .into_iter()
        .map(|file| {
            let rel = file.strip_prefix(&src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod" || p == "main") {
                parts.pop();
            }
            let text = std::fs::read_to_string(&file).unwrap();
            // An inline test module ends the module's own code.
            let end = text
                .match_indices("#[cfg(test)]\nmod ")
                .find(|(at, _)| text[*at..].lines().nth(1).is_some_and(|l| l.ends_with('{')))
                .map_or(text.len(), |(at, _)| at);
            let code: String = text[..end]
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            (parts.join("::"), code)
        })
        .collect()
}

/// The paths in `code`: `a::b::c`, and `a::{b, c::{d, e}}` spelled out as `a::b`, `a::c::d`
/// and `a::c::e`.
fn paths(code: &str) -> Vec<Vec<String>> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = ident(chars[i]) && (i == 0 || !(ident(chars[i - 1]) || chars[i - 1] == ':'));
        if !starts {
            i += 1;
            continue;
        }
        let (end, found) = path_at(&chars, i, Vec::new());
        out.extend(found.into_iter().filter(|p| p.len() > 1));
        i = end.max(i + 1);
    }
    out
}

/// The paths starting at `chars[i]` under `prefix`, and where they end.
fn path_at(chars: &[char], mut i: usize, mut prefix: Vec<String>) -> (usize, Vec<Vec<String>>) {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    loop {
        let start = i;
        while i < chars.len() && ident(chars[i]) {
            i += 1;
        }
        prefix.push(chars[start..i].iter().collect());
        if !(chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':')) {
            return (i, vec![prefix]);
        }
        i += 2;
        if chars.get(i) == Some(&'{') {
            // A group: each member, up to its comma or the closing brace.
            let mut found = Vec::new();
            i += 1;
            loop {
                while chars.get(i).is_some_and(|c| c.is_whitespace() || *c == ',') {
                    i += 1;
                }
                match chars.get(i) {
                    Some('}') | None => return (i + 1, found),
                    Some(c) if ident(*c) => {
                        let (end, members) = path_at(chars, i, prefix.clone());
                        found.extend(members);
                        i = end;
                        // `as NAME` and anything else up to the member's end.
                        while chars.get(i).is_some_and(|c| *c != ',' && *c != '}') {
                            i += 1;
                        }
                    }
                    Some(_) => i += 1,
                }
            }
        }
        if !chars.get(i).is_some_and(|c| ident(*c)) {
            return (i, vec![prefix]);
        }
    }
}

/// Which module each module uses.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let known: BTreeSet<&String> = modules.keys().collect();
    let mut edges = BTreeMap::new();
    for (module, code) in &modules {
        let here: Vec<String> = if module.is_empty() {
            Vec::new()
        } else {
            module.split("::").map(str::to_string).collect()
        };
        let mut uses = BTreeSet::new();
        for path in paths(code) {
            let (mut base, mut rest) = (here.clone(), path.as_slice());
            match rest[0].as_str() {
                "crate" => {
                    base.clear();
                    rest = &rest[1..];
                }
                "super" => {
                    while rest.first().is_some_and(|s| s == "super") {
                        base.pop();
                        rest = &rest[1..];
                    }
                }
                "self" => rest = &rest[1..],
                child => {
                    let mut as_child = here.clone();
                    as_child.push(child.to_string());
                    if !known.contains(&as_child.join("::")) {
                        continue;
                    }
                }
            }
            base.extend(rest.iter().cloned());
            // The longest module the path lands in.
            let target = (0..=base.len())
                .rev()
                .map(|k| base[..k].join("::"))
                .find(|m| known.contains(m))
                .expect("the crate root is a module");
            if target != *module {
                uses.insert(target);
            }
        }
        edges.insert(module.clone(), uses);
    }
    edges
}

/// A cycle through `from`, if there is one.
fn cycle(
    edges: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(i) = path.iter().position(|m| m == from) {
        let mut c = path[i..].to_vec();
        c.push(from.to_string());
        return Some(c);
    }
    if done.contains(from) {
        return None;
    }
    path.push(from.to_string());
    for next in &edges[from] {
        if let Some(c) = cycle(edges, next, path, done) {
            return Some(c);
        }
    }
    path.pop();
    done.insert(from.to_string());
    None
}

#[test]
fn the_modules_use_each_other_without_a_cycle() {
    let edges = graph();
    let mut done = BTreeSet::new();
    for module in edges.keys() {
        if let Some(c) = cycle(&edges, module, &mut Vec::new(), &mut done) {
            panic!("a cycle: {}\n{edges:#?}", c.join(" -> "));
        }
    }
    // The leaves use no other CLI module; the workspace only the errors.
    for leaf in ["error", "render", "progress"] {
        assert!(edges[leaf].is_empty(), "{leaf} uses {:?}", edges[leaf]);
    }
    let workspace: Vec<&str> = edges["workspace"].iter().map(String::as_str).collect();
    assert_eq!(workspace, ["error"]);
    // The graph is read: the root dispatches to the commands, which use the workspace.
    assert!(edges[""].contains("commands::drill") && edges[""].contains("commands::plan"));
    assert!(edges["commands::drill"].contains("commands::operation"));
    assert!(edges["commands::saved_plan"].contains("commands::apply"));
}

#[test]
fn a_cycle_is_found() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a", &["b"][..]),
        ("b", &["c"][..]),
        ("c", &["a"][..]),
        ("d", &[][..]),
    ]
    .into_iter()
    .map(|(m, uses)| (m.into(), uses.iter().map(|u| u.to_string()).collect()))
    .collect();
    let found = cycle(&edges, "a", &mut Vec::new(), &mut BTreeSet::new());
    assert_eq!(found.unwrap().join(" -> "), "a -> b -> c -> a");
    assert_eq!(
        paths("use crate::x::{a, b::{c as d, e}};\nlet v = super::y::z(1);"),
        [
            vec!["crate", "x", "a"],
            vec!["crate", "x", "b", "c"],
            vec!["crate", "x", "b", "e"],
            vec!["super", "y", "z"],
        ]
    );
}

/// The CLI stays thin: no module (tests apart) grows past about 400 lines.
#[test]
fn no_module_of_the_cli_is_over_400_lines() {
    fn walk(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, usize)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "tests.rs")
            {
                let lines = std::fs::read_to_string(&path).unwrap().lines().count();
                out.push((path, lines));
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 20, "the walk found the modules: {files:?}");
    let long: Vec<_> = files.iter().filter(|(_, n)| *n > 400).collect();
    assert!(long.is_empty(), "modules over 400 lines: {long:?}");
}
