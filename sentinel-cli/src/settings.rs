//! From flags and files to an engine: the configuration file, the flag overrides, the packs.

use crate::args::EngineArgs;
use mcp_threatscan::{Config, Engine, Severity};
use std::fmt;
use std::path::Path;

/// Why the engine could not be set up; every variant is a usage error (exit code 2).
#[derive(Debug)]
pub(crate) enum SetupError {
    /// The configuration file could not be read.
    ReadConfig { path: String, message: String },
    /// The configuration file is not a valid configuration, or a rule pack or the
    /// configuration was rejected by the engine.
    Build(mcp_threatscan::BuildError),
    /// An environment variable (or a flag read like one) has a value that does not parse.
    Env { name: String, value: String, message: String },
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::ReadConfig { path, message } => write!(f, "cannot read the configuration {path}: {message}"),
            SetupError::Build(e) => write!(f, "{e}"),
            SetupError::Env { name, value, message } => write!(f, "{name}={value:?}: {message}"),
        }
    }
}

/// Parses a configuration file's text; errors name the file, line and column.
pub(crate) fn parse_config(path: &str, text: &str) -> Result<Config, SetupError> {
    Config::from_toml(path, text).map_err(SetupError::Build)
}

/// The configuration: the file's (or the default), then the flags over it.
pub(crate) fn config(args: &EngineArgs) -> Result<Config, SetupError> {
    let mut config = match &args.config {
        Some(path) => {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| SetupError::ReadConfig { path: shown.clone(), message: e.to_string() })?;
            parse_config(&shown, &text)?
        }
        None => Config::default(),
    };
    if let Some(profile) = args.profile {
        config.profile = profile;
    }
    for (severity, action) in [
        (Severity::Critical, args.on_critical),
        (Severity::High, args.on_high),
        (Severity::Medium, args.on_medium),
        (Severity::Low, args.on_low),
    ] {
        if let Some(action) = action {
            config.actions.set(severity, action);
        }
    }
    if let Some(mode) = args.fail_mode {
        config.fail_mode = mode;
    }
    if let Some(n) = args.max_scan_bytes {
        config.limits.max_scan_bytes = n;
    }
    Ok(config)
}

/// Builds the engine: the configuration, the built-in pack and the user packs.
pub(crate) fn engine(args: &EngineArgs) -> Result<Engine, SetupError> {
    let mut builder = Engine::builder().config(config(args)?);
    for pack in &args.rules {
        builder = builder.rules_file(Path::new(pack));
    }
    builder.build().map_err(SetupError::Build)
}

/// Builds the engine, or reports why not on standard error (the caller exits with 2).
pub(crate) fn engine_or_report(args: &EngineArgs) -> Option<Engine> {
    engine(args).map_err(|e| crate::report(format_args!("{e}"))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_threatscan::{Action, FailMode};

    #[test]
    fn config_errors_name_file_line_and_column() {
        let err = parse_config("my.toml", "fail_mode = \"fail_open\"\n\n[limits]\nmax_scan_bytez = 3\n").unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with("my.toml: line 4, column 1: unknown field `max_scan_bytez`"), "{shown}");
        let err = parse_config("my.toml", "[actions]\ncritical = \"explode\"\n").unwrap_err();
        assert!(err.to_string().starts_with("my.toml: line 2, column 12: "), "{err}");
    }

    #[test]
    fn config_file_fields_are_read() {
        let config = parse_config("c.toml", "fail_mode = \"fail_open\"\n[actions]\nhigh = \"warn\"\n").unwrap();
        assert_eq!(config.fail_mode, FailMode::Open);
        assert_eq!(config.actions.high, Action::Warn);
    }
}
