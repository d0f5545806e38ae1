//! The shape of `src/`: no import cycle between files, and the arrows of `lib.rs` point inward.
//!
//! Owns the file graph: every `.rs` file under `src/` (but `main.rs`, which is another crate) is
//! a node, and a file depends on the deepest module file a path it names resolves to. Paths come
//! from `use` statements and from inline paths that start with `crate::`, `super::`, `self::`, a
//! child module's name or a module brought in by `use`. Not dependencies: `mod x;` declarations,
//! `pub use` of the file's own descendants (a folder's public face) and `#[cfg(test)]` items.
//! The tokenizer is a small hand-written one over the source with comments and literals blanked
//! out; it knows paths, not types, so a name used without a path (a trait method, a glob-imported
//! item) is seen at its `use` line.
//!
//! Run it with `cargo test --test layout`; a failure lists each cycle with its files and the
//! lines that make it, and each import that points the wrong way.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A module path below the crate root: `["fire", "sink"]`.
type ModPath = Vec<String>;

/// A file's dependency on another file, with the line that makes it.
#[derive(Debug, Clone)]
struct Edge {
    to: PathBuf,
    line: usize,
}

/// A token of Rust source: an identifier or keyword, `::`, or one punctuation character.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

impl Token {
    fn is_ident(&self, name: &str) -> bool {
        matches!(&self.tok, Tok::Ident(s) if s == name)
    }

    fn is_punct(&self, c: char) -> bool {
        self.tok == Tok::Punct(c)
    }

    fn ident(&self) -> Option<&str> {
        match &self.tok {
            Tok::Ident(s) => Some(s),
            _ => None,
        }
    }
}

/// The crate's source tree: which module paths have a file, and where.
struct Tree {
    src: PathBuf,
    files: BTreeMap<ModPath, PathBuf>,
}

impl Tree {
    fn read(src: &Path) -> Tree {
        let mut files = BTreeMap::new();
        collect(src, src, &mut files);
        Tree {
            src: src.to_path_buf(),
            files,
        }
    }

    /// The file of the deepest existing module along `path`; the crate root for none.
    fn deepest(&self, path: &[String]) -> (PathBuf, usize) {
        let mut depth = 0;
        while depth < path.len() && self.files.contains_key(&path[..=depth]) {
            depth += 1;
        }
        (self.files[&path[..depth]].clone(), depth)
    }

    fn relative<'a>(&self, file: &'a Path) -> &'a Path {
        file.strip_prefix(&self.src).unwrap_or(file)
    }
}

fn collect(src: &Path, dir: &Path, files: &mut BTreeMap<ModPath, PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(src, &path, files);
            continue;
        }
        if path.extension().is_none_or(|ext| ext != "rs") || path == src.join("main.rs") {
            continue;
        }
        files.insert(module_path(src, &path), path);
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`; `src/lib.rs` is the root.
fn module_path(src: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(src).expect("a file under src/");
    let mut parts: ModPath = rel
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !(stem == "mod" || (parts.is_empty() && stem == "lib")) {
        parts.push(stem.to_string());
    }
    parts
}

/// Splits source into tokens, dropping comments, string, byte and char literals.
fn tokenize(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i = skip_block_comment(&chars, i, &mut line);
        } else if c == '"' {
            i = skip_string(&chars, i + 1, &mut line);
        } else if let Some(end) = raw_string_start(&chars, i) {
            i = skip_raw_string(&chars, end, &mut line);
        } else if c == 'b' && next == Some('"') {
            i = skip_string(&chars, i + 2, &mut line);
        } else if c == '\'' || (c == 'b' && next == Some('\'')) {
            i = skip_char_or_lifetime(&chars, if c == 'b' { i + 1 } else { i });
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            tokens.push(Token {
                tok: Tok::Ident(word),
                line,
            });
        } else if c == ':' && next == Some(':') {
            tokens.push(Token {
                tok: Tok::PathSep,
                line,
            });
            i += 2;
        } else {
            tokens.push(Token {
                tok: Tok::Punct(c),
                line,
            });
            i += 1;
        }
    }
    tokens
}

fn skip_block_comment(chars: &[char], mut i: usize, line: &mut usize) -> usize {
    let mut depth = 0;
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            if chars[i] == '\n' {
                *line += 1;
            }
            i += 1;
        }
    }
    i
}

/// From just inside an opening quote to just past the closing one.
fn skip_string(chars: &[char], mut i: usize, line: &mut usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            c => {
                if c == '\n' {
                    *line += 1;
                }
                i += 1;
            }
        }
    }
    i
}

/// If a raw string (`r"`, `r#"`, `br"`, ..) starts at `i`: the index just past its opening
/// quote, and how many `#`s close it.
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let preceded_by_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    if preceded_by_ident {
        return None;
    }
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = chars[j..].iter().take_while(|&&c| c == '#').count();
    j += hashes;
    (chars.get(j) == Some(&'"')).then_some((j + 1, hashes))
}

