//! The shape of `shared/src`, held by tests: files that fit in a head, functions without a scroll, and rooms that
//! import only rooms on their own floor or below. The source is parsed with `syn`, so comments and strings never
//! count as code and a test module is known by its `#[cfg(test)]`, not by its name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The most lines a source file of `shared/src` may have.
const MAX_FILE_LINES: usize = 800;
/// The most lines a function may have, signature to closing brace, in a file that holds production code.
const MAX_FUNCTION_LINES: usize = 80;

/// The floors of `shared/src`, lowest first. Production code in a room may use its own room, the rooms of its
/// floor that are listed as its neighbours below, and every room of a lower floor; never one above.
const FLOORS: &[&[&str]] = &[
    // Words without a domain: redaction, retry timing, and the metrics' catalogue and format.
    &["secret", "backoff", "metrics"],
    // The shared words every room may use.
    &["kernel"],
    // What a credential may see, and the GitLab client the domain talks through.
    &["scope", "gitlab"],
    // Credentials are verified and stored; the scheduler and the worker read them.
    &["credentials"],
    // The domain rooms, side by side.
    &[
        "scheduler",
        "sync",
        "hooks",
        "commits",
        "export",
        "projects",
    ],
    // The AWS adapters behind the domain's ports.
    &["aws"],
    // Typed configuration, logging, and the Lambda events.
    &["config", "telemetry"],
    &["entrypoints"],
    // Wiring for the Lambda mains and the local run; test support sits on top and may use anything.
    &["app"],
    &["testing"],
];

/// A parsed source file of `shared/src`, with whether it is compiled only for tests.
struct SourceFile {
    path: PathBuf,
    text: String,
    syntax: syn::File,
    test_only: bool,
}

fn shared_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src")
}

/// Every file of the crate, found the way rustc finds them: from `lib.rs` through the `mod` declarations.
fn source_files() -> Vec<SourceFile> {
    let mut files = Vec::new();
    collect(
        &shared_src().join("lib.rs"),
        &shared_src(),
        false,
        &mut files,
    );
    assert!(files.len() > 20, "found only {} files", files.len());
    files
}

fn collect(path: &Path, children_dir: &Path, test_only: bool, files: &mut Vec<SourceFile>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let syntax = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for item in &syntax.items {
        let syn::Item::Mod(module) = item else {
            continue;
        };
        if module.content.is_some() {
            continue;
        }
        let name = module.ident.to_string();
        let file = children_dir.join(format!("{name}.rs"));
        let (file, grandchildren) = if file.exists() {
            (file, children_dir.join(&name))
        } else {
            (
                children_dir.join(&name).join("mod.rs"),
                children_dir.join(&name),
            )
        };
        let child_test_only = test_only || is_cfg_test(&module.attrs);
        collect(&file, &grandchildren, child_test_only, files);
    }
    files.push(SourceFile {
        path: path.to_owned(),
        text,
        syntax,
        test_only,
    });
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Meta>()
                .is_ok_and(|meta| meta.path().is_ident("test"))
    })
}

fn relative(path: &Path) -> String {
    path.strip_prefix(shared_src())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The room a file belongs to: its first folder under `shared/src`, or its own name for a top-level file.
fn room_of(path: &Path) -> String {
    let relative = relative(path);
    let first = relative.split('/').next().unwrap_or_default();
    first.trim_end_matches(".rs").to_owned()
}

#[test]
fn every_file_of_shared_fits_in_a_head() {
    let too_long: Vec<String> = source_files()
        .iter()
        .map(|file| (relative(&file.path), file.text.lines().count()))
        .filter(|(_, lines)| *lines > MAX_FILE_LINES)
        .map(|(path, lines)| format!("{path}: {lines} lines"))
        .collect();
    assert!(
        too_long.is_empty(),
        "files over {MAX_FILE_LINES} lines: {too_long:#?}"
    );
}

/// Collects every function with a body, skipping code compiled only for tests when asked to.
struct Functions {
    skip_tests: bool,
    found: Vec<(String, usize, usize)>,
}

impl Functions {
    /// Counts from the `fn` keyword to the body's closing brace.
    fn record(&mut self, signature: &syn::Signature, body: &syn::Block) {
        let start = signature.fn_token.span.start().line;
        let end = body.brace_token.span.close().end().line;
        self.found
            .push((signature.ident.to_string(), start, end - start + 1));
    }
}

impl<'ast> Visit<'ast> for Functions {
    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        if !(self.skip_tests && is_cfg_test(&module.attrs)) {
            syn::visit::visit_item_mod(self, module);
        }
    }

    fn visit_item_fn(&mut self, function: &'ast syn::ItemFn) {
        self.record(&function.sig, &function.block);
        syn::visit::visit_item_fn(self, function);
    }

    fn visit_impl_item_fn(&mut self, function: &'ast syn::ImplItemFn) {
        self.record(&function.sig, &function.block);
        syn::visit::visit_impl_item_fn(self, function);
    }

    fn visit_trait_item_fn(&mut self, function: &'ast syn::TraitItemFn) {
        if let Some(block) = &function.default {
            self.record(&function.sig, block);
        }
        syn::visit::visit_trait_item_fn(self, function);
    }
}

