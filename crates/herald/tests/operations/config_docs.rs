//! The configuration reference: README's table lists exactly the settings the command line
//! parses, with their environment variables and defaults, and `herald config example` prints
//! them all.

use std::collections::BTreeMap;

use herald::config_reference::settings;

/// `(flag, (environment variable, default))` of each row of README's configuration table; a
/// default of `–` means none.
fn readme_rows() -> BTreeMap<String, (String, Option<String>)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## Configuration\n")
        .nth(1)
        .expect("a Configuration section");
    let section = section.split("\n## ").next().unwrap();
    let cell = |c: &str| c.trim().trim_matches('`').to_string();
    section
        .lines()
        .filter(|l| l.starts_with("| `--"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').collect();
            let default = cell(cells[3]);
            (
                cell(cells[1]),
                (cell(cells[2]), (default != "–").then_some(default)),
            )
        })
        .collect()
}

#[test]
fn the_readme_configuration_table_lists_exactly_the_settings_with_their_defaults() {
    let documented = readme_rows();
    let parsed: BTreeMap<String, (String, Option<String>)> = settings()
        .into_iter()
        .map(|s| (s.flag, (s.env.unwrap_or_default(), s.default)))
        .collect();
    let missing: Vec<&String> = parsed
        .keys()
        .filter(|k| !documented.contains_key(*k))
        .collect();
    let stale: Vec<&String> = documented
        .keys()
        .filter(|k| !parsed.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "README's configuration table lacks {missing:?} and lists unknown {stale:?}"
    );
    for (flag, expected) in &parsed {
        assert_eq!(&documented[flag], expected, "README row of {flag}");
    }
}

#[test]
fn herald_config_example_prints_every_setting() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["config", "example"])
        .env_remove("HERALD_LOG")
        .output()
        .expect("running herald config example");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for s in settings() {
        let env = s.env.expect("every setting has a variable");
        let line = format!("\n#{env}={}\n", s.default.as_deref().unwrap_or_default());
        assert!(text.contains(&line), "{line:?} in\n{text}");
        assert!(text.contains(&format!("# {}: ", s.flag)), "{}", s.flag);
    }
}