fn skip_raw_string(chars: &[char], (mut i, hashes): (usize, usize), line: &mut usize) -> usize {
    while i < chars.len() {
        if chars[i] == '"' && chars[i + 1..].iter().take_while(|&&c| c == '#').count() >= hashes {
            return i + 1 + hashes;
        }
        if chars[i] == '\n' {
            *line += 1;
        }
        i += 1;
    }
    i
}

/// At a `'`: skips a char literal (`'a'`, `'\n'`, `'\u{1F600}'`) or a lifetime's quote.
fn skip_char_or_lifetime(chars: &[char], i: usize) -> usize {
    if chars.get(i + 1) == Some(&'\\') {
        let mut j = i + 2;
        while j < chars.len() && chars[j] != '\'' {
            j += 1;
        }
        return j + 1;
    }
    if chars.get(i + 2) == Some(&'\'') {
        return i + 3;
    }
    // A lifetime: drop the quote, the name that follows is a harmless identifier.
    i + 1
}

/// Drops every item marked `#[cfg(test)]`: a `mod tests { .. }`, a test-only `use` or `fn`.
fn without_test_items(tokens: Vec<Token>) -> Vec<Token> {
    let mut kept = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if is_cfg_test(&tokens[i..]) {
            i = skip_item(&tokens, i + 7);
        } else {
            kept.push(tokens[i].clone());
            i += 1;
        }
    }
    kept
}

fn is_cfg_test(tokens: &[Token]) -> bool {
    let shape = ["#", "[", "cfg", "(", "test", ")", "]"];
    tokens.len() >= shape.len()
        && tokens
            .iter()
            .zip(shape)
            .all(|(token, want)| match &token.tok {
                Tok::Ident(s) => s == want,
                Tok::Punct(c) => want.len() == 1 && want.starts_with(*c),
                Tok::PathSep => false,
            })
}

/// From the start of an item: the index past its `;` or its closing `}`.
fn skip_item(tokens: &[Token], mut i: usize) -> usize {
    let mut nesting = 0usize;
    while i < tokens.len() {
        let token = &tokens[i];
        if token.is_punct('(') || token.is_punct('[') {
            nesting += 1;
        } else if token.is_punct(')') || token.is_punct(']') {
            nesting = nesting.saturating_sub(1);
        } else if nesting == 0 && token.is_punct(';') {
            return i + 1;
        } else if nesting == 0 && token.is_punct('{') {
            return past_matching_brace(tokens, i);
        }
        i += 1;
    }
    i
}

fn past_matching_brace(tokens: &[Token], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < tokens.len() {
        if tokens[i].is_punct('{') {
            depth += 1;
        } else if tokens[i].is_punct('}') {
            depth -= 1;
            if depth == 0 {
                return i + 1;
            }
        }
        i += 1;
    }
    i
}