fn functions_of(file: &SourceFile) -> Vec<(String, usize, usize)> {
    let mut functions = Functions {
        skip_tests: false,
        found: Vec::new(),
    };
    functions.visit_file(&file.syntax);
    functions.found
}

#[test]
fn no_function_in_a_production_file_of_shared_needs_a_scroll() {
    let mut too_long = Vec::new();
    for file in source_files().iter().filter(|file| !file.test_only) {
        for (name, line, lines) in functions_of(file) {
            if lines > MAX_FUNCTION_LINES {
                too_long.push(format!(
                    "{}:{line} {name}: {lines} lines",
                    relative(&file.path)
                ));
            }
        }
    }
    assert!(
        too_long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines: {too_long:#?}"
    );
}

#[test]
fn the_function_count_sees_test_modules_and_long_bodies() {
    let text = "fn short() {}\n#[cfg(test)]\nmod tests {\n    fn long() {\n\n\n    }\n}\n";
    let file = SourceFile {
        path: PathBuf::from("example.rs"),
        text: text.to_owned(),
        syntax: syn::parse_file(text).unwrap(),
        test_only: false,
    };
    assert_eq!(
        functions_of(&file),
        vec![("short".to_owned(), 1, 1), ("long".to_owned(), 4, 4)]
    );
}

/// The rooms a file's production code names through `crate::<room>`, in `use` items and in paths alike.
struct RoomsUsed {
    rooms: BTreeSet<String>,
}

impl<'ast> Visit<'ast> for RoomsUsed {
    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        if !is_cfg_test(&module.attrs) {
            syn::visit::visit_item_mod(self, module);
        }
    }

    fn visit_item_fn(&mut self, function: &'ast syn::ItemFn) {
        if !is_cfg_test(&function.attrs) {
            syn::visit::visit_item_fn(self, function);
        }
    }

    fn visit_use_path(&mut self, path: &'ast syn::UsePath) {
        if path.ident == "crate" {
            self.rooms.extend(first_names(&path.tree));
        } else {
            syn::visit::visit_use_path(self, path);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let mut segments = path.segments.iter();
        if let (Some(first), Some(second)) = (segments.next(), segments.next())
            && first.ident == "crate"
        {
            self.rooms.insert(second.ident.to_string());
        }
        syn::visit::visit_path(self, path);
    }
}

/// The names a `use crate::{...}` tree starts with.
fn first_names(tree: &syn::UseTree) -> Vec<String> {
    match tree {
        syn::UseTree::Path(path) => vec![path.ident.to_string()],
        syn::UseTree::Name(name) => vec![name.ident.to_string()],
        syn::UseTree::Rename(rename) => vec![rename.ident.to_string()],
        syn::UseTree::Group(group) => group.items.iter().flat_map(first_names).collect(),
        syn::UseTree::Glob(_) => Vec::new(),
    }
}

fn floor_of(room: &str) -> Option<usize> {
    FLOORS.iter().position(|floor| floor.contains(&room))
}

/// Which room's production code uses which other rooms.
fn room_imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in source_files().iter().filter(|file| !file.test_only) {
        let mut used = RoomsUsed {
            rooms: BTreeSet::new(),
        };
        used.visit_file(&file.syntax);
        let room = room_of(&file.path);
        used.rooms.remove(&room);
        imports.entry(room).or_default().extend(used.rooms);
    }
    imports
}

#[test]
fn every_room_of_shared_stands_on_a_floor() {
    let rooms: BTreeSet<String> = source_files()
        .iter()
        .map(|file| room_of(&file.path))
        .filter(|room| room != "lib")
        .collect();
    let unplaced: Vec<&String> = rooms
        .iter()
        .filter(|room| floor_of(room).is_none())
        .collect();
    assert!(
        unplaced.is_empty(),
        "rooms missing from FLOORS: {unplaced:?}"
    );
    let gone: Vec<&&str> = FLOORS
        .iter()
        .flat_map(|floor| floor.iter())
        .filter(|room| !rooms.contains(**room))
        .collect();
    assert!(
        gone.is_empty(),
        "FLOORS names rooms that no longer exist: {gone:?}"
    );
}

#[test]
fn no_room_of_shared_imports_one_above_it_or_a_sibling() {
    let mut upward = Vec::new();
    for (room, used) in room_imports() {
        let Some(floor) = floor_of(&room) else {
            continue;
        };
        for other in used {
            if floor_of(&other).is_none_or(|other_floor| other_floor >= floor) {
                upward.push(format!("{room} uses {other}"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that run up or sideways: {upward:#?}"
    );
}

#[test]
fn the_import_walk_sees_use_trees_and_inline_paths_but_not_tests() {
    let syntax = syn::parse_file(
        "use crate::{kernel::ids::ConnectionId, gitlab};\n\
         fn f() { crate::sync::run(); }\n\
         #[cfg(test)]\nmod tests { use crate::testing::X; }\n",
    )
    .unwrap();
    let mut used = RoomsUsed {
        rooms: BTreeSet::new(),
    };
    used.visit_file(&syntax);
    let expected: BTreeSet<String> = ["gitlab", "kernel", "sync"].map(String::from).into();
    assert_eq!(used.rooms, expected);
}
