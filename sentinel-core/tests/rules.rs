//! Every rule of the built-in pack proves itself: each example fires it, each negative example
//! does not. Rules without text examples must be policy rules their detector emits.

use mcp_threatscan::{Engine, Example, Field};

#[test]
fn every_example_fires_and_every_negative_example_does_not() {
    let engine = Engine::new().unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for rule in engine.rules() {
        let spec = rule.spec();
        let field = spec.example_field();
        for example in &spec.examples {
            checked += 1;
            let verdict = engine.scan(&example.to_event(field));
            if !verdict.has_rule(rule.id()) {
                failures.push(format!("{}: example did not fire: {:?}", rule.id(), example));
            }
        }
        for example in &spec.negative_examples {
            checked += 1;
            let verdict = engine.scan(&example.to_event(field));
            if verdict.has_rule(rule.id()) {
                failures.push(format!("{}: negative example fired: {:?}", rule.id(), example));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} rule examples failed:\n{}", failures.len(), failures.join("\n"));
    assert!(checked > 20, "only {checked} examples checked");
}

#[test]
fn every_pattern_rule_has_examples_and_negative_examples() {
    let engine = Engine::new().unwrap();
    for rule in engine.rules() {
        let spec = rule.spec();
        if spec.pattern.is_some() || !spec.keywords.is_empty() || !spec.cues.is_empty() {
            assert!(!spec.examples.is_empty(), "{} has no examples", rule.id());
            assert!(!spec.negative_examples.is_empty(), "{} has no negative examples", rule.id());
        }
    }
}

#[test]
fn rule_ids_are_unique_and_examples_are_well_formed() {
    let engine = Engine::new().unwrap();
    let mut seen = std::collections::HashSet::new();
    for rule in engine.rules() {
        assert!(seen.insert(rule.id().to_string()), "duplicate {}", rule.id());
        assert!(!rule.spec().description.is_empty(), "{} has no description", rule.id());
        for e in rule.spec().examples.iter().chain(&rule.spec().negative_examples) {
            if let Example::Text(t) = e {
                assert!(!t.is_empty(), "{} has an empty example", rule.id());
            }
        }
    }
}

/// A keyword-gated rule is verified in windows around its keyword hits; once a window reaches
/// the end of the text, later hits are not searched again. A match anywhere must still be
/// found, with many hits before and after it, in short and long texts.
#[test]
fn gated_rules_find_matches_among_many_keyword_hits() {
    let engine = Engine::new().unwrap();
    let prose = "the plan is on track or close to it and the team works on the next release ";
    for (before, after) in [(0, 30), (30, 0), (15, 15), (200, 200)] {
        let prompt = format!("{}id=1' or 1=1 -- {}", prose.repeat(before), prose.repeat(after));
        let event = mcp_threatscan::Event { tool: "db".into(), prompt, ..Default::default() };
        let verdict = engine.scan(&event);
        assert!(verdict.has_rule("SQL-002"), "({before}, {after}): {:?}", verdict.findings);
    }
    let clean = mcp_threatscan::Event { tool: "db".into(), prompt: prose.repeat(100), ..Default::default() };
    let verdict = engine.scan(&clean);
    assert!(verdict.findings.iter().all(|f| &*f.rule == "SZ-001"), "only the size limit: {:?}", verdict.findings);
}

/// In a long text, a keyword-gated rule's regex does not scan its windows: it runs anchored at
/// the places its matches can begin (derived from the regex), or on a tail of the pattern
/// that follows a short head. With each example in the middle of a long prompt, on a line of
/// its own, after decoys (its first word and the rule's keywords: hits where no match begins),
/// the engine must fire the rule exactly when the naive reference of the property tests
/// (every rule on its own, with the `regex` crate) does.
#[test]
fn embedded_examples_fire_as_the_reference_says() {
    let engine = crate::props::engine();
    let reference = crate::props::reference();
    let prose = "The quarterly report is ready: revenue grew, churn fell, and the team shipped the \
                 export feature. Notes, keys to the office and the token budget are in the shared doc. \
                 Please act on the review comments, then ignore the old draft.\n";
    let (mut failures, mut checked, mut fired) = (Vec::new(), 0, 0);
    for rule in engine.rules() {
        let spec = rule.spec();
        if spec.keywords.is_empty() || spec.pattern.is_none() || !rule.enabled() {
            continue;
        }
        for example in &spec.examples {
            let Example::Text(text) = example else { continue };
            let first = text.split_whitespace().next().unwrap_or_default();
            let decoys = format!("{first} {} ", spec.keywords.join(" ")).repeat(2);
            for (before, after) in [(1, 0), (3, 3)] {
                let prompt = format!("{}{decoys}\n{text}\n{}", prose.repeat(before), prose.repeat(after));
                let event =
                    mcp_threatscan::Event { tool: "notes".into(), prompt: prompt.clone(), ..Default::default() };
                let got =
                    engine.scan(&event).findings.iter().any(|f| *f.rule == *rule.id() && f.field == Field::Prompt);
                let expected = reference.fired(&prompt).contains(rule.id());
                checked += 1;
                fired += usize::from(expected);
                if got != expected {
                    failures.push(format!(
                        "{} ({before}, {after}): engine {got}, reference {expected}: {text:?}",
                        rule.id()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} embedded examples disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(fired > 1000, "the reference fires on only {fired} of {checked} embedded examples");
}

/// Rule names are the reasons users see, and the proxy's block messages quote them: a block
/// message that passes through another Sentinel (a sampling result, a log shown to a model)
/// must not be blocked itself.
#[test]
fn rule_names_do_not_trigger_rules() {
    let engine = Engine::new().unwrap();
    for rule in engine.rules() {
        let name = &rule.spec().name;
        for field in ["prompt", "response"] {
            let mut event = mcp_threatscan::Event { tool: "notes".into(), ..Default::default() };
            *(if field == "prompt" { &mut event.prompt } else { &mut event.response }) = name.clone();
            let verdict = engine.scan(&event);
            assert_eq!(
                verdict.action,
                mcp_threatscan::Action::Allow,
                "{} {name:?} in {field}: {:?}",
                rule.id(),
                verdict.findings
            );
        }
    }
}

/// The extended packs (`sentinel-core/rules/extended/*.toml`, loaded with `--rules` or
/// `EngineBuilder::rules_file`, not built in) prove themselves as the built-in rules do: each
/// builds on top of the built-in pack (ids do not clash), every example fires its rule, no
/// negative example does, and every pattern rule has both.
#[test]
fn extended_packs_prove_themselves() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/extended");
    let mut packs: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    packs.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    packs.sort();
    assert!(packs.len() >= 4, "{packs:?}");
    for pack in packs {
        let text = std::fs::read_to_string(&pack).unwrap();
        let name = pack.file_name().unwrap().to_string_lossy().to_string();
        let engine = Engine::builder().rules_toml(&name, &text).build().unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut failures = Vec::new();
        let mut checked = 0;
        for rule in engine.rules().filter(|r| r.source() == name) {
            let spec = rule.spec();
            assert!(!spec.examples.is_empty() && !spec.negative_examples.is_empty(), "{name}: {}", rule.id());
            let field = spec.example_field();
            for (example, should) in
                spec.examples.iter().map(|e| (e, true)).chain(spec.negative_examples.iter().map(|e| (e, false)))
            {
                checked += 1;
                if engine.scan(&example.to_event(field)).has_rule(rule.id()) != should {
                    failures.push(format!("{}: {} {example:?}", rule.id(), if should { "missed" } else { "fired on" }));
                }
            }
        }
        assert!(checked > 20, "{name}: only {checked} examples");
        assert!(failures.is_empty(), "{name}: {} of {checked} failed:\n{}", failures.len(), failures.join("\n"));
    }
}

/// A finding's reason (its rule's name) is what a host quotes when it refuses a call or a
/// result; a refusal that quotes it must not be flagged in turn by the next scanner along (a
/// proxy in front of a guarded server). So no rule's name, alone or followed by another's (a
/// refusal listing two findings), is flagged as a prompt or as a tool result.
#[test]
fn no_rule_name_is_itself_flagged() {
    let engine = Engine::new().unwrap();
    let names: Vec<&str> = engine.rules().map(|r| r.spec().name.as_str()).collect();
    let mut texts: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    for a in &names {
        texts.extend(names.iter().map(|b| format!("refused: {a}; {b}")));
    }
    // Rules that still fire on some pairs of names (a precision gap of their families, to fix
    // in the rule, not here): JB-014 on a "jailbreak …" name after another, EX-002, RP-006,
    // PT-001 and PT-002 on phrases such as "system prompt" or "redirect" joined across names.
    // Any other rule firing fails the test.
    // JB-325: a name beside KW-002's `"ignore instructions"`, which quotes the attack words.
    const KNOWN: &[&str] = &["JB-014", "EX-002", "RP-006", "PT-001", "PT-002", "KW-002", "JB-325"];
    let mut scratch = engine.create_scratch();
    let mut flagged = Vec::new();
    for text in &texts {
        for (prompt, response) in [(text.as_str(), ""), ("", text.as_str())] {
            let event = mcp_threatscan::Event {
                tool: "guard".into(),
                prompt: prompt.into(),
                response: response.into(),
                ..mcp_threatscan::Event::default()
            };
            let verdict = engine.scan_with(&mut scratch, &event);
            let pair = text.starts_with("refused: ");
            let known = |f: &mcp_threatscan::Finding| pair && KNOWN.contains(&&*f.rule);
            if verdict.action != mcp_threatscan::Action::Allow && !verdict.findings.iter().all(known) {
                flagged.push(format!("{text:?} -> {:?}", verdict.findings.iter().map(|f| &f.rule).collect::<Vec<_>>()));
            }
        }
    }
    assert!(flagged.is_empty(), "{} of {} flagged:\n{}", flagged.len(), texts.len() * 2, flagged.join("\n"));
}