/// One leaf of a `use` tree: `use a::{b, c::d as e}` has `a::b` and `a::c::d` (bound as `e`).
#[derive(Debug)]
struct UseLeaf {
    path: Vec<String>,
    binding: Option<String>,
}

/// Parses a use tree from `i` (just after `use`) up to its `;`; returns the leaves and the
/// index past the `;`.
fn parse_use_tree(tokens: &[Token], i: usize) -> (Vec<UseLeaf>, usize) {
    let mut leaves = Vec::new();
    let end = parse_tree(tokens, i, Vec::new(), &mut leaves);
    let past = tokens[end..]
        .iter()
        .position(|t| t.is_punct(';'))
        .map_or(tokens.len(), |p| end + p + 1);
    (leaves, past)
}

fn parse_tree(
    tokens: &[Token],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<UseLeaf>,
) -> usize {
    if tokens.get(i).is_some_and(|t| t.tok == Tok::PathSep) {
        // `use ::extern_crate::..`: never a file of this crate.
        prefix.push("::".to_string());
        i += 1;
    }
    while let Some(token) = tokens.get(i) {
        match &token.tok {
            Tok::Ident(name) if name == "as" => {
                let binding = tokens.get(i + 1).and_then(Token::ident).map(str::to_string);
                out.push(UseLeaf {
                    path: prefix,
                    binding,
                });
                return i + 2;
            }
            Tok::Ident(name) => {
                prefix.push(name.clone());
                i += 1;
            }
            Tok::PathSep => i += 1,
            Tok::Punct('*') => {
                prefix.push("*".to_string());
                i += 1;
            }
            Tok::Punct('{') => {
                i += 1;
                while tokens.get(i).is_some_and(|t| !t.is_punct('}')) {
                    i = parse_tree(tokens, i, prefix.clone(), out);
                    if tokens.get(i).is_some_and(|t| t.is_punct(',')) {
                        i += 1;
                    }
                }
                return i + 1;
            }
            Tok::Punct(_) => break,
        }
    }
    let binding = prefix.last().filter(|last| *last != "*").cloned();
    out.push(UseLeaf {
        path: prefix,
        binding,
    });
    i
}

/// What one file imports, read from its tokens.
struct FileDeps<'t> {
    tree: &'t Tree,
    module: ModPath,
    /// Names bound to modules by `use` (`use crate::fire;`, `use super::{self as x}`).
    aliases: BTreeMap<String, ModPath>,
    edges: Vec<Edge>,
}

