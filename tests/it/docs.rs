//! The docs a reader navigates: every relative link in `README.md` and `docs/*.md` leads to a file that exists (and,
//! with an `#anchor`, to a heading of that page as GitHub names it), and the Architecture page has a row for every
//! room of `shared/src` and none for a room that is gone, read from the tree at test time.
//!
//! No Markdown crate is in the lockfile, so a small scanner finds the links: inline links `[text](target)` outside
//! fenced blocks and code spans, the only link form these pages use.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::template::root;

const ARCHITECTURE: &str = "docs/architecture.md";
const ROOMS_HEADING: &str = "## Rooms of `shared/`";

/// The README and every page of `docs/`.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|extension| extension == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    pages
}

/// `path` as the repository names it.
fn shown(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The lines of `markdown` outside fenced code blocks.
fn prose_lines(markdown: &str) -> impl Iterator<Item = &str> {
    let mut fenced = false;
    markdown.lines().filter(move |line| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return false;
        }
        !fenced
    })
}

/// `line` without the contents of its code spans (a link's text may be code; a code span is never a link).
fn without_code_spans(line: &str) -> String {
    line.split('`').step_by(2).collect::<Vec<_>>().join("``")
}

/// The targets of the inline links in `markdown`.
fn link_targets(markdown: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose_lines(markdown) {
        let line = without_code_spans(line);
        let mut rest = line.as_str();
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            targets.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    targets
}

/// The anchors GitHub gives the headings of `markdown`: the heading's text in lowercase, letters, digits, `-` and
/// `_` kept, spaces made `-`, everything else dropped; a repeated anchor gets `-1`, `-2`, ...
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut anchors = BTreeSet::new();
    for line in prose_lines(markdown) {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        let Some(text) = line.get(hashes..).and_then(|rest| rest.strip_prefix(' ')) else {
            continue;
        };
        if !(1..=6).contains(&hashes) {
            continue;
        }
        let slug: String = text
            .trim()
            .trim_end_matches('#')
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let mut anchor = slug.clone();
        let mut repeat = 0;
        while !anchors.insert(anchor.clone()) {
            repeat += 1;
            anchor = format!("{slug}-{repeat}");
        }
    }
    anchors
}

/// The relative links of `markdown`, the text of the page at `page`, that lead nowhere, each with why.
fn broken_links(page: &Path, markdown: &str) -> Vec<String> {
    let mut broken = Vec::new();
    for target in link_targets(markdown) {
        if target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (path, anchor) = match target.split_once('#') {
            Some((path, anchor)) => (path, Some(anchor)),
            None => (target.as_str(), None),
        };
        let file = if path.is_empty() {
            page.to_path_buf()
        } else {
            page.parent().unwrap().join(path)
        };
        if !file.exists() {
            broken.push(format!("{target}: no file {}", shown(&file)));
            continue;
        }
        let Some(anchor) = anchor else { continue };
        let headings = if path.is_empty() {
            anchors(markdown)
        } else {
            anchors(&std::fs::read_to_string(&file).unwrap_or_default())
        };
        if !headings.contains(anchor) {
            broken.push(format!(
                "{target}: no heading #{anchor} in {}",
                shown(&file)
            ));
        }
    }
    broken
}

