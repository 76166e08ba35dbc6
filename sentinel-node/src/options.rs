//! `EngineOptions`: the core's `Config` keys in camelCase, plus the rule packs.

use crate::errors::{config_error, Thrown};
use crate::input::{json_text, Json, Shape};
use mcp_threatscan::{Config, EngineBuilder};
use napi::bindgen_prelude::*;
use napi::ValueType;
use napi_derive::napi;
use serde_json::Value;

/// A rule pack: TOML text (`toml`, with the `name` errors cite) or a file (`path`). The key
/// says which, never the content.
// A TypeScript declaration only (index.d.ts): the value crosses as JSON or is read by key.
#[allow(dead_code)]
#[napi(object, object_to_js = false, object_from_js = false)]
pub struct RulePack {
    /// The pack's TOML text.
    pub toml: Option<String>,
    /// The name errors cite for `toml` (default `rules[i]`).
    pub name: Option<String>,
    /// A TOML rule pack file.
    pub path: Option<String>,
}

/// How to build an engine. Every key is optional; the defaults are the core's.
// A TypeScript declaration only (index.d.ts): the value crosses as JSON or is read by key.
#[allow(dead_code)]
#[napi(object, object_to_js = false, object_from_js = false)]
pub struct EngineOptions {
    /// Which detectors are on: `security` (the default) or `all`.
    #[napi(ts_type = "'security' | 'all'")]
    pub profile: Option<String>,
    /// Rule packs applied after the built-in ones, in order.
    #[napi(ts_type = "RulePack | RulePack[]")]
    pub rules: Option<Vec<RulePack>>,
    /// Include the built-in rules (default `true`).
    pub builtin_rules: Option<bool>,
    /// Severity to action (`{ medium: 'block' }`); unnamed severities keep the default
    /// (critical and high block, medium warns, low allows).
    #[napi(ts_type = "Partial<Record<'low' | 'medium' | 'high' | 'critical', 'allow' | 'warn' | 'block'>>")]
    pub actions: Option<Object<'static>>,
    /// What an unreadable event or message gets: `fail_closed` (blocked) or `fail_open`.
    #[napi(ts_type = "'fail_closed' | 'fail_open'")]
    pub fail_mode: Option<String>,
    /// Bytes of each string scanned at most.
    pub max_scan_bytes: Option<u32>,
    /// Prompt length above which SZ-001 fires.
    pub max_prompt_chars: Option<u32>,
    /// Response length above which SZ-002 fires.
    pub max_response_chars: Option<u32>,
    /// MIME types (or prefixes) of MCP resource contents that are scanned.
    pub scan_mimes: Option<Vec<String>>,
    /// How deep MCP message JSON is walked.
    pub max_json_depth: Option<u32>,
    /// Tool policy: `{ allow, deny, dangerous }`, lists of globs.
    #[napi(ts_type = "{ allow?: string[]; deny?: string[]; dangerous?: string[] }")]
    pub tools: Option<Object<'static>>,
    /// Per-detector settings: `{ 'SEC-01': { enabled: false, severity_floor: 'high' } }`.
    #[napi(ts_type = "Record<string, { enabled?: boolean; severity_floor?: string; severity_cap?: string }>")]
    pub detectors: Option<Object<'static>>,
}

/// The JavaScript name of a core option (`max_scan_bytes` → `maxScanBytes`).
fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A builder from the options argument (`undefined`, `null` or an object).
pub(crate) fn builder(env: &Env, options: Option<Unknown<'_>>) -> std::result::Result<EngineBuilder, Thrown> {
    let Some(options) = options else { return Ok(mcp_threatscan::Engine::builder()) };
    match options.get_type() {
        Ok(ValueType::Undefined | ValueType::Null) => return Ok(mcp_threatscan::Engine::builder()),
        Ok(ValueType::Object) if !options.is_array().unwrap_or(true) => {}
        _ => return Err(Thrown::invalid("options", "an object")),
    }
    let value = match json_text(env, options, "options", Shape::Object)? {
        Json::Text(text) => serde_json::from_slice::<Value>(&text)
            .map_err(|e| Thrown::invalid("options", &format!("JSON data ({e})")))?,
        Json::Unserialisable(reason) => return Err(Thrown::invalid("options", &format!("JSON data ({reason})"))),
    };
    let Value::Object(map) = value else { return Err(Thrown::invalid("options", "an object")) };
    let mut config = Config::default();
    let mut builder = mcp_threatscan::Engine::builder();
    let mut packs = Vec::new();
    for (key, value) in &map {
        match key.as_str() {
            "rules" => packs = rule_packs(value)?,
            "builtinRules" => match value {
                Value::Bool(true) => {}
                Value::Bool(false) => builder = builder.without_builtin_rules(),
                _ => return Err(Thrown::invalid("options.builtinRules", "a boolean")),
            },
            _ => {
                let Some(name) = Config::OPTIONS.iter().find(|o| camel(o) == *key) else {
                    let known: Vec<String> = Config::OPTIONS.iter().map(|o| camel(o)).collect();
                    return Err(config_error(
                        key,
                        format!("no such option (the options are rules, builtinRules, {})", known.join(", ")),
                    ));
                };
                config.set_option(name, value).map_err(|e| {
                    // The core names its option (`max_scan_bytes: …`); say the key the caller wrote.
                    let message = e.to_string();
                    let detail = message.strip_prefix(&format!("{name}: ")).unwrap_or(&message);
                    config_error(key, detail.to_string())
                })?;
            }
        }
    }
    builder = builder.config(config);
    for (i, pack) in packs.into_iter().enumerate() {
        builder = match pack {
            Pack::Toml { name, toml } => builder.rules_toml(&name.unwrap_or_else(|| format!("rules[{i}]")), &toml),
            Pack::Path(path) => builder.rules_file(path),
        };
    }
    Ok(builder)
}

enum Pack {
    Toml { name: Option<String>, toml: String },
    Path(String),
}

fn rule_packs(value: &Value) -> std::result::Result<Vec<Pack>, Thrown> {
    let one = |i: Option<usize>, v: &Value| -> std::result::Result<Pack, Thrown> {
        let what = match i {
            Some(i) => format!("options.rules[{i}]"),
            None => "options.rules".to_string(),
        };
        let invalid = || Thrown::invalid(&what, "{ toml: string, name?: string } or { path: string }");
        let Value::Object(m) = v else { return Err(invalid()) };
        let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
        match (m.get("toml"), m.get("path")) {
            (Some(Value::String(toml)), None) => {
                if m.get("name").is_some_and(|n| !n.is_string()) || m.len() > 1 + usize::from(m.contains_key("name")) {
                    return Err(invalid());
                }
                Ok(Pack::Toml { name: text("name"), toml: toml.clone() })
            }
            (None, Some(Value::String(path))) if m.len() == 1 => Ok(Pack::Path(path.clone())),
            _ => Err(invalid()),
        }
    };
    match value {
        Value::Array(items) => items.iter().enumerate().map(|(i, v)| one(Some(i), v)).collect(),
        Value::Null => Ok(Vec::new()),
        other => Ok(vec![one(None, other)?]),
    }
}