impl<'t> FileDeps<'t> {
    fn read(tree: &'t Tree, module: ModPath, source: &str) -> Vec<Edge> {
        let tokens = without_test_items(tokenize(source));
        let mut deps = FileDeps {
            tree,
            module,
            aliases: BTreeMap::new(),
            edges: Vec::new(),
        };
        let mut inline = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            if tokens[i].is_ident("use") {
                let re_export = is_public(&tokens, i);
                let (leaves, past) = parse_use_tree(&tokens, i + 1);
                for leaf in leaves {
                    deps.use_leaf(&leaf, tokens[i].line, re_export);
                }
                i = past;
            } else {
                if is_path_start(&tokens, i) {
                    inline.push(i);
                }
                i += 1;
            }
        }
        // Inline paths after every `use`, so that a module alias bound below its first use
        // still resolves.
        for start in inline {
            let path = inline_path(&tokens, start);
            if let Some(absolute) = deps.absolute(&path) {
                deps.add(&absolute, tokens[start].line);
            }
        }
        deps.edges
    }

    /// Resolves a path as written in this file to one below the crate root; `None` for paths
    /// into other crates (or local names the tokenizer cannot tell apart from them).
    fn absolute(&self, path: &[String]) -> Option<ModPath> {
        let first = path.first()?;
        let mut base = match first.as_str() {
            "crate" => Vec::new(),
            "self" => self.module.clone(),
            "super" => self.module[..self.module.len().checked_sub(1)?].to_vec(),
            name => {
                let mut child = self.module.clone();
                child.push(name.to_string());
                if self.tree.files.contains_key(&child) {
                    child
                } else {
                    self.aliases.get(name)?.clone()
                }
            }
        };
        let mut rest = &path[1..];
        while rest.first().is_some_and(|s| s == "super") {
            base.pop()?;
            rest = &rest[1..];
        }
        base.extend(rest.iter().filter(|s| *s != "self" && *s != "*").cloned());
        Some(base)
    }

    fn use_leaf(&mut self, leaf: &UseLeaf, line: usize, re_export: bool) {
        let Some(absolute) = self.absolute(&leaf.path) else {
            return;
        };
        let (_, depth) = self.tree.deepest(&absolute);
        if re_export && absolute.starts_with(&self.module) {
            // A folder's public face: the parent names what its children offer.
            return;
        }
        let is_module = depth == absolute.len() && leaf.path.last().is_none_or(|s| s != "*");
        if is_module {
            // `use crate::fire;` depends on nothing yet; each `fire::x` below says on what.
            if let Some(binding) = &leaf.binding {
                self.aliases.insert(binding.clone(), absolute);
            }
            return;
        }
        self.add(&absolute, line);
    }

    fn add(&mut self, absolute: &[String], line: usize) {
        let (to, _) = self.tree.deepest(absolute);
        self.edges.push(Edge { to, line });
    }
}

/// Whether the `use` at `i` has a visibility: `pub use`, `pub(crate) use`.
fn is_public(tokens: &[Token], i: usize) -> bool {
    match &tokens[..i] {
        [.., last] if last.is_ident("pub") => true,
        [.., pub_, open, _, close] => {
            pub_.is_ident("pub") && open.is_punct('(') && close.is_punct(')')
        }
        _ => false,
    }
}

/// An identifier followed by `::` that is neither the tail of a longer path nor a method
/// called with a turbofish (`x.parse::<u8>()`).
fn is_path_start(tokens: &[Token], i: usize) -> bool {
    let after = |tok: &Token| tok.tok == Tok::PathSep || tok.is_punct('.');
    tokens[i].ident().is_some()
        && tokens.get(i + 1).is_some_and(|t| t.tok == Tok::PathSep)
        && !(i > 0 && after(&tokens[i - 1]))
}

fn inline_path(tokens: &[Token], mut i: usize) -> Vec<String> {
    let mut path = Vec::new();
    while let Some(name) = tokens.get(i).and_then(Token::ident) {
        path.push(name.to_string());
        if tokens.get(i + 1).is_some_and(|t| t.tok == Tok::PathSep) {
            i += 2;
        } else {
            break;
        }
    }
    path
}

/// The whole graph: each file's edges to other files.
struct Graph {
    tree: Tree,
    edges: BTreeMap<PathBuf, Vec<Edge>>,
}

impl Graph {
    fn of_crate() -> Graph {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let tree = Tree::read(&src);
        let mut edges = BTreeMap::new();
        for (module, file) in &tree.files {
            let source = fs::read_to_string(file)
                .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
            let mut out = FileDeps::read(&tree, module.clone(), &source);
            out.retain(|edge| &edge.to != file);
            edges.insert(file.clone(), out);
        }
        Graph { tree, edges }
    }

    fn targets(&self, file: &Path) -> BTreeSet<&PathBuf> {
        self.edges[file].iter().map(|edge| &edge.to).collect()
    }

    /// Strongly connected components with more than one file (Tarjan's algorithm).
    fn cycles(&self) -> Vec<BTreeSet<PathBuf>> {
        let mut state = Tarjan::default();
        for file in self.edges.keys() {
            if !state.index.contains_key(file) {
                state.visit(self, file);
            }
        }
        state.components.retain(|component| component.len() > 1);
        state.components
    }

