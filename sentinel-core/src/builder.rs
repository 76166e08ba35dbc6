//! Building an engine: the configuration, the detectors (built-in, then the embedder's), the
//! packs (parsed, then merged), the plan of each rule, and the tables the engine shares.

use crate::compiled::{DetectorEntry, Inner};
use crate::config::Config;
use crate::detector;
use crate::error::{BuildError, Kind};
use crate::packs::{self, BUILTIN_PACKS, POLICY_PACK};
use crate::plan;
use crate::rule::{Pack, SourcedRule};
use crate::stored_plan;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use wildmatch::WildMatch;

/// Tells engines apart, so that a scratch made by one is not used by another.
static NEXT_ENGINE_ID: AtomicU64 = AtomicU64::new(1);

/// Builds an [`Engine`]: configuration, rule packs and extra detectors.
pub struct EngineBuilder {
    pub(crate) config: Config,
    pub(crate) builtin: bool,
    pub(crate) packs: Vec<(String, PackSource)>,
    pub(crate) detectors: Vec<Box<dyn crate::Detector>>,
}

pub(crate) enum PackSource {
    Text(String),
    File(PathBuf),
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder { config: Config::default(), builtin: true, packs: Vec::new(), detectors: Vec::new() }
    }
}

impl EngineBuilder {
    /// Sets the configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Adds a rule pack given as TOML text; `source` names it in errors.
    pub fn rules_toml(mut self, source: &str, toml: &str) -> Self {
        self.packs.push((source.to_string(), PackSource::Text(toml.to_string())));
        self
    }

    /// Adds a rule pack read from a TOML file when the engine is built.
    pub fn rules_file(mut self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        self.packs.push((path.display().to_string(), PackSource::File(path)));
        self
    }

    /// Leaves the built-in content packs out. The rules of the built-in detectors (scan
    /// integrity, tool policy, size limits) stay: their detectors are always there.
    pub fn without_builtin_rules(mut self) -> Self {
        self.builtin = false;
        self
    }

    /// Registers a detector of the embedder's.
    pub fn detector(mut self, detector: impl crate::Detector + 'static) -> Self {
        self.detectors.push(Box::new(detector));
        self
    }

    /// Compiles the configuration, detectors and packs into the engine's tables. Any error
    /// rejects the whole build.
    pub(crate) fn compile(self) -> Result<Inner, BuildError> {
        let EngineBuilder { config, builtin, packs, detectors: custom } = self;
        let (detectors, detector_index) = detectors(&config, custom)?;
        let (parsed, trusted) = parse_packs(builtin, &detectors, packs)?;
        let merged = packs::merge(&parsed, &detectors)?;
        let stored = if builtin { stored_plan::stored() } else { None };
        let (rules, matchers) = plan::plan(merged, &detectors, &detector_index, trusted, stored, &mut BTreeMap::new())?;
        let rule_index: HashMap<Arc<str>, u32> =
            rules.iter().enumerate().map(|(i, r)| (r.id.clone(), i as u32)).collect();
        let checkers = |hook: fn(&DetectorEntry) -> bool| {
            detectors.iter().enumerate().filter(|(_, d)| d.enabled && hook(d)).map(|(i, _)| i).collect()
        };
        let text_checkers = checkers(|d| d.hooks.check_text);
        let tool_checkers = checkers(|d| d.hooks.check_tool);
        let documents = config.tools.documents.iter().map(|g| WildMatch::new_case_insensitive(g)).collect();
        Ok(Inner {
            id: NEXT_ENGINE_ID.fetch_add(1, Ordering::Relaxed),
            config,
            unreadable_rule: rule_index[detector::RULE_UNREADABLE],
            truncated_rule: rule_index[detector::RULE_TRUNCATED],
            duplicate_rule: rule_index[detector::RULE_DUPLICATE_KEY],
            not_listed_rule: rule_index[detector::RULE_FINDINGS_NOT_LISTED],
            evasion_rules: detector::UNICODE_RULES.map(|id| rule_index[id]),
            rules,
            rule_index,
            detectors,
            matchers,
            documents,
            text_checkers,
            tool_checkers,
        })
    }
}