#[test]
fn every_relative_link_in_the_readme_and_docs_resolves() {
    let pages = pages();
    assert!(pages.len() > 1, "the docs pages: {pages:?}");
    let mut broken = Vec::new();
    for page in &pages {
        let markdown = std::fs::read_to_string(page).unwrap();
        assert!(
            !link_targets(&markdown).is_empty(),
            "{} links nowhere",
            shown(page)
        );
        for why in broken_links(page, &markdown) {
            broken.push(format!("{}: {why}", shown(page)));
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_link_check_finds_a_missing_file_and_a_missing_heading() {
    let page = root().join("README.md");
    let markdown = "# Title\n\n## Who may call what: access, audit\n\n\
        [ok](docs/api.md#credentials-api) [ok](#who-may-call-what-access-audit) [`ok`](LICENSE)\n\
        `[not a link](nowhere.md)` [external](https://example.com/nowhere)\n\
        ```sh\n[in a fence](nowhere.md)\n```\n\
        [gone](docs/gone.md) [no heading](docs/api.md#credentials) [no heading here](#title-1)\n";
    let broken = broken_links(&page, markdown);
    assert_eq!(broken.len(), 3, "{broken:#?}");
    assert!(
        broken[0].starts_with("docs/gone.md: no file"),
        "{broken:#?}"
    );
    assert!(
        broken[1].starts_with("docs/api.md#credentials: no heading"),
        "{broken:#?}"
    );
    assert!(broken[2].starts_with("#title-1: no heading"), "{broken:#?}");
}

#[test]
fn anchors_are_named_as_github_names_them() {
    let markdown = "# The secrets' KMS key\n## Rooms of `shared/`\n### One token's budget\n\
        ## Limits\n## Limits\n```\n# not a heading\n```\n#hashtag\n";
    let expected = [
        "the-secrets-kms-key",
        "rooms-of-shared",
        "one-tokens-budget",
        "limits",
        "limits-1",
    ];
    assert_eq!(anchors(markdown), expected.map(str::to_owned).into());
}

/// The rooms of `shared/src`: each top-level module of `lib.rs` and each entry of the folder, as `name/` for a
/// folder and `name.rs` for a file.
fn rooms() -> BTreeSet<String> {
    let src = root().join("shared/src");
    let mut rooms = BTreeSet::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if entry.file_type().unwrap().is_dir() {
            rooms.insert(format!("{name}/"));
        } else if name.ends_with(".rs") && name != "lib.rs" {
            rooms.insert(name);
        }
    }
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    for line in lib.lines() {
        let Some(module) = line
            .trim()
            .trim_start_matches("pub ")
            .strip_prefix("mod ")
            .and_then(|rest| rest.strip_suffix(';'))
        else {
            continue;
        };
        let room = if src.join(module).is_dir() {
            format!("{module}/")
        } else {
            format!("{module}.rs")
        };
        assert!(
            rooms.contains(&room),
            "lib.rs declares {module}, which is no file or folder of shared/src"
        );
    }
    rooms
}

/// The rooms the rows of the Architecture page's rooms table name: the code spans of each row's first cell.
fn rooms_named(architecture: &str) -> BTreeSet<String> {
    let section = architecture
        .split(ROOMS_HEADING)
        .nth(1)
        .expect("the Architecture page's rooms section");
    let section = section.split("\n## ").next().unwrap();
    let mut named = BTreeSet::new();
    for row in section.lines().filter(|line| line.starts_with("| `")) {
        let first_cell = row.split('|').nth(1).unwrap();
        named.extend(first_cell.split('`').skip(1).step_by(2).map(str::to_owned));
    }
    named
}

/// What the rooms table lacks (rooms without a row) and what it has too many (rows of rooms that are gone).
fn rooms_table_drift(rooms: &BTreeSet<String>, architecture: &str) -> (Vec<String>, Vec<String>) {
    let named = rooms_named(architecture);
    (
        rooms.difference(&named).cloned().collect(),
        named.difference(rooms).cloned().collect(),
    )
}

#[test]
fn the_architecture_page_names_every_room_of_shared_src() {
    let rooms = rooms();
    for room in ["kernel/", "commits/", "export/", "app.rs"] {
        assert!(rooms.contains(room), "{room} in {rooms:?}");
    }
    let architecture = std::fs::read_to_string(root().join(ARCHITECTURE)).unwrap();
    let (without_row, gone) = rooms_table_drift(&rooms, &architecture);
    assert!(
        without_row.is_empty() && gone.is_empty(),
        "{ARCHITECTURE}'s rooms table has drifted from shared/src: no row for {without_row:?}, rows for rooms that \
         are gone: {gone:?}"
    );
}

#[test]
fn the_rooms_check_finds_a_room_without_a_row_and_a_row_without_a_room() {
    let rooms: BTreeSet<String> = ["kernel/", "sync/", "app.rs"].map(str::to_owned).into();
    let architecture = format!(
        "# Architecture\n\n{ROOMS_HEADING}\n\n| room | what |\n| --- | --- |\n| `kernel/` | words |\n\
         | `app.rs` | wiring, unlike `sync/` |\n| `gone/` | nothing |\n\n## Data model\n\n| `sync/` | not a room row |\n"
    );
    let (without_row, gone) = rooms_table_drift(&rooms, &architecture);
    assert_eq!(without_row, ["sync/"]);
    assert_eq!(gone, ["gone/"]);
}