    /// Each line in `from` that imports a file of `component`, as `path:line: text`.
    fn lines_into(&self, from: &Path, component: &BTreeSet<PathBuf>) -> Vec<String> {
        let source = fs::read_to_string(from).expect("a file read once already");
        let lines: Vec<&str> = source.lines().collect();
        let mut seen = BTreeSet::new();
        self.edges[from]
            .iter()
            .filter(|edge| component.contains(&edge.to) && seen.insert(edge.line))
            .map(|edge| {
                format!(
                    "  src/{}:{}: {}   -> src/{}",
                    self.tree.relative(from).display(),
                    edge.line,
                    lines.get(edge.line - 1).map_or("", |l| l.trim()),
                    self.tree.relative(&edge.to).display()
                )
            })
            .collect()
    }
}

#[derive(Default)]
struct Tarjan {
    next: usize,
    index: BTreeMap<PathBuf, usize>,
    low: BTreeMap<PathBuf, usize>,
    stack: Vec<PathBuf>,
    on_stack: BTreeSet<PathBuf>,
    components: Vec<BTreeSet<PathBuf>>,
}

impl Tarjan {
    fn visit(&mut self, graph: &Graph, file: &Path) {
        let file = file.to_path_buf();
        self.index.insert(file.clone(), self.next);
        self.low.insert(file.clone(), self.next);
        self.next += 1;
        self.stack.push(file.clone());
        self.on_stack.insert(file.clone());
        for to in graph.targets(&file) {
            if !self.index.contains_key(to) {
                self.visit(graph, to);
                let low = self.low[&file].min(self.low[to]);
                self.low.insert(file.clone(), low);
            } else if self.on_stack.contains(to) {
                let low = self.low[&file].min(self.index[to]);
                self.low.insert(file.clone(), low);
            }
        }
        if self.low[&file] == self.index[&file] {
            let mut component = BTreeSet::new();
            while let Some(top) = self.stack.pop() {
                self.on_stack.remove(&top);
                let done = top == file;
                component.insert(top);
                if done {
                    break;
                }
            }
            self.components.push(component);
        }
    }
}

/// A layering rule of `lib.rs`: an import from one file to another (both relative to `src/`)
/// that `forbids` says goes the wrong way.
struct Rule {
    says: &'static str,
    forbids: fn(from: &Path, to: &Path) -> bool,
}

/// Whether `file` is module `module`'s file or one of its folder's.
fn in_module(file: &Path, module: &str) -> bool {
    file.starts_with(module) || file == Path::new(&format!("{module}.rs"))
}

fn in_any(file: &Path, modules: &[&str]) -> bool {
    modules.iter().any(|module| in_module(file, module))
}

/// The arrows `lib.rs` documents; keep the two in step.
const RULES: &[Rule] = &[
    Rule {
        says: "domain imports no sibling module",
        forbids: |from, to| in_module(from, "domain") && !in_module(to, "domain"),
    },
    Rule {
        says: "store imports only domain and clock",
        forbids: |from, to| in_module(from, "store") && !in_any(to, &["store", "domain", "clock"]),
    },
    Rule {
        says: "fire imports none of the ways into it (api, scheduler, listener, chat)",
        forbids: |from, to| {
            in_module(from, "fire") && in_any(to, &["api", "scheduler", "listener", "chat"])
        },
    },
    Rule {
        says: "only api, ui, config (for the api's settings), cli and startup import api",
        forbids: |from, to| {
            in_module(to, "api") && !in_any(from, &["api", "ui", "config", "cli", "startup"])
        },
    },
    Rule {
        says: "api does not import ui: the UI is built on the API's operations, not under it",
        forbids: |from, to| in_module(from, "api") && in_module(to, "ui"),
    },
    Rule {
        says: "only cli and startup import config: each part's settings live with the part",
        forbids: |from, to| in_module(to, "config") && !in_any(from, &["config", "cli", "startup"]),
    },
    Rule {
        says: "only cli and startup import cli and startup",
        forbids: |from, to| in_any(to, &["cli", "startup"]) && !in_any(from, &["cli", "startup"]),
    },
];

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let graph = Graph::of_crate();
    let cycles = graph.cycles();
    let mut report = Vec::new();
    for component in &cycles {
        let names: Vec<String> = component
            .iter()
            .map(|file| format!("src/{}", graph.tree.relative(file).display()))
            .collect();
        report.push(format!("cycle between {}:", names.join(", ")));
        for file in component {
            report.extend(graph.lines_into(file, component));
        }
    }
    assert!(
        cycles.is_empty(),
        "{} import cycle(s) between files under src/:\n{}",
        cycles.len(),
        report.join("\n")
    );
}

