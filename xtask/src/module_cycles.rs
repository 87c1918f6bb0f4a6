//! Finds dependency cycles among a crate's top-level modules: module A
//! depends on B when a file of A names `crate::B` (in a path or a `use
//! crate::{B, ...}` group), comments and `#[cfg(test)] mod tests` blocks
//! left out. Dependencies inside each crate must point one way, as they do
//! between crates (issue 19); the test below holds the crates to it.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// Each top-level module of the crate whose sources are in `src`, and the
/// modules it depends on.
pub fn module_graph(src: &Path) -> std::io::Result<BTreeMap<String, BTreeSet<String>>> {
    let mut files: BTreeMap<String, Vec<String>> = BTreeMap::new();
    collect(src, src, &mut files)?;
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    Ok(files
        .into_iter()
        .map(|(module, texts)| {
            let deps = texts
                .iter()
                .flat_map(|text| referenced(text))
                .filter(|dep| *dep != module && modules.contains(dep))
                .collect();
            (module, deps)
        })
        .collect())
}

fn collect(
    root: &Path,
    dir: &Path,
    files: &mut BTreeMap<String, Vec<String>>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, files)?;
            continue;
        }
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let relative = path.strip_prefix(root).expect("under the root");
        let first = relative.components().next().expect("a component");
        let top = Path::new(first.as_os_str()).with_extension("");
        let top = top.to_string_lossy().into_owned();
        if relative.components().count() == 1 && (top == "lib" || top == "main") {
            continue;
        }
        files.entry(top).or_default().push(std::fs::read_to_string(&path)?);
    }
    Ok(())
}

/// The top-level module names a source text refers to through `crate::`.
fn referenced(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let code: String = code
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            names.extend(top_level_names(group));
        } else {
            names.insert(identifier(rest).to_string());
        }
    }
    names.remove("");
    names
}

/// The first identifier of each item of a `{a::b, c, d::{e, f}}` group,
/// up to its closing brace.
fn top_level_names(group: &str) -> Vec<String> {
    let (mut depth, mut names, mut expecting) = (0usize, Vec::new(), true);
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => expecting = true,
            c if expecting && depth == 0 && (c.is_alphanumeric() || c == '_') => {
                names.push(identifier(&group[at..]).to_string());
                expecting = false;
            }
            _ => {}
        }
    }
    names
}

fn identifier(text: &str) -> &str {
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len());
    &text[..end]
}

/// The strongly connected groups of more than one module (Tarjan).
pub fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, module: &'g str) {
            let n = self.index.len();
            self.index.insert(module, n);
            self.low.insert(module, n);
            self.stack.push(module);
            for dep in &self.graph[module] {
                if !self.index.contains_key(dep.as_str()) {
                    self.visit(dep);
                    let low = self.low[module].min(self.low[dep.as_str()]);
                    self.low.insert(module, low);
                } else if self.stack.contains(&dep.as_str()) {
                    let low = self.low[module].min(self.index[dep.as_str()]);
                    self.low.insert(module, low);
                }
            }
            if self.low[module] == self.index[module] {
                let at = self.stack.iter().rposition(|m| *m == module).expect("on the stack");
                let group: Vec<String> = self.stack.drain(at..).map(String::from).collect();
                if group.len() > 1 {
                    self.found.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for module in graph.keys() {
        if !walk.index.contains_key(module.as_str()) {
            walk.visit(module);
        }
    }
    walk.found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_paths_and_use_groups_but_not_comments() {
        let text = "use crate::{a::X, b, c::{d, e}};\n// crate::f\nfn g() { crate::h::i(); }\n\
                    #[cfg(test)]\nmod tests {\n    use crate::j;\n}\n";
        let names: Vec<String> = referenced(text).into_iter().collect();
        assert_eq!(names, ["a", "b", "c", "h"]);
    }

    #[test]
    fn finds_a_cycle_and_only_that() {
        let graph: BTreeMap<String, BTreeSet<String>> =
            [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec!["a"])]
                .into_iter()
                .map(|(m, deps)| (m.to_string(), deps.into_iter().map(String::from).collect()))
                .collect();
        let found = cycles(&graph);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].iter().cloned().collect::<BTreeSet<_>>().len(), 3);
    }

    /// The crates whose modules depend one way.
    #[test]
    fn these_crates_have_no_module_cycle() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let crates = [
            "probes/src",
            "events/src",
            "reports/src",
            "tui/src",
            "export/src",
            "runtime/src",
            "src",
            "xtask/src",
        ];
        for src in crates {
            let graph = module_graph(&root.join(src)).unwrap();
            assert!(graph.len() > 1, "{src}: no modules found");
            assert_eq!(cycles(&graph), Vec::<Vec<String>>::new(), "module cycles in {src}");
        }
    }
}
