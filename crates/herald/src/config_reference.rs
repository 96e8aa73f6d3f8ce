//! The configuration reference, read from the command-line definitions themselves: `herald
//! config example` prints it, and a test keeps README's configuration table equal to it, so the
//! settings documented are exactly the settings parsed (no hand-kept copy to drift).

use clap::CommandFactory;

use crate::config::Cli;

/// One setting of the server: its flag, environment variable, default and meaning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// `--bind`
    pub flag: String,
    /// `HERALD_BIND`
    pub env: Option<String>,
    /// As `--help` shows it; `None` when unset by default.
    pub default: Option<String>,
    /// The first paragraph of the flag's documentation, on one line.
    pub meaning: String,
}

/// Every setting of `herald` (serving, storage, delivery), in `--help` order: the arguments of
/// the top-level command that are not hidden. Options of single subcommands (`keys create
/// --environment`, `backup --to`) are not settings and are left out.
pub fn settings() -> Vec<Setting> {
    let command = Cli::command();
    command
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| {
            let flag = format!("--{}", a.get_long()?);
            if flag == "--help" || flag == "--version" {
                return None;
            }
            let defaults: Vec<String> = a
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            let help = a
                .get_long_help()
                .or(a.get_help())
                .map(|h| h.to_string())
                .unwrap_or_default();
            let meaning = help
                .split("\n\n")
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            Some(Setting {
                flag,
                env: a.get_env().map(|e| e.to_string_lossy().into_owned()),
                // An empty default (`--outbound-allow ""`) is "unset" to a reader.
                default: Some(defaults.join(",")).filter(|d| !d.is_empty()),
                meaning,
            })
        })
        .collect()
}

/// `herald config example`: every setting as a commented environment file, ready to copy into
/// a systemd `EnvironmentFile` or a `.env`.
pub fn example() -> String {
    let mut out = String::from(
        "# Herald configuration: every setting with its default. Each can be set as the\n\
         # environment variable shown or as its flag (the flag wins). Uncomment to change.\n\
         # Durations are whole seconds unless the name says otherwise.\n",
    );
    for s in settings() {
        out.push('\n');
        let unset = if s.default.is_none() {
            " (unset by default)"
        } else {
            ""
        };
        for line in wrap(&format!("{}: {}{unset}", s.flag, s.meaning), 96) {
            out.push_str("# ");
            out.push_str(&line);
            out.push('\n');
        }
        let name = s.env.as_deref().unwrap_or("(flag only)");
        out.push_str(&format!(
            "#{name}={}\n",
            s.default.as_deref().unwrap_or_default()
        ));
    }
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("at least one line");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_an_environment_variable_and_a_meaning() {
        let all = settings();
        assert!(all.iter().any(|s| s.flag == "--bind"
            && s.env.as_deref() == Some("HERALD_BIND")
            && s.default.as_deref() == Some("0.0.0.0:3000")));
        for s in &all {
            assert!(
                s.env.as_deref().is_some_and(|e| e.starts_with("HERALD_")),
                "{s:?}"
            );
            assert!(!s.meaning.is_empty(), "{s:?}");
        }
        let example = example();
        for s in &all {
            assert!(
                example.contains(&format!("#{}=", s.env.as_deref().unwrap_or_default())),
                "{s:?}"
            );
        }
    }

    #[test]
    fn subcommand_options_are_not_settings() {
        let flags: Vec<String> = settings().into_iter().map(|s| s.flag).collect();
        for not_a_setting in ["--to", "--environment", "--new-key", "--help", "--version"] {
            assert!(!flags.iter().any(|f| f == not_a_setting), "{not_a_setting}");
        }
    }
}