#[test]
fn imports_point_inward_as_lib_rs_says() {
    let graph = Graph::of_crate();
    let mut report = Vec::new();
    for rule in RULES {
        for (file, edges) in &graph.edges {
            let from = graph.tree.relative(file);
            let wrong: BTreeSet<PathBuf> = edges
                .iter()
                .map(|edge| edge.to.clone())
                .filter(|to| (rule.forbids)(from, graph.tree.relative(to)))
                .collect();
            if !wrong.is_empty() {
                report.push(format!("{}:", rule.says));
                report.extend(graph.lines_into(file, &wrong));
            }
        }
    }
    assert!(
        report.is_empty(),
        "imports against the layering of src/lib.rs:\n{}",
        report.join("\n")
    );
}

/// The checker itself: each way of naming a file is seen, and the exemptions hold.
mod checker {
    use super::*;

    fn edges_of(module: &[&str], source: &str) -> Vec<String> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let tree = Tree::read(&src);
        let module: ModPath = module.iter().map(|s| s.to_string()).collect();
        let mut found: Vec<String> = FileDeps::read(&tree, module, source)
            .into_iter()
            .map(|edge| tree.relative(&edge.to).display().to_string())
            .collect();
        found.sort();
        found.dedup();
        found
    }

    #[test]
    fn a_path_resolves_to_the_deepest_existing_module_file() {
        let found = edges_of(&["api"], "fn f(s: &dyn crate::fire::sink::TaskSink) {}");
        assert_eq!(found, ["fire/sink/mod.rs"]);
    }

    #[test]
    fn super_and_grouped_use_trees_resolve_relative_to_the_file() {
        let found = edges_of(
            &["store", "sqlite", "reader"],
            "use super::{rows::Row, super::StoreError};\nuse std::sync::Arc;",
        );
        assert_eq!(found, ["store/mod.rs", "store/sqlite/rows.rs"]);
    }

    #[test]
    fn a_module_brought_in_by_use_counts_where_it_is_used() {
        let found = edges_of(&["api"], "use crate::fire;\nfn f() { fire::sink::x(); }");
        assert_eq!(found, ["fire/sink/mod.rs"]);
    }

    #[test]
    fn re_exports_of_children_and_test_modules_are_not_dependencies() {
        let found = edges_of(
            &["store"],
            "mod sqlite;\npub use sqlite::SqliteStore;\n\
             #[cfg(test)]\nmod tests { use crate::fire::Fired; }",
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn a_parent_using_its_child_is_a_dependency() {
        let found = edges_of(&["store"], "mod sqlite;\nfn f() { sqlite::open(); }");
        assert_eq!(found, ["store/sqlite/mod.rs"]);
    }

    #[test]
    fn comments_and_strings_name_no_file() {
        let found = edges_of(
            &["api"],
            "// crate::fire::x\nconst S: &str = \"crate::store::y\";\nconst R: &str = r#\"crate::clock\"#;",
        );
        assert!(found.is_empty(), "{found:?}");
    }
}