/// The detectors, built-in then the embedder's, with the configuration's settings applied,
/// and their index by code.
#[allow(clippy::type_complexity)]
fn detectors(
    config: &Config,
    custom: Vec<Box<dyn crate::Detector>>,
) -> Result<(Vec<DetectorEntry>, HashMap<String, usize>), BuildError> {
    let mut imps = detector::builtins(config);
    imps.extend(custom);
    let mut detectors = Vec::with_capacity(imps.len());
    let mut detector_index: HashMap<String, usize> = HashMap::new();
    for imp in imps {
        let info = imp.info();
        if detector_index.insert(info.code.clone(), detectors.len()).is_some() {
            return Err(BuildError::config(format!("two detectors have the code {:?}", info.code)));
        }
        let settings = config.detectors.get(&info.code).copied().unwrap_or_default();
        if info.code == detector::SCAN_INTEGRITY && settings.enabled == Some(false) {
            return Err(BuildError::config(
                "detector SYS-00 cannot be disabled: it reports input that was not scanned (choose fail_open instead)",
            ));
        }
        let enabled = settings.enabled.unwrap_or(info.profile <= config.profile);
        detectors.push(DetectorEntry {
            code: Arc::from(info.code.as_str()),
            name: Arc::from(info.name.as_str()),
            info,
            hooks: imp.hooks(),
            imp,
            enabled,
            floor: settings.severity_floor,
            cap: settings.severity_cap,
        });
    }
    for code in config.detectors.keys() {
        if !detector_index.contains_key(code) {
            return Err(BuildError::config(format!("the configuration names an unknown detector {code:?}")));
        }
    }
    for (code, settings) in &config.detectors {
        if let (Some(floor), Some(cap)) = (settings.severity_floor, settings.severity_cap) {
            if floor > cap {
                return Err(BuildError::config(format!(
                    "detector {code}: severity_floor ({floor}) is above severity_cap ({cap})"
                )));
            }
        }
    }

    Ok((detectors, detector_index))
}

/// The packs, parsed, in order: the built-in detectors' own, the content packs (unless left
/// out), detector-contributed rules, user packs. And how many rules come from the packs
/// compiled into the crate, which come first: their matchers are compiled on first use (see
/// `Deferred`).
fn parse_packs(
    builtin: bool,
    detectors: &[DetectorEntry],
    packs: Vec<(String, PackSource)>,
) -> Result<(Vec<Pack>, usize), BuildError> {
    let mut parsed = vec![Pack::parse(POLICY_PACK.0, POLICY_PACK.1)?];
    if builtin {
        for (name, text) in BUILTIN_PACKS {
            parsed.push(Pack::parse(name, text)?);
        }
    }
    for entry in detectors {
        let rules = entry.imp.rules();
        if !rules.is_empty() {
            let source = format!("detector:{}", entry.info.code);
            parsed.push(Pack {
                source: source.clone(),
                rules: rules.into_iter().map(|spec| SourcedRule { spec, source: source.clone(), line: None }).collect(),
                ..Pack::default()
            });
        }
    }
    for (source, pack) in packs {
        let text = match pack {
            PackSource::Text(t) => t,
            PackSource::File(path) => std::fs::read_to_string(&path).map_err(|e| {
                BuildError::new(Kind::Toml {
                    source: source.clone(),
                    position: None,
                    message: format!("cannot read rule pack: {e}"),
                })
            })?,
        };
        parsed.push(Pack::parse(&source, &text)?);
    }

    let trusted = parsed.iter().take(1 + if builtin { BUILTIN_PACKS.len() } else { 0 }).map(|p| p.rules.len()).sum();
    Ok((parsed, trusted))
}

/// The gates of the built-in packs' rules planned afresh, every detector enabled (for the test
/// that holds the stored plan to them).
#[cfg(test)]
pub(crate) fn fresh_builtin_plan() -> BTreeMap<String, crate::gate::GatePlan> {
    let config = Config { profile: crate::Profile::All, ..Config::default() };
    let (detectors, index) = detectors(&config, Vec::new()).expect("the built-in detectors");
    let (parsed, trusted) = parse_packs(true, &detectors, Vec::new()).expect("the built-in packs parse");
    let merged = packs::merge(&parsed, &detectors).expect("the built-in packs merge");
    let mut fresh = BTreeMap::new();
    plan::plan(merged, &detectors, &index, trusted, None, &mut fresh).expect("the built-in packs plan");
    fresh
}
